import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCIDR, parseIP, type CIDR, type IPAddress, type IPFamily } from '../../net/address.ts';
import { effectiveAsPath, splitCommunities } from './attributes.ts';
import { BgpEncodeError } from './errors.ts';
import type { PathAttributes, Prefix, UpdateMessage } from './messages.ts';
import { decodeMessage } from './parser.ts';
import { announcedPrefixes, endOfRibFamily, withdrawnPrefixes } from './routes.ts';
import {
  encodeEndOfRib,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  encodeUpdate,
  encodeUpdates,
  type UpdateBatch,
} from './serializer.ts';
import { hex, MARKER } from './testing.ts';

const ip = (s: string): IPAddress => parseIP(s)!;
const cidr = (s: string): CIDR => parseCIDR(s) as CIDR;

const hosts = (family: IPFamily, n: number, base = family === 'IPv4' ? '10.0.0.0' : '2001:db8::'): Prefix[] =>
  Array.from({ length: n }, (_, i) => ({ address: { family, value: ip(base).value + BigInt(i) }, prefixLength: family === 'IPv4' ? 32 : 128 }));

const ATTRS: PathAttributes = {
  origin: 'igp',
  asPath: [{ type: 'sequence', asns: [64512] }],
  communities: [64512 * 65536 + 1, 64512 * 65536 + 2],
  largeCommunities: [{ kind: 'large', globalAdmin: 64512, localData1: 1, localData2: 2 }],
};

function decodeAll(buffers: Buffer[], fourOctetAs = true): UpdateMessage[] {
  return buffers.map((b) => {
    const m = decodeMessage(b, { fourOctetAs });
    assert.equal(m.type, 'update');
    return m as UpdateMessage;
  });
}

describe('round trips, one per message type', () => {
  it('OPEN', () => {
    const open = {
      asn: 4200000001,
      holdTime: 90,
      bgpId: 0x0a000001,
      capabilities: [
        { kind: 'multiprotocol' as const, afi: 1, safi: 1 },
        { kind: 'multiprotocol' as const, afi: 2, safi: 1 },
        { kind: 'route-refresh' as const },
        { kind: 'four-octet-as' as const, asn: 4200000001 },
        { kind: 'graceful-restart' as const, restarting: false, notification: false, restartTime: 120, families: [{ afi: 2, safi: 1, forwardingPreserved: true }] },
        { kind: 'unknown' as const, code: 70, value: Buffer.alloc(0) },
      ],
    };
    assert.deepEqual(decodeMessage(encodeOpen(open)), { type: 'open', version: 4, myAs: 23456, ...open });
  });

  it('OPEN with more than 255 bytes of capabilities uses RFC 9072 extended parameters', () => {
    const capabilities = Array.from({ length: 60 }, (_, i) => ({ kind: 'multiprotocol' as const, afi: i + 1, safi: 1 }));
    const bytes = encodeOpen({ asn: 65001, holdTime: 0, bgpId: 7, capabilities });
    assert.equal(bytes[28], 255);
    assert.equal(bytes[29], 255);
    const open = decodeMessage(bytes);
    assert.deepEqual(open.type === 'open' && open.capabilities, capabilities);
  });

  it('KEEPALIVE, NOTIFICATION, ROUTE-REFRESH', () => {
    assert.deepEqual(decodeMessage(encodeKeepalive()), { type: 'keepalive' });
    assert.deepEqual(decodeMessage(encodeNotification({ code: 4, subcode: 0 })), { type: 'notification', code: 4, subcode: 0, data: Buffer.alloc(0) });
    assert.deepEqual(decodeMessage(encodeNotification({ code: 3, subcode: 9, data: hex('c0 ff 00') })), {
      type: 'notification',
      code: 3,
      subcode: 9,
      data: hex('c0ff00'),
    });
    assert.deepEqual(decodeMessage(encodeRouteRefresh({ afi: 2, safi: 1 })), { type: 'route-refresh', afi: 2, safi: 1, subtype: 0 });
    assert.deepEqual(decodeMessage(encodeRouteRefresh({ afi: 1, safi: 1, subtype: 2 })), { type: 'route-refresh', afi: 1, safi: 1, subtype: 2 });
  });

  it('NOTIFICATION with a shutdown communication, cut to 255 bytes on a character boundary', () => {
    const m = decodeMessage(encodeNotification({ code: 6, subcode: 2, shutdownCommunication: 'node drained for upgrade' }));
    assert.equal(m.type === 'notification' && m.shutdownCommunication, 'node drained for upgrade');
    const long = 'é'.repeat(200); // 400 bytes of UTF-8
    const cut = decodeMessage(encodeNotification({ code: 6, subcode: 4, shutdownCommunication: long }));
    assert.equal(cut.type === 'notification' && cut.shutdownCommunication, 'é'.repeat(127));
  });

  it('UPDATE with every attribute this codec interprets (4-octet session)', () => {
    const attributes: PathAttributes = {
      mpReach: { afi: 2, safi: 1, nextHop: { global: ip('2001:db8::1'), linkLocal: ip('fe80::1') }, nlri: [cidr('2001:db8:1::/48')] },
      mpUnreach: { afi: 2, safi: 1, withdrawn: [cidr('2001:db8:2::/48'), cidr('::/0')] },
      origin: 'incomplete',
      asPath: [
        { type: 'confed-sequence', asns: [65010] },
        { type: 'sequence', asns: [4200000000, 65001] },
        { type: 'set', asns: [1, 2, 3] },
        { type: 'confed-set', asns: [65011, 65012] },
      ],
      nextHop: ip('192.0.2.1'),
      med: 0xffffffff,
      localPref: 200,
      atomicAggregate: true,
      aggregator: { asn: 4200000000, address: ip('192.0.2.9') },
      communities: [0xffffff01],
      largeCommunities: [{ kind: 'large', globalAdmin: 4200000000, localData1: 0, localData2: 0xffffffff }],
      unknown: [{ type: 16, flags: 0xc0, value: hex('0002fde900000064') }],
    };
    const update = { withdrawn: [cidr('10.9.0.0/16')], attributes, nlri: [cidr('10.0.0.0/8'), cidr('0.0.0.0/0'), cidr('10.1.2.3/32')] };
    assert.deepEqual(decodeMessage(encodeUpdate(update, { fourOctetAs: true }), { fourOctetAs: true }), {
      type: 'update',
      ...update,
      treatAsWithdraw: false,
      problems: [],
    });
  });

  it('UPDATE on a 2-octet session: AS_TRANS in AS_PATH and AGGREGATOR, the truth in AS4_PATH and AS4_AGGREGATOR', () => {
    const attributes: PathAttributes = {
      origin: 'igp',
      asPath: [
        { type: 'confed-sequence', asns: [65010] },
        { type: 'sequence', asns: [4200000000, 65001] },
      ],
      nextHop: ip('192.0.2.1'),
      aggregator: { asn: 4200000000, address: ip('192.0.2.9') },
    };
    const bytes = encodeUpdate({ attributes, nlri: [cidr('10.0.0.0/8')] }, { fourOctetAs: false });
    const u = decodeMessage(bytes, { fourOctetAs: false }) as UpdateMessage;
    assert.deepEqual(u.problems, []);
    assert.deepEqual(u.attributes.asPath, [
      { type: 'confed-sequence', asns: [65010] },
      { type: 'sequence', asns: [23456, 65001] },
    ]);
    assert.deepEqual(u.attributes.as4Path, [{ type: 'sequence', asns: [4200000000, 65001] }]);
    assert.deepEqual(u.attributes.aggregator, { asn: 23456, address: ip('192.0.2.9') });
    assert.deepEqual(u.attributes.as4Aggregator, { asn: 4200000000, address: ip('192.0.2.9') });
    assert.deepEqual(effectiveAsPath(u.attributes), attributes.asPath);
  });

  it('AS4_PATH and AS4_AGGREGATOR are never sent on a 4-octet session', () => {
    const bytes = encodeUpdate(
      { attributes: { as4Path: [{ type: 'sequence', asns: [1] }], as4Aggregator: { asn: 1, address: ip('192.0.2.1') } } },
      { fourOctetAs: true },
    );
    assert.equal(bytes.length, 23);
  });

  it('attributes longer than 255 bytes get the extended length bit', () => {
    const communities = Array.from({ length: 100 }, (_, i) => i);
    const bytes = encodeUpdate({ attributes: { communities } }, { fourOctetAs: true });
    assert.equal(bytes.subarray(23, 27).toString('hex'), 'd0080190');
    assert.deepEqual((decodeMessage(bytes) as UpdateMessage).attributes.communities, communities);
  });

  it('long AS_SEQUENCEs are split into segments of 255', () => {
    const asns = Array.from({ length: 300 }, (_, i) => i + 1);
    const u = decodeMessage(encodeUpdate({ attributes: { asPath: [{ type: 'sequence', asns }] } }, { fourOctetAs: true }), { fourOctetAs: true }) as UpdateMessage;
    assert.deepEqual(u.attributes.asPath, [
      { type: 'sequence', asns: asns.slice(0, 255) },
      { type: 'sequence', asns: asns.slice(255) },
    ]);
  });

  it('host bits past the prefix length are not sent', () => {
    const u = decodeMessage(encodeUpdate({ withdrawn: [{ address: ip('10.1.2.3'), prefixLength: 12 }] }, { fourOctetAs: true })) as UpdateMessage;
    assert.deepEqual(u.withdrawn, [cidr('10.0.0.0/12')]);
  });
});

describe('encoding errors', () => {
  it('rejects values that do not fit the wire', () => {
    assert.throws(() => encodeOpen({ asn: 0, holdTime: 90, bgpId: 1, capabilities: [] }), BgpEncodeError);
    assert.throws(() => encodeOpen({ asn: 2 ** 32, holdTime: 90, bgpId: 1, capabilities: [] }), BgpEncodeError);
    assert.throws(() => encodeOpen({ asn: 1, holdTime: 2, bgpId: 1, capabilities: [] }), BgpEncodeError);
    assert.throws(() => encodeOpen({ asn: 1, holdTime: 90, bgpId: 0, capabilities: [] }), BgpEncodeError);
    assert.throws(() => encodeUpdate({ attributes: { communities: [-1] } }, { fourOctetAs: true }), BgpEncodeError);
    assert.throws(() => encodeUpdate({ attributes: { nextHop: ip('2001:db8::1') } }, { fourOctetAs: true }), BgpEncodeError);
    assert.throws(() => encodeUpdate({ nlri: [cidr('2001:db8::/32')] }, { fourOctetAs: true }), BgpEncodeError);
    assert.throws(() => encodeUpdate({ nlri: [{ address: ip('10.0.0.0'), prefixLength: 33 }] }, { fourOctetAs: true }), BgpEncodeError);
    assert.throws(() => encodeUpdate({ attributes: { unknown: [{ type: 1, flags: 0x80, value: Buffer.alloc(0) }], origin: 'igp' } }, { fourOctetAs: true }), BgpEncodeError);
    assert.throws(() => encodeUpdate({ attributes: { unknown: [{ type: 99, flags: 0x40, value: Buffer.alloc(0) }] } }, { fourOctetAs: true }), BgpEncodeError);
  });

  it('rejects an UPDATE that does not fit one message', () => {
    assert.throws(() => encodeUpdate({ nlri: hosts('IPv4', 1000) }, { fourOctetAs: true }), BgpEncodeError);
    assert.doesNotThrow(() => encodeUpdate({ nlri: hosts('IPv4', 1000) }, { fourOctetAs: true, maxMessageLength: 65535 }));
  });

  it('an encoding error leaves the shared writer clean for the next message', () => {
    assert.throws(() => encodeUpdate({ attributes: { origin: 'igp', communities: [2 ** 33] } }, { fourOctetAs: true }));
    assert.deepEqual(encodeKeepalive(), hex(`${MARKER} 0013 04`));
  });
});

describe('End-of-RIB', () => {
  it('is an empty UPDATE for IPv4 and a bare MP_UNREACH_NLRI for IPv6', () => {
    assert.deepEqual(encodeEndOfRib('IPv4'), hex(`${MARKER} 0017 02 0000 0000`));
    assert.deepEqual(encodeEndOfRib('IPv6'), hex(`${MARKER} 001d 02 0000 0006 80 0f 03 0002 01`));
    assert.equal(endOfRibFamily(decodeMessage(encodeEndOfRib('IPv4')) as UpdateMessage), 'IPv4');
    assert.equal(endOfRibFamily(decodeMessage(encodeEndOfRib('IPv6')) as UpdateMessage), 'IPv6');
  });

  it('is not an UPDATE that carries anything', () => {
    const withdraw = decodeMessage(encodeUpdate({ withdrawn: [cidr('10.0.0.0/8')] }, { fourOctetAs: true })) as UpdateMessage;
    assert.equal(endOfRibFamily(withdraw), undefined);
    const attrs = decodeMessage(encodeUpdate({ attributes: { origin: 'igp', mpUnreach: { afi: 2, safi: 1, withdrawn: [] } } }, { fourOctetAs: true })) as UpdateMessage;
    assert.equal(endOfRibFamily(attrs), undefined);
  });
});

describe('encodeUpdates packs prefixes into as few UPDATEs as fit', () => {
  for (const family of ['IPv4', 'IPv6'] as const) {
    it(`${family}: 10,000 host routes, every message ≤ 4096 bytes, every prefix once, in order`, () => {
      const announce = hosts(family, 10_000);
      const batch: UpdateBatch = {
        family,
        attributes: ATTRS,
        nextHop: family === 'IPv4' ? ip('192.0.2.1') : ip('2001:db8::1'),
        announce,
        withdraw: [],
        fourOctetAs: true,
      };
      const buffers = encodeUpdates(batch);
      for (const b of buffers) assert.ok(b.length <= 4096, String(b.length));
      const updates = decodeAll(buffers);
      assert.deepEqual(updates.flatMap(announcedPrefixes), announce);
      for (const u of updates) {
        assert.deepEqual(u.problems, []);
        assert.deepEqual(u.attributes.communities, ATTRS.communities);
        assert.deepEqual(u.attributes.largeCommunities, ATTRS.largeCommunities);
        if (family === 'IPv4') assert.deepEqual(u.attributes.nextHop, ip('192.0.2.1'));
        else {
          assert.deepEqual(u.attributes.mpReach?.nextHop, { global: ip('2001:db8::1') });
          assert.equal(u.attributes.nextHop, undefined);
        }
      }
      // Packing is tight: no message could have taken the next message's first prefix.
      const perPrefix = family === 'IPv4' ? 5 : 17;
      for (const b of buffers.slice(0, -1)) assert.ok(b.length + perPrefix > 4096, String(b.length));
    });

    it(`${family}: withdrawals batched the same way, before announcements`, () => {
      const withdraw = hosts(family, 3000);
      const announce = hosts(family, 10, family === 'IPv4' ? '10.9.0.0' : '2001:db8:9::');
      const buffers = encodeUpdates({
        family,
        attributes: ATTRS,
        nextHop: family === 'IPv4' ? ip('192.0.2.1') : ip('2001:db8::1'),
        announce,
        withdraw,
        fourOctetAs: false,
      });
      const updates = decodeAll(buffers, false);
      const perPrefix = family === 'IPv4' ? 5 : 17;
      assert.equal(buffers.length, Math.ceil((3000 * perPrefix) / (4096 - (family === 'IPv4' ? 23 : 30))) + 1);
      assert.deepEqual(updates.slice(0, -1).flatMap(withdrawnPrefixes), withdraw);
      assert.deepEqual(announcedPrefixes(updates.at(-1)!), announce);
      for (const b of buffers) assert.ok(b.length <= 4096);
    });
  }

  it('mixed prefix lengths, link-local next hop, a smaller message limit', () => {
    const announce = [cidr('2001:db8::/32'), cidr('2001:db8:1::/48'), ...hosts('IPv6', 200), cidr('::/0')];
    const buffers = encodeUpdates({
      family: 'IPv6',
      attributes: { origin: 'igp', asPath: [] },
      nextHop: ip('2001:db8::1'),
      linkLocalNextHop: ip('fe80::1'),
      announce,
      withdraw: [],
      fourOctetAs: true,
      maxMessageLength: 512,
    });
    for (const b of buffers) assert.ok(b.length <= 512);
    const updates = decodeAll(buffers);
    assert.deepEqual(updates.flatMap(announcedPrefixes), announce);
    assert.deepEqual(updates[0]!.attributes.mpReach?.nextHop, { global: ip('2001:db8::1'), linkLocal: ip('fe80::1') });
  });

  it('nothing to send is no messages', () => {
    assert.deepEqual(encodeUpdates({ family: 'IPv4', attributes: {}, announce: [], withdraw: [], fourOctetAs: true }), []);
  });

  it('refuses announcements without a next hop or with prefixes of the other family', () => {
    assert.throws(() => encodeUpdates({ family: 'IPv4', attributes: ATTRS, announce: hosts('IPv4', 1), withdraw: [], fourOctetAs: true }), BgpEncodeError);
    assert.throws(() => encodeUpdates({ family: 'IPv6', attributes: ATTRS, announce: hosts('IPv6', 1), withdraw: [], fourOctetAs: true }), BgpEncodeError);
    assert.throws(
      () => encodeUpdates({ family: 'IPv4', attributes: ATTRS, nextHop: ip('192.0.2.1'), announce: hosts('IPv6', 1), withdraw: [], fourOctetAs: true }),
      BgpEncodeError,
    );
  });

  it('takes communities from the configuration model', () => {
    const split = splitCommunities([
      { kind: 'standard', value: 0xfde90064 },
      { kind: 'large', globalAdmin: 1, localData1: 2, localData2: 3 },
    ]);
    assert.deepEqual(split, { communities: [0xfde90064], largeCommunities: [{ kind: 'large', globalAdmin: 1, localData1: 2, localData2: 3 }] });
  });
});
