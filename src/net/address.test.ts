import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cidrRange, formatIP, parseAddressRange, parseIP, rangeSize } from './address.ts';

describe('address', () => {
  it('parses and formats v4 and v6 canonically', () => {
    for (const [input, out] of [
      ['10.0.0.1', '10.0.0.1'],
      ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
      ['::', '::'],
      ['::ffff:1.2.3.4', '::ffff:102:304'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ]) assert.equal(formatIP(parseIP(input!)!), out);
  });
  it('rejects junk', () => {
    for (const s of ['', '1.2.3', '1.2.3.256', '10.0.0.1/32', 'fe80::1%eth0', 'x']) assert.equal(parseIP(s), undefined, s);
  });
  it('round-trips any address (property)', () => {
    fc.assert(fc.property(fc.ipV4(), (s) => formatIP(parseIP(s)!) === s));
    fc.assert(fc.property(fc.ipV6(), (s) => formatIP(parseIP(formatIP(parseIP(s)!))!) === formatIP(parseIP(s)!)));
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => parseIP(formatIP({ family: 'IPv6', value: v }))!.value === v));
  });
  it('parses ranges and CIDRs with exact sizes', () => {
    const r = parseAddressRange('fd00::/64');
    assert.ok(typeof r !== 'string');
    assert.equal(rangeSize(r), 1n << 64n);
    assert.deepEqual(parseAddressRange('10.0.0.5 - 10.0.0.9'), { family: 'IPv4', first: 0x0a000005n, last: 0x0a000009n });
    assert.equal(parseAddressRange('10.0.0.9-10.0.0.5'), 'has its start after its end');
    assert.equal(parseAddressRange('10.0.0.1-fd00::1'), 'mixes IPv4 and IPv6 in one range');
    assert.equal(parseAddressRange('10.0.0.300/32'), 'is not an IP, range or CIDR');
    assert.equal(parseAddressRange('10.0.0.0/33'), 'has prefix length /33, too long for IPv4');
    assert.deepEqual(cidrRange(parseIP('10.1.2.3')!, 24), { family: 'IPv4', first: 0x0a010200n, last: 0x0a0102ffn });
  });
});
