import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCIDR, parseIP, type CIDR, type IPAddress } from '../../net/address.ts';
import { BgpDecodeError } from './errors.ts';
import type { BgpMessage, UpdateMessage } from './messages.ts';
import { BgpParser, decodeMessage, type DecodeOptions } from './parser.ts';
import { encodeKeepalive, encodeOpen, encodeUpdate } from './serializer.ts';
import { attr, frame, hex, MARKER, rawUpdate } from './testing.ts';

const ip = (s: string): IPAddress => parseIP(s)!;
const cidr = (s: string): CIDR => parseCIDR(s) as CIDR;

function expectError(buf: Buffer, code: number, subcode: number, options: Partial<DecodeOptions> = {}, data?: string): BgpDecodeError {
  try {
    decodeMessage(buf, options);
  } catch (e) {
    assert.ok(e instanceof BgpDecodeError, `threw ${String(e)}`);
    assert.deepEqual([e.code, e.subcode], [code, subcode], e.message);
    if (data !== undefined) assert.equal(e.data.toString('hex'), data.replace(/\s+/g, ''));
    return e;
  }
  assert.fail(`decoded without error; want code ${code} subcode ${subcode}`);
}

function decodeUpdate(buf: Buffer, options: Partial<DecodeOptions> = {}): UpdateMessage {
  const m = decodeMessage(buf, options);
  assert.equal(m.type, 'update');
  return m as UpdateMessage;
}

/** The one problem an UPDATE reports. */
function oneProblem(u: UpdateMessage, action: string, subcode: number, attributeType?: number): void {
  assert.equal(u.problems.length, 1, JSON.stringify(u.problems.map((p) => p.reason)));
  const p = u.problems[0]!;
  assert.equal(p.action, action, p.reason);
  assert.equal(p.subcode, subcode, p.reason);
  if (attributeType !== undefined) assert.equal(p.attributeType, attributeType);
  assert.equal(u.treatAsWithdraw, action === 'treat-as-withdraw');
}

const ORIGIN_IGP = attr(0x40, 1, '00');
const AS_PATH_4 = attr(0x40, 2, '02 01 0000fde9');
const NEXT_HOP = attr(0x40, 3, 'c0000201');
const NLRI = '18 c63364';

describe('known byte vectors (written from the RFCs)', () => {
  it('KEEPALIVE is 16 × 0xff, length 19, type 4', () => {
    const bytes = hex(`${MARKER} 0013 04`);
    assert.deepEqual(encodeKeepalive(), bytes);
    assert.deepEqual(decodeMessage(bytes), { type: 'keepalive' });
  });

  it('OPEN with multiprotocol, route refresh and 4-octet AS capabilities, one parameter each', () => {
    const bytes = hex(`${MARKER} 0031 01
      04 fde9 00b4 c0000201 14
      02 06 01 04 0001 00 01
      02 02 02 00
      02 06 41 04 0000fde9`);
    assert.deepEqual(decodeMessage(bytes), {
      type: 'open',
      version: 4,
      myAs: 65001,
      asn: 65001,
      holdTime: 180,
      bgpId: 0xc0000201,
      capabilities: [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'route-refresh' }, { kind: 'four-octet-as', asn: 65001 }],
    });
  });

  it('OPEN as we encode it: all capabilities in one parameter', () => {
    const bytes = encodeOpen({
      asn: 65001,
      holdTime: 180,
      bgpId: 0xc0000201,
      capabilities: [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'route-refresh' }, { kind: 'four-octet-as', asn: 65001 }],
    });
    assert.equal(bytes.toString('hex'), hex(`${MARKER} 002d 01 04 fde9 00b4 c0000201 10 02 0e 01 04 0001 00 01 02 00 41 04 0000fde9`).toString('hex'));
  });

  it('OPEN with a 4-octet ASN carries AS_TRANS in My Autonomous System', () => {
    const bytes = encodeOpen({ asn: 4200000000, holdTime: 90, bgpId: 1, capabilities: [{ kind: 'four-octet-as', asn: 4200000000 }] });
    assert.equal(bytes.toString('hex'), hex(`${MARKER} 0025 01 04 5ba0 005a 00000001 08 02 06 41 04 fa56ea00`).toString('hex'));
    const open = decodeMessage(bytes);
    assert.equal(open.type === 'open' && open.myAs, 23456);
    assert.equal(open.type === 'open' && open.asn, 4200000000);
  });

  it('OPEN with graceful restart: R and N bits, restart time, per-family F bit', () => {
    const bytes = hex(`${MARKER} 002b 01 04 fde9 005a 0a000001 0e 02 0c 40 0a c0 78 0001 01 80 0002 01 00`);
    const open = decodeMessage(bytes);
    assert.deepEqual(open.type === 'open' && open.capabilities, [
      {
        kind: 'graceful-restart',
        restarting: true,
        notification: true,
        restartTime: 120,
        families: [
          { afi: 1, safi: 1, forwardingPreserved: true },
          { afi: 2, safi: 1, forwardingPreserved: false },
        ],
      },
    ]);
    assert.deepEqual(encodeOpen({ asn: 65001, holdTime: 90, bgpId: 0x0a000001, capabilities: open.type === 'open' ? open.capabilities : [] }), bytes);
  });

  it('OPEN with RFC 9072 extended optional parameters', () => {
    const caps = Array.from({ length: 30 }, (_, i) => `41 04 ${(65536 + i).toString(16).padStart(8, '0')}`).join('');
    const capsLength = 30 * 6;
    const body = `04 fde9 005a 0a000001 ff ff ${(capsLength + 3).toString(16).padStart(4, '0')} 02 ${capsLength.toString(16).padStart(4, '0')} ${caps}`;
    const open = decodeMessage(frame(1, body));
    assert.equal(open.type === 'open' && open.capabilities.length, 30);
  });

  it('UPDATE announcing two IPv4 prefixes with ORIGIN, AS_PATH, NEXT_HOP and COMMUNITIES', () => {
    const bytes = hex(`${MARKER} 003b 02 0000 001b
      40 01 01 00
      40 02 06 02 01 0000fde9
      40 03 04 c0000201
      c0 08 04 fde90064
      18 c63364 20 cb007105`);
    const expected: BgpMessage = {
      type: 'update',
      withdrawn: [],
      attributes: {
        origin: 'igp',
        asPath: [{ type: 'sequence', asns: [65001] }],
        nextHop: ip('192.0.2.1'),
        communities: [0xfde90064],
      },
      nlri: [cidr('198.51.100.0/24'), cidr('203.0.113.5/32')],
      treatAsWithdraw: false,
      problems: [],
    };
    assert.deepEqual(decodeMessage(bytes, { fourOctetAs: true }), expected);
    assert.deepEqual(encodeUpdate(expected, { fourOctetAs: true }), bytes);
  });

  it('UPDATE with a 2-octet AS_PATH on a session without 4-octet AS', () => {
    const bytes = rawUpdate({ attrs: ORIGIN_IGP + attr(0x40, 2, '02 02 fde9 fdea') + NEXT_HOP, nlri: NLRI });
    const u = decodeUpdate(bytes, { fourOctetAs: false });
    assert.deepEqual(u.attributes.asPath, [{ type: 'sequence', asns: [65001, 65002] }]);
  });

  it('UPDATE announcing IPv6 in MP_REACH_NLRI (MP_REACH first, iBGP empty AS_PATH)', () => {
    const bytes = hex(`${MARKER} 003f 02 0000 0028
      80 0e 1e 0002 01 10 20010db8000000000000000000000001 00 40 20010db800000001
      40 01 01 00
      40 02 00`);
    const expected: BgpMessage = {
      type: 'update',
      withdrawn: [],
      attributes: {
        mpReach: { afi: 2, safi: 1, nextHop: { global: ip('2001:db8::1') }, nlri: [cidr('2001:db8:0:1::/64')] },
        origin: 'igp',
        asPath: [],
      },
      nlri: [],
      treatAsWithdraw: false,
      problems: [],
    };
    assert.deepEqual(decodeMessage(bytes, { fourOctetAs: true }), expected);
    assert.deepEqual(encodeUpdate(expected, { fourOctetAs: true }), bytes);
  });

  it('MP_REACH_NLRI with global and link-local next hops (32 bytes)', () => {
    const bytes = rawUpdate({
      attrs:
        attr(0x80, 14, '0002 01 20 20010db8000000000000000000000001 fe800000000000000000000000000001 00 80 20010db8000000010000000000000005') +
        ORIGIN_IGP +
        attr(0x40, 2, ''),
    });
    const u = decodeUpdate(bytes);
    assert.deepEqual(u.attributes.mpReach?.nextHop, { global: ip('2001:db8::1'), linkLocal: ip('fe80::1') });
    assert.deepEqual(u.attributes.mpReach?.nlri, [cidr('2001:db8:0:1::5/128')]);
  });

  it('NOTIFICATION: code, subcode and data', () => {
    assert.deepEqual(decodeMessage(hex(`${MARKER} 0017 03 02 01 0004`)), { type: 'notification', code: 2, subcode: 1, data: hex('0004') });
  });

  it('NOTIFICATION with an RFC 8203 shutdown communication', () => {
    const m = decodeMessage(hex(`${MARKER} 001a 03 06 02 04 74657374`));
    assert.deepEqual(m, { type: 'notification', code: 6, subcode: 2, data: hex('04 74657374'), shutdownCommunication: 'test' });
  });

  it('a shutdown communication that is not UTF-8 or overruns its data is left as data', () => {
    const bad = decodeMessage(hex(`${MARKER} 0018 03 06 02 02 c328`));
    assert.equal(bad.type === 'notification' && bad.shutdownCommunication, undefined);
    const short = decodeMessage(hex(`${MARKER} 0018 03 06 04 05 4142`));
    assert.equal(short.type === 'notification' && short.shutdownCommunication, undefined);
  });

  it('ROUTE-REFRESH for IPv4 unicast', () => {
    assert.deepEqual(decodeMessage(hex(`${MARKER} 0017 05 0001 00 01`)), { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 });
  });

  it('End-of-RIB markers', () => {
    const v4 = decodeUpdate(hex(`${MARKER} 0017 02 0000 0000`));
    assert.deepEqual(v4, { type: 'update', withdrawn: [], attributes: {}, nlri: [], treatAsWithdraw: false, problems: [] });
    const v6 = decodeUpdate(hex(`${MARKER} 001d 02 0000 0006 80 0f 03 0002 01`));
    assert.deepEqual(v6.attributes, { mpUnreach: { afi: 2, safi: 1, withdrawn: [] } });
  });
});

describe('message header errors (RFC 4271 §6.1)', () => {
  it('a marker that is not all ones: Connection Not Synchronized', () => {
    const bytes = encodeKeepalive();
    bytes[3] = 0xfe;
    expectError(bytes, 1, 1);
  });

  it('a length below 19 or above 4096: Bad Message Length with the length as data', () => {
    expectError(hex(`${MARKER} 0012 04`), 1, 2, {}, '0012');
    const big = Buffer.concat([hex(`${MARKER} 1001 02`), Buffer.alloc(4097 - 19)]);
    expectError(big, 1, 2, {}, '1001');
  });

  it('4097 bytes are fine once extended messages are negotiated', () => {
    const nlri = Array.from({ length: 809 }, (_, i) => `20 0a00${(i >> 8).toString(16).padStart(2, '0')}${(i & 255).toString(16).padStart(2, '0')}`).join('');
    const u = rawUpdate({ attrs: ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0x80, 99, '00'.repeat(11)), nlri });
    assert.ok(u.length > 4096, String(u.length));
    expectError(u, 1, 2, { fourOctetAs: true });
    assert.equal(decodeUpdate(u, { fourOctetAs: true, extendedMessages: true }).nlri.length, 809);
  });

  it('per-type minimum lengths: KEEPALIVE ≠ 19, OPEN < 29, UPDATE < 23, NOTIFICATION < 21', () => {
    expectError(frame(4, '00'), 1, 2, {}, '0014');
    expectError(frame(1, '04 fde9 00b4 c0000201'), 1, 2, {}, '001c');
    expectError(frame(2, '0000 00'), 1, 2, {}, '0016');
    expectError(frame(3, '06'), 1, 2, {}, '0014');
  });

  it('an unknown type: Bad Message Type with the type as data', () => {
    expectError(frame(6, ''), 1, 3, {}, '06');
    expectError(frame(0, ''), 1, 3, {}, '00');
  });

  it('a buffer whose size differs from the length field', () => {
    expectError(Buffer.concat([encodeKeepalive(), hex('00')]), 1, 2);
    expectError(hex(`${MARKER} 0013`), 1, 2);
  });

  it('ROUTE-REFRESH of the wrong length: ROUTE-REFRESH Message Error / Invalid Message Length, whole message as data', () => {
    const bytes = frame(5, '0001 00 01 00');
    expectError(bytes, 7, 1, {}, bytes.toString('hex'));
  });
});

describe('OPEN message errors (RFC 4271 §6.2, RFC 5492)', () => {
  const open = (body: string): Buffer => frame(1, body);

  it('version other than 4: Unsupported Version Number, data = the version we support', () => {
    expectError(open('03 fde9 00b4 c0000201 00'), 2, 1, {}, '0004');
  });

  it('AS 0 (RFC 7607), in My AS or the 4-octet AS capability: Bad Peer AS', () => {
    expectError(open('04 0000 00b4 c0000201 00'), 2, 2);
    expectError(open('04 5ba0 00b4 c0000201 08 02 06 41 04 00000000'), 2, 2);
  });

  it('BGP Identifier 0: Bad BGP Identifier', () => {
    expectError(open('04 fde9 00b4 00000000 00'), 2, 3);
  });

  it('an optional parameter other than Capabilities: Unsupported Optional Parameter', () => {
    expectError(open('04 fde9 00b4 c0000201 04 01 02 0000'), 2, 4);
  });

  it('hold time 1 or 2: Unacceptable Hold Time; 0 and 3 are fine', () => {
    expectError(open('04 fde9 0001 c0000201 00'), 2, 6);
    expectError(open('04 fde9 0002 c0000201 00'), 2, 6);
    assert.equal(decodeMessage(open('04 fde9 0000 c0000201 00')).type, 'open');
    assert.equal(decodeMessage(open('04 fde9 0003 c0000201 00')).type, 'open');
  });

  it('malformed capabilities: OPEN Message Error / Unspecific', () => {
    expectError(open('04 fde9 00b4 c0000201 05 02 03 01 01 00'), 2, 0); // MP capability of length 1
    expectError(open('04 fde9 00b4 c0000201 04 02 02 01 04'), 2, 0); // capability runs past the parameter
    expectError(open('04 fde9 00b4 c0000201 03 02 01 01'), 2, 0); // truncated capability header
    expectError(open('04 fde9 00b4 c0000201 04 02 02 02 01'), 2, 0); // route refresh of length 1 (runs past)
    expectError(open('04 fde9 00b4 c0000201 05 02 03 40 01 00'), 2, 0); // graceful restart of length 1
  });

  it('optional parameters that overrun, or do not fill, the message', () => {
    expectError(open('04 fde9 00b4 c0000201 05 02 02 02 00'), 1, 2); // says 5, has 4
    expectError(open('04 fde9 00b4 c0000201 00 00'), 1, 2); // says 0, has 1
    expectError(open('04 fde9 00b4 c0000201 02 02 05'), 2, 0); // parameter longer than what is left
  });

  it('unknown capabilities are kept as raw bytes', () => {
    const m = decodeMessage(open('04 fde9 00b4 c0000201 08 02 06 46 00 49 02 6869'));
    assert.deepEqual(m.type === 'open' && m.capabilities, [
      { kind: 'unknown', code: 70, value: Buffer.alloc(0) },
      { kind: 'unknown', code: 73, value: hex('6869') },
    ]);
  });
});

describe('UPDATE errors that reset the session', () => {
  it('Withdrawn Routes Length or Total Attribute Length overrunning the message: Malformed Attribute List', () => {
    expectError(frame(2, '0005 0000'), 3, 1);
    expectError(frame(2, '0000 0005 400101'), 3, 1);
  });

  it('the attribute list broken at its first attribute, or at an MP_* attribute: Malformed Attribute List', () => {
    expectError(rawUpdate({ attrs: '40 01 05 00' }), 3, 1);
    expectError(rawUpdate({ attrs: '40 01' }), 3, 1);
    expectError(rawUpdate({ attrs: ORIGIN_IGP + '80 0e 20 0002 01 10' }), 3, 1);
  });

  it('a syntactically bad NLRI or Withdrawn Routes field: Invalid Network Field', () => {
    expectError(rawUpdate({ attrs: ORIGIN_IGP + AS_PATH_4 + NEXT_HOP, nlri: '21 0a000001 00' }), 3, 10, { fourOctetAs: true });
    expectError(rawUpdate({ attrs: ORIGIN_IGP + AS_PATH_4 + NEXT_HOP, nlri: '18 0a00' }), 3, 10, { fourOctetAs: true });
    expectError(rawUpdate({ withdrawn: '21 0a000001 00' }), 3, 10);
    expectError(rawUpdate({ withdrawn: '20 0a00' }), 3, 10);
  });

  it('an unrecognized well-known attribute: Unrecognized Well-known Attribute, data = the attribute', () => {
    expectError(rawUpdate({ attrs: ORIGIN_IGP + attr(0x40, 99, 'aabb') }), 3, 2, {}, '4063 02 aabb');
  });

  it('MP_REACH_NLRI or MP_UNREACH_NLRI twice: Malformed Attribute List', () => {
    const unreach = attr(0x80, 15, '0002 01');
    expectError(rawUpdate({ attrs: unreach + unreach }), 3, 1);
  });

  it('a malformed MP_REACH_NLRI or MP_UNREACH_NLRI: Optional Attribute Error (RFC 4760 §7)', () => {
    expectError(rawUpdate({ attrs: attr(0x80, 14, '0002 01 05 0102030405 00') }), 3, 9); // next hop length 5
    expectError(rawUpdate({ attrs: attr(0x80, 14, '0002 01 10 20010db8000000000000000000000001 00 80 2001') }), 3, 9); // NLRI overrun
    expectError(rawUpdate({ attrs: attr(0x80, 14, '0002 01 10 20010db8000000000000000000000001 00 81 20010db8000000000000000000000001') }), 3, 9);
    expectError(rawUpdate({ attrs: attr(0x80, 14, '0002 01 20 2001') }), 3, 9); // next hop overruns
    expectError(rawUpdate({ attrs: attr(0x80, 14, '0002') }), 3, 9);
    expectError(rawUpdate({ attrs: attr(0x80, 15, '0002') }), 3, 9);
    expectError(rawUpdate({ attrs: attr(0x80, 15, '0001 01 21 0a000001') }), 3, 9);
  });

  it('MP_REACH_NLRI with wrong flags: Attribute Flags Error, still a reset', () => {
    expectError(rawUpdate({ attrs: attr(0xc0, 15, '0002 01') }), 3, 4);
  });

  it('MP_* for a family this codec does not parse are kept raw, not rejected', () => {
    const u = decodeUpdate(rawUpdate({ attrs: attr(0x80, 15, '0019 46 0102') }));
    assert.deepEqual(u.attributes.unknown, [{ type: 15, flags: 0x80, value: hex('0019 46 0102') }]);
  });
});

describe('RFC 7606 treat-as-withdraw', () => {
  const withNlri = (attrs: string, options: Partial<DecodeOptions> = { fourOctetAs: true }): UpdateMessage =>
    decodeUpdate(rawUpdate({ attrs, nlri: NLRI }), options);

  it('ORIGIN of the wrong length or an undefined value', () => {
    oneProblem(withNlri(attr(0x40, 1, '0000') + AS_PATH_4 + NEXT_HOP), 'treat-as-withdraw', 5, 1);
    oneProblem(withNlri(attr(0x40, 1, '03') + AS_PATH_4 + NEXT_HOP), 'treat-as-withdraw', 6, 1);
  });

  it('well-known attribute with the optional bit set: Attribute Flags Error', () => {
    oneProblem(withNlri(attr(0xc0, 1, '00') + AS_PATH_4 + NEXT_HOP), 'treat-as-withdraw', 4, 1);
  });

  it('malformed AS_PATH: bad segment type, empty segment, overrun, AS 0, 2-octet path on a 4-octet session', () => {
    for (const path of ['05 01 0000fde9', '02 00', '02 02 0000fde9', '02 01 00000000', '02 01 fde9', '02']) {
      const u = withNlri(ORIGIN_IGP + attr(0x40, 2, path) + NEXT_HOP);
      oneProblem(u, 'treat-as-withdraw', 11, 2);
      assert.deepEqual(u.nlri, [cidr('198.51.100.0/24')], 'the NLRI are there to withdraw');
    }
  });

  it('NEXT_HOP of the wrong length, or not a unicast address', () => {
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + attr(0x40, 3, 'c000020100')), 'treat-as-withdraw', 5, 3);
    for (const nh of ['00000000', '7f000001', 'e0000001', 'ffffffff']) {
      oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + attr(0x40, 3, nh)), 'treat-as-withdraw', 8, 3);
    }
  });

  it('MULTI_EXIT_DISC and LOCAL_PREF of the wrong length', () => {
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0x80, 4, '000001')), 'treat-as-withdraw', 5, 4);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0x40, 5, '000001')), 'treat-as-withdraw', 5, 5);
  });

  it('COMMUNITIES and LARGE_COMMUNITY not a non-zero multiple of 4 / 12', () => {
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0xc0, 8, '0001000200')), 'treat-as-withdraw', 5, 8);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0xc0, 8, '')), 'treat-as-withdraw', 5, 8);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0xc0, 32, '00'.repeat(13))), 'treat-as-withdraw', 5, 32);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + attr(0xc0, 32, '')), 'treat-as-withdraw', 5, 32);
  });

  it('missing ORIGIN, AS_PATH or NEXT_HOP when announcing: Missing Well-known Attribute, data = the type', () => {
    const u = withNlri(AS_PATH_4 + NEXT_HOP);
    oneProblem(u, 'treat-as-withdraw', 3, 1);
    assert.deepEqual(u.problems[0]!.data, hex('01'));
    oneProblem(withNlri(ORIGIN_IGP + NEXT_HOP), 'treat-as-withdraw', 3, 2);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4), 'treat-as-withdraw', 3, 3);
  });

  it('MP_REACH_NLRI needs ORIGIN and AS_PATH but not NEXT_HOP', () => {
    const reach = attr(0x80, 14, '0002 01 10 20010db8000000000000000000000001 00 40 20010db800000001');
    assert.deepEqual(decodeUpdate(rawUpdate({ attrs: reach + ORIGIN_IGP + AS_PATH_4 }), { fourOctetAs: true }).problems, []);
    oneProblem(decodeUpdate(rawUpdate({ attrs: reach + ORIGIN_IGP }), { fourOctetAs: true }), 'treat-as-withdraw', 3, 2);
  });

  it('an UPDATE that announces nothing needs no attributes', () => {
    assert.deepEqual(decodeUpdate(rawUpdate({ withdrawn: NLRI })).problems, []);
    assert.deepEqual(decodeUpdate(rawUpdate({ attrs: attr(0xc0, 8, '00010002') })).problems, []);
  });

  it('an attribute overrunning the list, or a header left short, after the first attribute', () => {
    const overrun = withNlri(ORIGIN_IGP + AS_PATH_4 + '40 03 09 c0000201');
    oneProblem(overrun, 'treat-as-withdraw', 1);
    assert.deepEqual(overrun.nlri, [cidr('198.51.100.0/24')]);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + '40 05'), 'treat-as-withdraw', 1);
    oneProblem(withNlri(ORIGIN_IGP + AS_PATH_4 + NEXT_HOP + '50 05 00'), 'treat-as-withdraw', 1);
  });

  it('strict mode (RFC 4271) turns the problem into the NOTIFICATION', () => {
    expectError(rawUpdate({ attrs: attr(0x40, 1, '03') + AS_PATH_4 + NEXT_HOP, nlri: NLRI }), 3, 6, { fourOctetAs: true, errorHandling: 'strict' }, '400101 03');
    expectError(rawUpdate({ attrs: ORIGIN_IGP + AS_PATH_4, nlri: NLRI }), 3, 3, { fourOctetAs: true, errorHandling: 'strict' }, '03');
  });
});

describe('RFC 7606 attribute discard', () => {
  const update = (attrs: string, fourOctetAs = true): UpdateMessage =>
    decodeUpdate(rawUpdate({ attrs: ORIGIN_IGP + (fourOctetAs ? AS_PATH_4 : attr(0x40, 2, '02 01 fde9')) + NEXT_HOP + attrs, nlri: NLRI }), { fourOctetAs });

  it('ATOMIC_AGGREGATE of non-zero length', () => {
    const u = update(attr(0x40, 6, '00'));
    oneProblem(u, 'attribute-discard', 5, 6);
    assert.equal(u.attributes.atomicAggregate, undefined);
    assert.equal(u.attributes.origin, 'igp');
  });

  it('AGGREGATOR of the wrong length for the session, with AS 0, or with wrong flags', () => {
    oneProblem(update(attr(0xc0, 7, 'fde9 c0000201')), 'attribute-discard', 5, 7);
    oneProblem(update(attr(0xc0, 7, '0000fde9 c0000201'), false), 'attribute-discard', 5, 7);
    oneProblem(update(attr(0xc0, 7, '00000000 c0000201')), 'attribute-discard', 9, 7);
    oneProblem(update(attr(0x40, 7, '0000fde9 c0000201')), 'attribute-discard', 4, 7);
    assert.deepEqual(update(attr(0xc0, 7, '0000fde9 c0000201')).attributes.aggregator, { asn: 65001, address: ip('192.0.2.1') });
  });

  it('AS4_PATH and AS4_AGGREGATOR from a 4-octet-AS speaker (RFC 6793 §6)', () => {
    oneProblem(update(attr(0xc0, 17, '02 01 fa56ea00')), 'attribute-discard', 9, 17);
    oneProblem(update(attr(0xc0, 18, 'fa56ea00 c0000201')), 'attribute-discard', 9, 18);
  });

  it('malformed AS4_PATH / AS4_AGGREGATOR from a 2-octet speaker', () => {
    oneProblem(update(attr(0xc0, 17, '02 01 fa56'), false), 'attribute-discard', 9, 17);
    oneProblem(update(attr(0xc0, 17, '07 01 fa56ea00'), false), 'attribute-discard', 9, 17);
    oneProblem(update(attr(0xc0, 18, 'fa56ea00 c00002'), false), 'attribute-discard', 5, 18);
  });

  it('AS4_PATH confederation segments are dropped, the rest kept', () => {
    const u = update(attr(0xc0, 17, '03 01 0000fde8 02 01 fa56ea00'), false);
    assert.deepEqual(u.problems, []);
    assert.deepEqual(u.attributes.as4Path, [{ type: 'sequence', asns: [4200000000] }]);
  });

  it('a repeated attribute: every occurrence after the first is discarded', () => {
    const u = update(attr(0x40, 1, '02'));
    oneProblem(u, 'attribute-discard', 1, 1);
    assert.equal(u.attributes.origin, 'igp');
  });
});

describe('unknown optional attributes', () => {
  it('are kept with their flags, partial bit included', () => {
    const u = decodeUpdate(rawUpdate({ attrs: attr(0xe0, 99, '0102') + attr(0x80, 98, '') + attr(0xd0, 97, '00'.repeat(300)) }));
    assert.deepEqual(u.attributes.unknown, [
      { type: 99, flags: 0xe0, value: hex('0102') },
      { type: 98, flags: 0x80, value: Buffer.alloc(0) },
      { type: 97, flags: 0xc0, value: Buffer.alloc(300) },
    ]);
    assert.deepEqual(u.problems, []);
  });
});

describe('BgpParser framing', () => {
  const messages = (): Buffer[] => [
    encodeKeepalive(),
    encodeOpen({ asn: 65001, holdTime: 90, bgpId: 1, capabilities: [{ kind: 'four-octet-as', asn: 65001 }] }),
    rawUpdate({ attrs: ORIGIN_IGP + AS_PATH_4 + NEXT_HOP, nlri: NLRI }),
    hex(`${MARKER} 001a 03 06 02 04 74657374`),
  ];

  function collect(parser: BgpParser, chunks: Buffer[]): { out: BgpMessage[]; error: BgpDecodeError | undefined } {
    const out: BgpMessage[] = [];
    let error: BgpDecodeError | undefined;
    for (const c of chunks) error = parser.feed(c, (m) => out.push(m)) ?? error;
    return { out, error };
  }

  it('decodes messages fed one byte at a time, keeping the partial tail', () => {
    const stream = Buffer.concat(messages());
    const parser = new BgpParser({ fourOctetAs: true });
    const chunks = [...stream].map((b) => Buffer.from([b]));
    const { out, error } = collect(parser, chunks);
    assert.equal(error, undefined);
    assert.deepEqual(out, messages().map((m) => decodeMessage(m, { fourOctetAs: true })));
    assert.equal(parser.buffered, 0);
  });

  it('decodes many messages from one chunk and reports a partial one as buffered', () => {
    const stream = Buffer.concat([...messages(), encodeKeepalive().subarray(0, 7)]);
    const parser = new BgpParser({ fourOctetAs: true });
    const { out } = collect(parser, [stream]);
    assert.equal(out.length, 4);
    assert.equal(parser.buffered, 7);
  });

  it('lets the session switch to 4-octet AS from within the OPEN callback', () => {
    const stream = Buffer.concat([messages()[1]!, messages()[2]!]);
    const parser = new BgpParser();
    const out: BgpMessage[] = [];
    parser.feed(stream, (m) => {
      if (m.type === 'open') parser.options.fourOctetAs = true;
      out.push(m);
    });
    assert.deepEqual((out[1] as UpdateMessage).problems, []);
  });

  it('stops at the first malformed message and keeps returning its error', () => {
    const bad = encodeKeepalive();
    bad[0] = 0;
    const parser = new BgpParser();
    const { out, error } = collect(parser, [Buffer.concat([encodeKeepalive(), bad, encodeKeepalive()])]);
    assert.equal(out.length, 1);
    assert.deepEqual([error?.code, error?.subcode], [1, 1]);
    assert.equal(parser.feed(encodeKeepalive(), () => assert.fail('decoded after failure')), error);
    assert.equal(parser.failed, error);
  });

  it('rejects a bad header as soon as 19 bytes are in, without waiting for the body', () => {
    const parser = new BgpParser();
    const err = parser.feed(hex(`${MARKER} ffff 02`), () => {});
    assert.deepEqual([err?.code, err?.subcode], [1, 2]);
  });

  it('does not let decoded messages alias its buffer', () => {
    const n = hex(`${MARKER} 0017 03 06 07 0102`);
    const parser = new BgpParser();
    const out: BgpMessage[] = [];
    const chunk = Buffer.concat([n.subarray(0, 10)]);
    parser.feed(chunk, (m) => out.push(m));
    parser.feed(Buffer.concat([n.subarray(10), n.subarray(0, 10)]), (m) => out.push(m));
    parser.feed(n.subarray(10), (m) => out.push(m));
    assert.equal(out.length, 2);
    assert.deepEqual(out[0], out[1]);
    assert.deepEqual((out[0] as { data: Buffer }).data, hex('0102'));
  });
});
