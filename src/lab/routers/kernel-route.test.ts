import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseKernelRoute } from './kernel-route.ts';

const fixture = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

describe('parseKernelRoute (ip -j route show PREFIX)', () => {
  it('ECMP from BIRD (merge paths): .nexthops[]', () => {
    assert.deepEqual(parseKernelRoute(fixture('ip-route-ecmp4.json'), '10.0.0.5/32'), {
      prefix: '10.0.0.5/32',
      nexthops: [
        { gateway: '10.99.0.11', dev: 'eth0', weight: 1 },
        { gateway: '10.99.0.12', dev: 'eth0', weight: 1 },
      ],
      protocol: 'bird',
      metric: 32,
      type: 'unicast',
    });
    assert.equal(parseKernelRoute(fixture('ip-route-ecmp6.json'), 'fd00::5/128')!.nexthops.length, 2);
  });

  it('IPv6 ECMP from FRR: one global and one link-local gateway (BIRD sends both, zebra uses the link-local)', () => {
    const r = parseKernelRoute(fixture('ip-route-frr6.json'), 'fd00::5/128')!;
    assert.equal(r.protocol, 'bgp');
    assert.deepEqual(r.nexthops.map((n) => n.gateway).sort(), ['fd99::12', 'fe80::49:4cff:fe00:200']);
  });

  it('a single path; a dev-only route; several entries of one metric are merged; none', () => {
    const single = parseKernelRoute('[{"dst":"10.0.0.5","gateway":"10.99.0.11","dev":"eth0","protocol":"bgp","metric":20,"flags":[]}]', '10.0.0.5/32');
    assert.deepEqual(single?.nexthops, [{ gateway: '10.99.0.11', dev: 'eth0', weight: 1 }]);
    assert.deepEqual(parseKernelRoute('[{"dst":"10.0.0.0/24","dev":"eth0","protocol":"kernel","scope":"link"}]', '10.0.0.0/24')?.nexthops, [{ dev: 'eth0', weight: 1 }]);
    const split = parseKernelRoute('[{"dst":"fd00::5","gateway":"fd99::11","dev":"eth0","metric":20},{"dst":"fd00::5","gateway":"fd99::12","dev":"eth0","metric":20}]', 'fd00::5/128');
    assert.deepEqual(split?.nexthops.map((n) => n.gateway), ['fd99::11', 'fd99::12']);
    assert.equal(parseKernelRoute('[]', '10.0.0.5/32'), undefined);
    assert.equal(parseKernelRoute('', '10.0.0.5/32'), undefined);
    assert.equal(parseKernelRoute('[{"type":"blackhole","dst":"10.0.0.5","metric":20}]', '10.0.0.5/32')?.type, 'blackhole');
  });
});
