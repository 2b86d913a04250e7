import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Pool } from '../config/model.ts';
import { formatIP } from '../net/address.ts';
import { Allocator, type AllocationRequest } from './allocator.ts';
import { ip, matchLabels, pool, req, show } from './fixtures.test-support.ts';

// ---- a small table DSL: each step runs against the allocator and yields text to compare ----------

interface Step {
  readonly label: string;
  run(a: Allocator): string;
}

const alloc = (r: AllocationRequest): Step => ({ label: `allocate ${r.key}`, run: (a) => show(a.allocate(r)) });
const assign = (r: AllocationRequest, ...ips: string[]): Step => ({
  label: `assign ${r.key} ${ips.join(',')}`,
  run: (a) => show(a.assign(r, ips.map(ip))),
});
const release = (key: string): Step => ({
  label: `release ${key}`,
  run: (a) => {
    a.release(key);
    return 'released';
  },
});
const valid = (r: AllocationRequest): Step => ({
  label: `isStillValid ${r.key}`,
  run: (a) => {
    const v = a.isStillValid(r);
    const why = a.validityProblem(r);
    assert.equal(v, why === undefined, 'isStillValid agrees with validityProblem');
    return v ? 'valid' : `invalid: ${why}`;
  },
});
const holds = (key: string): Step => ({
  label: `assignmentOf ${key}`,
  run: (a) => {
    const x = a.assignmentOf(key);
    return x === undefined ? 'none' : `${x.ips.map(formatIP).join(',')} @${x.pool}`;
  },
});
const setPools = (...pools: Pool[]): Step => ({
  label: `setPools ${pools.map((p) => p.name).join(',')}`,
  run: (a) => {
    a.setPools(pools);
    return 'set';
  },
});
const stats = (name: string): Step => ({
  label: `poolStats ${name}`,
  run: (a) => {
    const s = a.poolStats(name);
    return `v4 ${s.assignedIPv4} used ${s.availableIPv4} free; v6 ${s.assignedIPv6} used ${s.availableIPv6} free`;
  },
});
const poolOf = (address: string): Step => ({
  label: `poolOfIP ${address}`,
  run: (a) => a.poolOfIP(ip(address)) ?? 'none',
});

interface Case {
  readonly name: string;
  readonly pools: readonly Pool[];
  readonly steps: readonly (readonly [Step, string | RegExp])[];
}

function runCases(cases: readonly Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const a = new Allocator();
      a.setPools(c.pools);
      c.steps.forEach(([step, expected], i) => {
        const got = step.run(a);
        const msg = `step ${i + 1}: ${step.label}`;
        if (expected instanceof RegExp) assert.match(got, expected, msg);
        else assert.equal(got, expected, msg);
      });
    });
  }
}

const v4 = (name: string, cidr = '10.0.0.0/29', opts: Parameters<typeof pool>[2] = {}) => pool(name, [cidr], opts);

// ---- the rules ---------------------------------------------------------------------------------

describe('order of pools', () => {
  runCases([
    {
      name: 'lowest address of the only pool, one after another',
      pools: [v4('default', '10.0.0.0/30')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @default'],
        [alloc(req('ns/b')), '10.0.0.1 @default'],
        [alloc(req('ns/c')), '10.0.0.2 @default'],
      ],
    },
    {
      name: 'autoAssign pools without serviceAllocation are tried by name',
      pools: [v4('zeta', '10.0.1.0/30'), v4('alpha', '10.0.2.0/31')],
      steps: [
        [alloc(req('ns/a')), '10.0.2.0 @alpha'],
        [alloc(req('ns/b')), '10.0.2.1 @alpha'],
        [alloc(req('ns/c')), '10.0.1.0 @zeta'],
      ],
    },
    {
      name: 'a pool whose serviceAllocation matches comes before general pools',
      pools: [v4('aaa-general', '10.0.1.0/30'), v4('team', '10.0.2.0/30', { serviceAllocation: { namespaces: ['team'] } })],
      steps: [
        [alloc(req('team/a')), '10.0.2.0 @team'],
        [alloc(req('other/b')), '10.0.1.0 @aaa-general'],
      ],
    },
    {
      name: 'pinned pools by priority (lower first), unset priority last, ties by name',
      pools: [
        v4('p-unset', '10.0.1.0/32', { serviceAllocation: { namespaces: ['ns'] } }),
        v4('p20', '10.0.2.0/32', { serviceAllocation: { namespaces: ['ns'], priority: 20 } }),
        v4('p10-b', '10.0.3.0/32', { serviceAllocation: { namespaces: ['ns'], priority: 10 } }),
        v4('p10-a', '10.0.4.0/32', { serviceAllocation: { namespaces: ['ns'], priority: 10 } }),
        v4('general', '10.0.5.0/32'),
      ],
      steps: [
        [alloc(req('ns/a')), '10.0.4.0 @p10-a'],
        [alloc(req('ns/b')), '10.0.3.0 @p10-b'],
        [alloc(req('ns/c')), '10.0.2.0 @p20'],
        [alloc(req('ns/d')), '10.0.1.0 @p-unset'],
        [alloc(req('ns/e')), '10.0.5.0 @general'],
        [alloc(req('ns/f')), /^✗ no free IPv4 address in any pool that serves this service: pool "p10-a" \(1 of 1 in use\)/],
      ],
    },
    {
      name: 'a pool with serviceAllocation never serves services it does not match',
      pools: [v4('team', '10.0.2.0/30', { serviceAllocation: { namespaces: ['team'] } })],
      steps: [
        [alloc(req('other/a')), '✗ no address pool serves this service: pool "team": its serviceAllocation does not include namespace "other"'],
      ],
    },
    {
      name: 'autoAssign=false pools serve only explicit requests',
      pools: [v4('manual', '10.0.0.0/30', { autoAssign: false })],
      steps: [
        [alloc(req('ns/a')), /^✗ no address pool serves this service: pool "manual" has autoAssign disabled/],
        [alloc(req('ns/b', { poolName: 'manual' })), '10.0.0.0 @manual'],
        [alloc(req('ns/c', { requestedIPs: ['10.0.0.3'] })), '10.0.0.3 @manual'],
      ],
    },
    {
      name: 'autoAssign=false pinned pools are skipped too',
      pools: [v4('manual', '10.0.0.0/30', { autoAssign: false, serviceAllocation: { namespaces: ['ns'] } }), v4('general', '10.0.1.0/30')],
      steps: [[alloc(req('ns/a')), '10.0.1.0 @general']],
    },
    {
      name: 'no pools at all',
      pools: [],
      steps: [[alloc(req('ns/a')), '✗ no address pools are configured']],
    },
  ]);
});

describe('serviceAllocation matching', () => {
  const teamPool = (sa: Parameters<typeof pool>[2]) => [v4('team', '10.0.2.0/30', sa), v4('general', '10.0.1.0/30')];
  runCases([
    {
      name: 'namespaceSelectors match the namespace labels',
      pools: teamPool({ serviceAllocation: { namespaceSelectors: [matchLabels({ tier: 'gold' })] } }),
      steps: [
        [alloc(req('x/a', { namespaceLabels: { tier: 'gold' } })), '10.0.2.0 @team'],
        [alloc(req('y/b', { namespaceLabels: { tier: 'bronze' } })), '10.0.1.0 @general'],
      ],
    },
    {
      name: 'namespaces and namespaceSelectors name one set of namespaces (either admits, as in MetalLB)',
      pools: teamPool({ serviceAllocation: { namespaces: ['listed'], namespaceSelectors: [matchLabels({ tier: 'gold' })] } }),
      steps: [
        [alloc(req('listed/a')), '10.0.2.0 @team'],
        [alloc(req('labelled/b', { namespaceLabels: { tier: 'gold' } })), '10.0.2.1 @team'],
        [alloc(req('neither/c')), '10.0.1.0 @general'],
      ],
    },
    {
      name: 'serviceSelectors match the service labels (any one of them)',
      pools: teamPool({ serviceAllocation: { serviceSelectors: [matchLabels({ app: 'web' }), matchLabels({ app: 'api' })] } }),
      steps: [
        [alloc(req('ns/a', { labels: { app: 'api' } })), '10.0.2.0 @team'],
        [alloc(req('ns/b', { labels: { app: 'db' } })), '10.0.1.0 @general'],
      ],
    },
    {
      name: 'namespace and service constraints must both hold',
      pools: teamPool({ serviceAllocation: { namespaces: ['ns'], serviceSelectors: [matchLabels({ app: 'web' })] } }),
      steps: [
        [alloc(req('ns/a', { labels: { app: 'web' } })), '10.0.2.0 @team'],
        [alloc(req('ns/b', { labels: { app: 'db' } })), '10.0.1.0 @general'],
        [alloc(req('other/c', { labels: { app: 'web' } })), '10.0.1.1 @general'],
      ],
    },
    {
      name: 'an empty serviceAllocation (priority only) serves everyone, before general pools',
      pools: teamPool({ serviceAllocation: { priority: 5 } }),
      steps: [[alloc(req('any/a')), '10.0.2.0 @team']],
    },
  ]);
});

describe('avoidBuggyIPs', () => {
  runCases([
    {
      name: 'skips .0 and .255, counts them out of the stats',
      pools: [v4('p', '10.0.0.254-10.0.1.2', { avoidBuggyIPs: true })],
      steps: [
        [stats('p'), 'v4 0 used 3 free; v6 0 used 0 free'],
        [alloc(req('ns/a')), '10.0.0.254 @p'],
        [alloc(req('ns/b')), '10.0.1.1 @p'],
        [alloc(req('ns/c')), '10.0.1.2 @p'],
        [alloc(req('ns/d')), '✗ no free address in pool "p" (3 of 3 in use)'],
      ],
    },
    {
      name: 'a /24 has 254 usable addresses; the full message counts them',
      pools: [v4('default', '10.0.0.0/24', { avoidBuggyIPs: true })],
      steps: [
        ...Array.from({ length: 254 }, (_, i) => [alloc(req(`ns/s${i}`)), `10.0.0.${i + 1} @default`] as const),
        [alloc(req('ns/full')), '✗ no free address in pool "default" (254 of 254 in use)'],
        [stats('default'), 'v4 254 used 0 free; v6 0 used 0 free'],
      ],
    },
    {
      name: 'requesting a .0 or .255 address of such a pool fails',
      pools: [v4('p', '10.0.0.0/24', { avoidBuggyIPs: true })],
      steps: [
        [alloc(req('ns/a', { requestedIPs: ['10.0.0.255'] })), '✗ IP 10.0.0.255 ends in .0 or .255, which pool "p" avoids (avoidBuggyIPs)'],
        [alloc(req('ns/b', { requestedIPs: ['10.0.0.0'] })), /avoidBuggyIPs/],
      ],
    },
    {
      name: 'IPv6 is never "buggy"',
      pools: [pool('p6', ['fd00::ff-fd00::100'], { avoidBuggyIPs: true })],
      steps: [
        [alloc(req('ns/a', { families: ['IPv6'] })), 'fd00::ff @p6'],
        [alloc(req('ns/b', { families: ['IPv6'] })), 'fd00::100 @p6'],
      ],
    },
  ]);
});

describe('requested IPs and the pool annotation', () => {
  const pools = [
    v4('a', '10.0.1.0/29'),
    v4('manual', '10.0.2.0/29', { autoAssign: false }),
    v4('team', '10.0.3.0/29', { serviceAllocation: { namespaces: ['team'] } }),
    pool('dual', ['10.0.4.0/29', 'fd00::/125']),
  ];
  runCases([
    {
      name: 'a requested IP in an autoAssign=false pool',
      pools,
      steps: [[alloc(req('ns/x', { requestedIPs: ['10.0.2.5'] })), '10.0.2.5 @manual']],
    },
    {
      name: 'a requested IP in no pool',
      pools,
      steps: [[alloc(req('ns/x', { requestedIPs: ['192.168.1.1'] })), '✗ IP 192.168.1.1 is not in any address pool']],
    },
    {
      name: 'a requested IP must pass the pool serviceAllocation',
      pools,
      steps: [
        [
          alloc(req('ns/x', { requestedIPs: ['10.0.3.1'] })),
          '✗ IP 10.0.3.1 is in pool "team", which does not serve this service: its serviceAllocation does not include namespace "ns"',
        ],
        [alloc(req('team/x', { requestedIPs: ['10.0.3.1'] })), '10.0.3.1 @team'],
      ],
    },
    {
      name: 'a requested IP must match the pool annotation',
      pools,
      steps: [
        [
          alloc(req('ns/x', { requestedIPs: ['10.0.1.1'], poolName: 'manual' })),
          '✗ IP 10.0.1.1 is in pool "a", not in pool "manual" named by the metallb.io/address-pool annotation',
        ],
        [alloc(req('ns/y', { requestedIPs: ['10.0.2.1'], poolName: 'manual' })), '10.0.2.1 @manual'],
      ],
    },
    {
      name: 'a requested IP must match the service families, at most one per family',
      pools,
      steps: [
        [alloc(req('ns/x', { requestedIPs: ['fd00::1'] })), '✗ IP fd00::1 is IPv6, but the service uses IPv4 only'],
        [
          alloc(req('ns/y', { requestedIPs: ['10.0.4.1', '10.0.4.2'], families: ['IPv4', 'IPv6'], familyPolicy: 'PreferDualStack' })),
          '✗ at most one IP per family: 10.0.4.1 and 10.0.4.2 are both IPv4',
        ],
        [
          alloc(req('ns/z', { requestedIPs: ['fd00::1', '10.0.4.1'], families: ['IPv4', 'IPv6'], familyPolicy: 'RequireDualStack' })),
          '10.0.4.1,fd00::1 @dual',
        ],
        [
          alloc(req('ns/w', { requestedIPs: ['10.0.4.3'], families: ['IPv4', 'IPv6'], familyPolicy: 'RequireDualStack' })),
          '✗ the service is RequireDualStack and needs an IPv4 and an IPv6 address, but only 10.0.4.3 is given',
        ],
        [
          alloc(req('ns/v', { requestedIPs: ['10.0.1.1', 'fd00::2'], families: ['IPv4', 'IPv6'], familyPolicy: 'RequireDualStack' })),
          '✗ IPs 10.0.1.1, fd00::2 are in different pools ("a" and "dual"); a service\'s addresses must come from one pool',
        ],
      ],
    },
    {
      name: 'a requested IP held by a service that does not share',
      pools,
      steps: [
        [alloc(req('ns/first')), '10.0.1.0 @a'],
        [
          alloc(req('ns/second', { requestedIPs: ['10.0.1.0'] })),
          '✗ IP 10.0.1.0 is already in use by ns/first, which does not allow sharing (no metallb.io/allow-shared-ip annotation)',
        ],
      ],
    },
    {
      name: 'the pool annotation picks that pool (even autoAssign=false), and must exist and serve the service',
      pools,
      steps: [
        [alloc(req('ns/x', { poolName: 'manual' })), '10.0.2.0 @manual'],
        [alloc(req('ns/y', { poolName: 'nope' })), '✗ pool "nope" named by the metallb.io/address-pool annotation does not exist'],
        [
          alloc(req('ns/z', { poolName: 'team' })),
          '✗ pool "team" named by the metallb.io/address-pool annotation does not serve this service: its serviceAllocation does not include namespace "ns"',
        ],
        [alloc(req('ns/w', { poolName: 'dual', families: ['IPv6'] })), 'fd00:: @dual'],
      ],
    },
    {
      name: 'an annotated pool that is full says so, without falling back to other pools',
      pools: [v4('small', '10.0.0.0/32'), v4('big', '10.1.0.0/24')],
      steps: [
        [alloc(req('ns/a', { poolName: 'small' })), '10.0.0.0 @small'],
        [alloc(req('ns/b', { poolName: 'small' })), '✗ no free address in pool "small" (1 of 1 in use)'],
      ],
    },
    {
      name: 'assign restores IPs from status, wherever they are in the pool; allocation then skips them',
      pools: [v4('p', '10.0.0.0/29', { autoAssign: false }), v4('auto', '10.0.1.0/30')],
      steps: [
        [assign(req('ns/restored'), '10.0.0.5'), '10.0.0.5 @p'],
        [assign(req('ns/auto-restored'), '10.0.1.0'), '10.0.1.0 @auto'],
        [alloc(req('ns/new')), '10.0.1.1 @auto'],
        [alloc(req('ns/annotated', { poolName: 'p' })), '10.0.0.0 @p'],
        [holds('ns/restored'), '10.0.0.5 @p'],
        [stats('p'), 'v4 2 used 6 free; v6 0 used 0 free'],
      ],
    },
  ]);
});

describe('sharing', () => {
  const p = [v4('p', '10.0.0.0/29')];
  const shared = (key: string, sharingKey: string | undefined, port: number, extra: Parameters<typeof req>[1] = {}) =>
    req(key, { sharingKey, ports: [{ protocol: 'TCP', port }], ...extra });
  runCases([
    {
      name: 'same key, different ports: the second service gets the same (lowest) address',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 80)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 443)), '10.0.0.0 @p'],
        [stats('p'), 'v4 1 used 7 free; v6 0 used 0 free'],
      ],
    },
    {
      name: 'a shared address is taken when it is lower than the lowest free one',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 80)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', undefined, 80)), '10.0.0.1 @p'],
        [alloc(shared('ns/c', 'k', 443)), '10.0.0.0 @p'],
        [alloc(shared('ns/d', 'k', 80)), '10.0.0.2 @p'],
      ],
    },
    {
      name: 'different sharing keys do not share',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k1', 80)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k2', 443)), '10.0.0.1 @p'],
        [
          alloc(shared('ns/c', 'k2', 8080, { requestedIPs: ['10.0.0.0'] })),
          '✗ IP 10.0.0.0 is already in use by ns/a with sharing key "k1", not "k2"',
        ],
      ],
    },
    {
      name: 'no key on either side: no sharing',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 80)), '10.0.0.0 @p'],
        [
          alloc(shared('ns/b', undefined, 443, { requestedIPs: ['10.0.0.0'] })),
          '✗ IP 10.0.0.0 is already in use by ns/a, and this service has no metallb.io/allow-shared-ip annotation',
        ],
      ],
    },
    {
      name: 'a colliding (protocol, port) pair prevents sharing; another protocol on the same port does not',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 53)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 53, { requestedIPs: ['10.0.0.0'] })), '✗ port TCP/53 on IP 10.0.0.0 is already used by ns/a'],
        [alloc(req('ns/c', { sharingKey: 'k', ports: [{ protocol: 'UDP', port: 53 }] })), '10.0.0.0 @p'],
        [alloc(shared('ns/d', 'k', 53)), '10.0.0.1 @p'],
      ],
    },
    {
      name: 'Local never shares with Cluster',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 80)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 443, { externalTrafficPolicy: 'Local' })), '10.0.0.1 @p'],
        [
          alloc(shared('ns/c', 'k', 8443, { externalTrafficPolicy: 'Local', requestedIPs: ['10.0.0.0'] })),
          '✗ IP 10.0.0.0 is already in use by ns/a with externalTrafficPolicy Cluster; a Local service cannot share it',
        ],
      ],
    },
    {
      name: 'Local services share only with the same selector',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 80, { externalTrafficPolicy: 'Local', selector: { app: 'web' } })), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 443, { externalTrafficPolicy: 'Local', selector: { app: 'web' } })), '10.0.0.0 @p'],
        [alloc(shared('ns/c', 'k', 8080, { externalTrafficPolicy: 'Local', selector: { app: 'api' } })), '10.0.0.1 @p'],
        [
          alloc(shared('ns/d', 'k', 8081, { externalTrafficPolicy: 'Local', selector: { app: 'api' }, requestedIPs: ['10.0.0.0'] })),
          /^✗ IP 10.0.0.0 is already in use by ns\/(a|b), an externalTrafficPolicy Local service with a different pod selector/,
        ],
      ],
    },
    {
      name: 'Cluster services share whatever their selectors',
      pools: p,
      steps: [
        [alloc(shared('ns/a', 'k', 80, { selector: { app: 'web' } })), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 443, { selector: { app: 'api' } })), '10.0.0.0 @p'],
      ],
    },
    {
      name: 'the address stays held until its last sharer leaves',
      pools: [v4('p', '10.0.0.0/31')],
      steps: [
        [alloc(shared('ns/a', 'k', 80)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 443)), '10.0.0.0 @p'],
        [release('ns/a'), 'released'],
        [alloc(req('ns/c')), '10.0.0.1 @p'],
        [release('ns/b'), 'released'],
        [alloc(req('ns/d')), '10.0.0.0 @p'],
      ],
    },
    {
      name: 'a full pool with a sharing key says none can be shared',
      pools: [v4('p', '10.0.0.0/32')],
      steps: [
        [alloc(shared('ns/a', 'k', 80)), '10.0.0.0 @p'],
        [alloc(shared('ns/b', 'k', 80)), '✗ no free address in pool "p" (1 of 1 in use); no address in use there can be shared with this service'],
      ],
    },
  ]);
});

describe('dual-stack', () => {
  const dual = pool('dual', ['10.0.0.0/30', 'fd00::/126']);
  const only4 = pool('only4', ['10.0.1.0/30']);
  const only6 = pool('only6', ['fd01::/126']);
  const ds = (key: string, familyPolicy: AllocationRequest['familyPolicy'], families: AllocationRequest['families'] = ['IPv4', 'IPv6']) =>
    req(key, { familyPolicy, families });
  runCases([
    {
      name: 'RequireDualStack takes both families from one pool, primary first',
      pools: [only4, dual],
      steps: [
        [alloc(ds('ns/a', 'RequireDualStack')), '10.0.0.0,fd00:: @dual'],
        [alloc(ds('ns/b', 'RequireDualStack', ['IPv6', 'IPv4'])), 'fd00::1,10.0.0.1 @dual'],
      ],
    },
    {
      name: 'RequireDualStack fails when no pool has both families',
      pools: [only4, only6],
      steps: [
        [
          alloc(ds('ns/a', 'RequireDualStack')),
          '✗ the service is RequireDualStack, but no pool that serves it has both IPv4 and IPv6 addresses: pool "only4" (IPv4: 0 of 4 in use; IPv6: no IPv6 addresses); pool "only6" (IPv4: no IPv4 addresses; IPv6: 0 of 4 in use)',
        ],
      ],
    },
    {
      name: 'RequireDualStack fails when the dual pool is out of one family',
      pools: [pool('dual', ['10.0.0.0/32', 'fd00::/126'])],
      steps: [
        [alloc(req('ns/x')), '10.0.0.0 @dual'],
        [alloc(ds('ns/a', 'RequireDualStack')), /^✗ the service is RequireDualStack, but no pool has both a free IPv4 and a free IPv6 address: pool "dual" \(IPv4: 1 of 1 in use/],
      ],
    },
    {
      name: 'PreferDualStack takes both when a pool can, even a later one',
      pools: [pool('a-only4', ['10.0.1.0/30']), dual],
      steps: [[alloc(ds('ns/a', 'PreferDualStack')), '10.0.0.0,fd00:: @dual']],
    },
    {
      name: 'PreferDualStack takes the primary family alone when no pool has both',
      pools: [only4, only6],
      steps: [
        [alloc(ds('ns/a', 'PreferDualStack')), '10.0.1.0 @only4'],
        [alloc(ds('ns/b', 'PreferDualStack', ['IPv6', 'IPv4'])), 'fd01:: @only6'],
      ],
    },
    {
      name: 'PreferDualStack falls back to the other family when the primary has nothing',
      pools: [only6],
      steps: [[alloc(ds('ns/a', 'PreferDualStack')), 'fd01:: @only6']],
    },
    {
      name: 'PreferDualStack with one family listed (single-stack cluster) is that family',
      pools: [dual],
      steps: [[alloc(ds('ns/a', 'PreferDualStack', ['IPv6'])), 'fd00:: @dual']],
    },
    {
      name: 'SingleStack takes families[0] only',
      pools: [dual],
      steps: [
        [alloc(ds('ns/a', 'SingleStack', ['IPv6', 'IPv4'])), 'fd00:: @dual'],
        [alloc(ds('ns/b', 'SingleStack', ['IPv4', 'IPv6'])), '10.0.0.0 @dual'],
        [alloc(ds('ns/c', 'SingleStack', ['IPv6'])), 'fd00::1 @dual'],
      ],
    },
    {
      name: 'SingleStack IPv6 with no IPv6 pool',
      pools: [only4],
      steps: [[alloc(ds('ns/a', 'SingleStack', ['IPv6'])), '✗ pool "only4" has no IPv6 addresses']],
    },
    {
      name: 'PreferDualStack holding one family gains the other from its pool when it frees up',
      pools: [pool('dual', ['10.0.0.0/30', 'fd00::/128'])],
      steps: [
        [alloc(req('ns/v6', { families: ['IPv6'] })), 'fd00:: @dual'],
        [alloc(ds('ns/a', 'PreferDualStack')), '10.0.0.0 @dual'],
        [release('ns/v6'), 'released'],
        [alloc(ds('ns/a', 'PreferDualStack')), '10.0.0.0,fd00:: @dual'],
        [valid(ds('ns/a', 'PreferDualStack')), 'valid'],
        [stats('dual'), 'v4 1 used 3 free; v6 1 used 0 free'],
      ],
    },
  ]);
});

describe('release, re-allocation and validity', () => {
  runCases([
    {
      name: 'a released address is the next one handed out (lowest first)',
      pools: [v4('p', '10.0.0.0/29')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [alloc(req('ns/b')), '10.0.0.1 @p'],
        [alloc(req('ns/c')), '10.0.0.2 @p'],
        [alloc(req('ns/d')), '10.0.0.3 @p'],
        [release('ns/c'), 'released'],
        [release('ns/b'), 'released'],
        [alloc(req('ns/e')), '10.0.0.1 @p'],
        [alloc(req('ns/f')), '10.0.0.2 @p'],
        [alloc(req('ns/g')), '10.0.0.4 @p'],
        [release('ns/nobody'), 'released'],
        [holds('ns/b'), 'none'],
      ],
    },
    {
      name: 'allocating again keeps a still-valid assignment',
      pools: [v4('p', '10.0.0.0/29')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [alloc(req('ns/b')), '10.0.0.1 @p'],
        [release('ns/a'), 'released'],
        [alloc(req('ns/b')), '10.0.0.1 @p'],
        [stats('p'), 'v4 1 used 7 free; v6 0 used 0 free'],
      ],
    },
    {
      name: 'changed requested IPs, pool annotation or family policy make the assignment invalid; allocate moves it',
      pools: [v4('p', '10.0.0.0/29'), v4('q', '10.0.1.0/29'), pool('z-dual', ['10.0.2.0/29', 'fd00::/125'])],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [valid(req('ns/a')), 'valid'],
        [valid(req('ns/a', { requestedIPs: ['10.0.0.5'] })), 'invalid: the service requests 10.0.0.5, not 10.0.0.0'],
        [alloc(req('ns/a', { requestedIPs: ['10.0.0.5'] })), '10.0.0.5 @p'],
        [valid(req('ns/a', { poolName: 'q' })), 'invalid: IP 10.0.0.5 is in pool "p", not in pool "q" named by the metallb.io/address-pool annotation'],
        [alloc(req('ns/a', { poolName: 'q' })), '10.0.1.0 @q'],
        [valid(req('ns/a', { poolName: 'q', families: ['IPv6'] })), 'invalid: IP 10.0.1.0 is IPv4, but the service uses IPv6 only'],
        [
          valid(req('ns/a', { poolName: 'q', familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] })),
          'invalid: the service is RequireDualStack and needs an IPv4 and an IPv6 address, but only 10.0.1.0 is given',
        ],
        [alloc(req('ns/a', { familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] })), '10.0.2.0,fd00:: @z-dual'],
        [stats('q'), 'v4 0 used 8 free; v6 0 used 0 free'],
        [valid(req('ns/nobody')), 'invalid: service ns/nobody holds no IP'],
      ],
    },
    {
      name: 'a sharing service that changes its ports or key onto a conflict becomes invalid',
      pools: [v4('p', '10.0.0.0/29')],
      steps: [
        [alloc(req('ns/a', { sharingKey: 'k', ports: [{ protocol: 'TCP', port: 80 }] })), '10.0.0.0 @p'],
        [alloc(req('ns/b', { sharingKey: 'k', ports: [{ protocol: 'TCP', port: 443 }] })), '10.0.0.0 @p'],
        [valid(req('ns/b', { sharingKey: 'k', ports: [{ protocol: 'TCP', port: 80 }] })), 'invalid: port TCP/80 on IP 10.0.0.0 is already used by ns/a'],
        [valid(req('ns/b', { sharingKey: 'other', ports: [{ protocol: 'TCP', port: 443 }] })), /^invalid: IP 10.0.0.0 is already in use by ns\/a with sharing key "k"/],
        [alloc(req('ns/b', { sharingKey: 'k', ports: [{ protocol: 'TCP', port: 80 }] })), '10.0.0.1 @p'],
      ],
    },
    {
      name: 'a sole holder may change its sharing key; the key index follows',
      pools: [v4('p', '10.0.0.0/29')],
      steps: [
        [alloc(req('ns/a', { sharingKey: 'old' })), '10.0.0.0 @p'],
        [alloc(req('ns/a', { sharingKey: 'new' })), '10.0.0.0 @p'],
        [alloc(req('ns/b', { sharingKey: 'new', ports: [{ protocol: 'TCP', port: 443 }] })), '10.0.0.0 @p'],
        [alloc(req('ns/c', { sharingKey: 'old', ports: [{ protocol: 'TCP', port: 443 }] })), '10.0.0.1 @p'],
      ],
    },
    {
      name: 'assign replaces what the service held before',
      pools: [v4('p', '10.0.0.0/29')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [assign(req('ns/a'), '10.0.0.6'), '10.0.0.6 @p'],
        [assign(req('ns/a'), '10.0.0.6'), '10.0.0.6 @p'],
        [alloc(req('ns/b')), '10.0.0.0 @p'],
        [stats('p'), 'v4 2 used 6 free; v6 0 used 0 free'],
      ],
    },
  ]);
});

describe('setPools', () => {
  runCases([
    {
      name: 'shrinking a pool keeps the assignment but makes it invalid; allocate moves it',
      pools: [v4('p', '10.0.0.0/24')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [alloc(req('ns/b')), '10.0.0.1 @p'],
        [setPools(v4('p', '10.0.0.1-10.0.0.10')), 'set'],
        [holds('ns/a'), '10.0.0.0 @p'],
        [poolOf('10.0.0.0'), 'none'],
        [valid(req('ns/a')), 'invalid: IP 10.0.0.0 is not in any address pool'],
        [valid(req('ns/b')), 'valid'],
        [stats('p'), 'v4 1 used 9 free; v6 0 used 0 free'],
        [alloc(req('ns/a')), '10.0.0.2 @p'],
        [stats('p'), 'v4 2 used 8 free; v6 0 used 0 free'],
      ],
    },
    {
      name: 'a new range starts with what services already hold in it',
      pools: [v4('p', '10.0.0.0/30')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [alloc(req('ns/b')), '10.0.0.1 @p'],
        [setPools(v4('q', '10.0.0.0/29')), 'set'],
        [holds('ns/b'), '10.0.0.1 @q'],
        [stats('q'), 'v4 2 used 6 free; v6 0 used 0 free'],
        [stats('p'), 'v4 0 used 0 free; v6 0 used 0 free'],
        [alloc(req('ns/c')), '10.0.0.2 @q'],
        [valid(req('ns/a')), 'valid'],
      ],
    },
    {
      name: 'a pool that stops serving the namespace makes its assignments invalid',
      pools: [v4('p', '10.0.0.0/30')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [setPools(v4('p', '10.0.0.0/30', { serviceAllocation: { namespaces: ['other'] } }), v4('g', '10.0.1.0/30')), 'set'],
        [
          valid(req('ns/a')),
          'invalid: IP 10.0.0.0 is in pool "p", which does not serve this service: its serviceAllocation does not include namespace "ns"',
        ],
        [alloc(req('ns/a')), '10.0.1.0 @g'],
        [stats('p'), 'v4 0 used 4 free; v6 0 used 0 free'],
      ],
    },
    {
      name: 'turning on avoidBuggyIPs invalidates a held .0',
      pools: [v4('p', '10.0.0.0/30')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [setPools(v4('p', '10.0.0.0/30', { avoidBuggyIPs: true })), 'set'],
        [stats('p'), 'v4 1 used 3 free; v6 0 used 0 free'],
        [valid(req('ns/a')), 'invalid: IP 10.0.0.0 ends in .0 or .255, which pool "p" avoids (avoidBuggyIPs)'],
        [alloc(req('ns/a')), '10.0.0.1 @p'],
        [stats('p'), 'v4 1 used 2 free; v6 0 used 0 free'],
      ],
    },
    {
      name: 'turning off autoAssign does not invalidate existing assignments',
      pools: [v4('p', '10.0.0.0/30')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [setPools(v4('p', '10.0.0.0/30', { autoAssign: false })), 'set'],
        [valid(req('ns/a')), 'valid'],
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [alloc(req('ns/b')), /^✗ no address pool serves this service/],
      ],
    },
    {
      name: 'a removed pool: assignments kept but invalid, stats gone',
      pools: [v4('p', '10.0.0.0/30'), v4('q', '10.0.1.0/30')],
      steps: [
        [alloc(req('ns/a')), '10.0.0.0 @p'],
        [setPools(v4('q', '10.0.1.0/30')), 'set'],
        [holds('ns/a'), '10.0.0.0 @p'],
        [valid(req('ns/a')), 'invalid: IP 10.0.0.0 is not in any address pool'],
        [stats('p'), 'v4 0 used 0 free; v6 0 used 0 free'],
        [release('ns/a'), 'released'],
        [setPools(v4('p', '10.0.0.0/30'), v4('q', '10.0.1.0/30')), 'set'],
        [alloc(req('ns/b')), '10.0.0.0 @p'],
      ],
    },
  ]);
});

describe('stats and pool lookup', () => {
  test('exact for an IPv6 /48 (2^80 addresses) and a mixed pool', () => {
    const a = new Allocator();
    a.setPools([pool('huge', ['fd00:1::/48']), pool('mixed', ['192.168.0.0/16', '2001:db8::/64'], { avoidBuggyIPs: true })]);
    assert.deepEqual(a.poolStats('huge'), { assignedIPv4: 0n, assignedIPv6: 0n, availableIPv4: 0n, availableIPv6: 2n ** 80n });
    for (let i = 0; i < 3; i++) assert.ok(a.allocate(req(`ns/s${i}`, { families: ['IPv6'], poolName: 'huge' })).ok);
    assert.deepEqual(a.poolStats('huge'), { assignedIPv4: 0n, assignedIPv6: 3n, availableIPv4: 0n, availableIPv6: 2n ** 80n - 3n });
    assert.ok(a.assign(req('ns/far', { families: ['IPv6'] }), [ip('fd00:1:0:ffff:ffff:ffff:ffff:ffff')]).ok);
    assert.equal(a.poolStats('huge').availableIPv6, 2n ** 80n - 4n);
    // 256 /24s in a /16, two avoided addresses each.
    assert.deepEqual(a.poolStats('mixed'), {
      assignedIPv4: 0n,
      assignedIPv6: 0n,
      availableIPv4: 65536n - 512n,
      availableIPv6: 2n ** 64n,
    });
    assert.deepEqual(a.poolStats('unknown'), { assignedIPv4: 0n, assignedIPv6: 0n, availableIPv4: 0n, availableIPv6: 0n });
  });

  test('poolOfIP finds the pool among many ranges (binary search)', () => {
    const a = new Allocator();
    const pools = Array.from({ length: 50 }, (_, i) => pool(`p${i}`, [`10.${i}.0.0/24`, `10.${i}.2.0-10.${i}.2.9`, `fd00:${i}::/120`]));
    a.setPools(pools.reverse());
    for (let i = 0; i < 50; i++) {
      assert.equal(a.poolOfIP(ip(`10.${i}.0.0`)), `p${i}`);
      assert.equal(a.poolOfIP(ip(`10.${i}.0.255`)), `p${i}`);
      assert.equal(a.poolOfIP(ip(`10.${i}.2.9`)), `p${i}`);
      assert.equal(a.poolOfIP(ip(`10.${i}.2.10`)), undefined);
      assert.equal(a.poolOfIP(ip(`10.${i}.1.0`)), undefined);
      assert.equal(a.poolOfIP(ip(`fd00:${i}::ff`)), `p${i}`);
    }
    assert.equal(a.poolOfIP(ip('9.255.255.255')), undefined);
    assert.equal(a.poolOfIP(ip('::10.0.0.1')), undefined, 'an IPv6 address with the same value is not the IPv4 one');
  });

  test('ranges of one pool are used in address order', () => {
    const a = new Allocator();
    a.setPools([pool('p', ['10.0.5.0/31', '10.0.1.0/31'])]);
    assert.deepEqual(
      ['a', 'b', 'c', 'd', 'e'].map((n) => show(a.allocate(req(`ns/${n}`)))),
      ['10.0.1.0 @p', '10.0.1.1 @p', '10.0.5.0 @p', '10.0.5.1 @p', '✗ no free address in pool "p" (4 of 4 in use)'],
    );
  });
});

describe('scale', () => {
  test('a /16 fills completely in order, and the very last address is found', () => {
    const a = new Allocator();
    a.setPools([pool('p', ['10.0.0.0/16'])]);
    for (let i = 0; i < 65536; i++) {
      const r = a.allocate(req(`ns/s${i}`));
      assert.ok(r.ok && r.ips[0]!.value === 0x0a000000n + BigInt(i), `allocation ${i}`);
    }
    assert.equal(show(a.allocate(req('ns/one-more'))), '✗ no free address in pool "p" (65536 of 65536 in use)');
    a.release('ns/s40000');
    a.release('ns/s7');
    assert.equal(show(a.allocate(req('ns/x'))), '10.0.0.7 @p');
    assert.equal(show(a.allocate(req('ns/y'))), '10.0.156.64 @p');
  });
});
