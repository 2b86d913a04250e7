// Property tests: valid messages round-trip, a stream cut anywhere frames the same messages, and no input —
// random bytes, or valid messages with bits flipped, bytes cut, inserted or deleted, length fields changed —
// makes decoding throw anything but BgpDecodeError (or hang: every case runs synchronously under the timeout).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { IPFamily } from '../../net/address.ts';
import { BgpDecodeError } from './errors.ts';
import type { BgpMessage, PathAttributes, UpdateMessage } from './messages.ts';
import { BgpParser, decodeMessage, type DecodeOptions } from './parser.ts';
import { announcedPrefixes, withdrawnPrefixes } from './routes.ts';
import { encodeKeepalive, encodeNotification, encodeOpen, encodeRouteRefresh, encodeUpdate, encodeUpdates } from './serializer.ts';
import { arbNextHopIPv4, arbIPv6, arbNotification, arbOpen, arbPrefix, arbRouteRefresh, arbUpdate, attr, frame, rawUpdate } from './testing.ts';

/** Runs per property; the total across this file is printed at the end and must stay ≥ 100,000. */
const RUNS = {
  updateRoundTrip: 6_000,
  openRoundTrip: 4_000,
  otherRoundTrip: 3_000,
  framing: 2_000,
  randomBytes: 30_000,
  randomBodies: 20_000,
  randomAttributes: 20_000,
  mutations: 25_000,
  packing: 300,
};
const TIMEOUT = { timeout: 120_000 };
const seedEnv = process.env.IRONLB_FC_SEED;
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, ...(seedEnv ? { seed: Number(seedEnv) } : {}) });

const LARGE: Partial<DecodeOptions> = { extendedMessages: true };

const arbValidMessage = (fourOctetAs: boolean): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { arbitrary: arbUpdate(fourOctetAs).map((u) => encodeUpdate(u, { fourOctetAs, maxMessageLength: 65535 })), weight: 5 },
    { arbitrary: arbOpen().map(encodeOpen), weight: 2 },
    { arbitrary: arbNotification().map(encodeNotification), weight: 1 },
    { arbitrary: arbRouteRefresh().map(encodeRouteRefresh), weight: 1 },
    { arbitrary: fc.constant(0).map(() => encodeKeepalive()), weight: 1 },
  );

/**
 * Valid messages to mutate and to frame, sampled once: generating a random UPDATE costs far more than
 * decoding one, and the mutations supply the variety.
 */
const POOL_SIZE = 400;
const pools = [false, true].map((four) => fc.sample(arbValidMessage(four), { numRuns: POOL_SIZE, ...(seedEnv ? { seed: Number(seedEnv) } : {}) }));
const arbPooledMessage: fc.Arbitrary<Buffer> = fc
  .tuple(fc.boolean(), fc.nat({ max: POOL_SIZE - 1 }))
  .map(([four, i]) => pools[four ? 1 : 0]![i]!);

/** Decodes, asserting that the only thing ever thrown is a BgpDecodeError. */
function decodeOrError(buf: Buffer, options: Partial<DecodeOptions>): BgpMessage | BgpDecodeError {
  try {
    return decodeMessage(buf, options);
  } catch (e) {
    if (e instanceof BgpDecodeError) return e;
    throw e;
  }
}

/** Feeds `buf` to a fresh parser cut at `cuts`; asserts it never throws and returns what came out. */
function parseStream(buf: Buffer, cuts: number[], options: Partial<DecodeOptions>): { messages: BgpMessage[]; error: BgpDecodeError | undefined } {
  const parser = new BgpParser(options);
  const messages: BgpMessage[] = [];
  let error: BgpDecodeError | undefined;
  const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % (buf.length + 1))))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, buf.length]) {
    const e = parser.feed(buf.subarray(from, to), (m) => messages.push(m));
    if (e) {
      assert.ok(e instanceof BgpDecodeError);
      error = e;
    }
    from = to;
  }
  return { messages, error };
}

let totalRuns = 0;
function check<Ts>(numRuns: number, property: fc.IProperty<Ts>): void {
  totalRuns += numRuns;
  fc.assert(property, params(numRuns));
}

describe('round trips', () => {
  for (const fourOctetAs of [true, false]) {
    it(`random valid UPDATEs (${fourOctetAs ? '4' : '2'}-octet AS)`, TIMEOUT, () => {
      check(
        RUNS.updateRoundTrip / 2,
        fc.property(arbUpdate(fourOctetAs), (u) => {
          const bytes = encodeUpdate(u, { fourOctetAs, maxMessageLength: 65535 });
          assert.deepEqual(decodeMessage(bytes, { fourOctetAs, ...LARGE }), { type: 'update', ...u, treatAsWithdraw: false, problems: [] });
        }),
      );
    });
  }

  it('random OPENs', TIMEOUT, () => {
    check(
      RUNS.openRoundTrip,
      fc.property(arbOpen(), (open) => {
        const myAs = open.asn > 0xffff ? 23456 : open.asn;
        let asn = myAs;
        for (const c of open.capabilities) if (c.kind === 'four-octet-as') asn = c.asn;
        const { holdTime, bgpId, capabilities } = open;
        assert.deepEqual(decodeMessage(encodeOpen(open)), { type: 'open', version: 4, myAs, asn, holdTime, bgpId, capabilities });
      }),
    );
  });

  it('random NOTIFICATIONs, ROUTE-REFRESHes and KEEPALIVEs', TIMEOUT, () => {
    check(
      RUNS.otherRoundTrip,
      fc.property(arbNotification(), arbRouteRefresh(), (n, rr) => {
        const m = decodeMessage(encodeNotification(n));
        assert.ok(m.type === 'notification');
        assert.deepEqual([m.code, m.subcode], [n.code, n.subcode]);
        if (n.shutdownCommunication !== undefined) assert.equal(m.shutdownCommunication, n.shutdownCommunication);
        else assert.deepEqual(m.data, Buffer.from(n.data ?? []));
        assert.deepEqual(decodeMessage(encodeRouteRefresh(rr)), { type: 'route-refresh', ...rr });
        assert.deepEqual(decodeMessage(encodeKeepalive()), { type: 'keepalive' });
      }),
    );
  });
});

describe('framing', () => {
  it('a stream of valid messages cut at random points yields the same messages', TIMEOUT, () => {
    const arbStream = fc
      .tuple(fc.boolean(), fc.array(fc.nat({ max: POOL_SIZE - 1 }), { minLength: 1, maxLength: 8 }))
      .map(([four, picks]) => ({ four, ms: picks.map((i) => pools[four ? 1 : 0]![i]!) }));
    check(
      RUNS.framing,
      fc.property(arbStream, fc.array(fc.nat(), { maxLength: 12 }), ({ four, ms }, cuts) => {
        const options = { fourOctetAs: four, ...LARGE };
        const { messages, error } = parseStream(Buffer.concat(ms), cuts, options);
        assert.equal(error, undefined);
        assert.deepEqual(messages, ms.map((m) => decodeMessage(m, options)));
      }),
    );
  });
});

describe('packing', () => {
  it('encodeUpdates: every prefix once, in order, each message within the limit', TIMEOUT, () => {
    const arbBatch = fc.constantFrom<IPFamily>('IPv4', 'IPv6').chain((family) =>
      fc.record({
        family: fc.constant(family),
        announce: fc.array(arbPrefix(family), { maxLength: 600, size: 'max' }),
        withdraw: fc.array(arbPrefix(family), { maxLength: 600, size: 'max' }),
        nextHop: family === 'IPv4' ? arbNextHopIPv4() : arbIPv6(),
        fourOctetAs: fc.boolean(),
        maxMessageLength: fc.integer({ min: 128, max: 4096 }),
        communities: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 8 }),
      }),
    );
    check(
      RUNS.packing,
      fc.property(arbBatch, (b) => {
        const buffers = encodeUpdates({
          ...b,
          attributes: { origin: 'igp', asPath: [{ type: 'sequence', asns: [65001] }], ...(b.communities.length ? { communities: b.communities } : {}) },
        });
        const updates = buffers.map((buf) => {
          assert.ok(buf.length <= b.maxMessageLength);
          return decodeMessage(buf, { fourOctetAs: b.fourOctetAs }) as UpdateMessage;
        });
        for (const u of updates) assert.deepEqual(u.problems, []);
        assert.deepEqual(updates.flatMap(withdrawnPrefixes), b.withdraw);
        assert.deepEqual(updates.flatMap(announcedPrefixes), b.announce);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed input

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number; fix: boolean }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'header-length'; delta: number }
  | { kind: 'update-length'; which: 0 | 1; delta: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array; fix: boolean }
  | { kind: 'delete'; at: number; count: number; fix: boolean };

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), fix: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 0x7f, 0x80, 0xff, 4, 16, 32, 33, 128, 129) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('u16' as const), at: fc.nat(), value: fc.oneof(fc.nat({ max: 0xffff }), fc.nat({ max: 64 })) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('header-length' as const), delta: fc.integer({ min: -40, max: 40 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('update-length' as const), which: fc.constantFrom(0 as const, 1 as const), delta: fc.integer({ min: -20, max: 20 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }), fix: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }), fix: fc.boolean() }), weight: 1 },
);

function fixLength(buf: Buffer): Buffer {
  if (buf.length >= 18) buf.writeUInt16BE(Math.min(buf.length, 0xffff), 16);
  return buf;
}

function mutate(input: Buffer, m: Mutation): Buffer {
  const buf = Buffer.from(input);
  const n = buf.length;
  switch (m.kind) {
    case 'flip':
      if (n > 0) buf[m.at % n]! ^= 1 << m.bit;
      return buf;
    case 'truncate': {
      const cut = buf.subarray(0, m.at % (n + 1));
      return m.fix ? fixLength(Buffer.from(cut)) : cut;
    }
    case 'byte':
      if (n > 0) buf[m.at % n] = m.value;
      return buf;
    case 'u16':
      if (n >= 2) buf.writeUInt16BE(m.value, m.at % (n - 1));
      return buf;
    case 'header-length':
      if (n >= 18) buf.writeUInt16BE(Math.max(0, Math.min(0xffff, buf.readUInt16BE(16) + m.delta)), 16);
      return buf;
    case 'update-length': {
      if (n < 23 || buf[18] !== 2) return buf;
      const at = m.which === 0 ? 19 : 21 + buf.readUInt16BE(19);
      if (at + 2 > n) return buf;
      buf.writeUInt16BE(Math.max(0, Math.min(0xffff, buf.readUInt16BE(at) + m.delta)), at);
      return buf;
    }
    case 'insert': {
      const at = m.at % (n + 1);
      const out = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
      return m.fix ? fixLength(out) : out;
    }
    case 'delete': {
      const at = m.at % (n + 1);
      const out = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.count)]);
      return m.fix ? fixLength(out) : out;
    }
  }
}

const arbOptions: fc.Arbitrary<Partial<DecodeOptions>> = fc.record({
  fourOctetAs: fc.boolean(),
  extendedMessages: fc.boolean(),
  errorHandling: fc.constantFrom('revised' as const, 'strict' as const),
});

/**
 * Whatever decodes cleanly re-encodes to something that decodes to the same routes and attributes
 * (decode ∘ encode is the identity on decoder output).
 */
function assertReencodes(m: BgpMessage, options: Partial<DecodeOptions>): void {
  if (m.type !== 'update') return;
  const fourOctetAs = options.fourOctetAs ?? false;
  const again = decodeMessage(encodeUpdate(m, { fourOctetAs, maxMessageLength: 65535 }), { ...options, extendedMessages: true });
  assert.ok(again.type === 'update');
  // The encoder puts unknown attributes in type order; the decoder keeps the order received.
  const sorted = (a: PathAttributes): PathAttributes => (a.unknown ? { ...a, unknown: [...a.unknown].sort((x, y) => x.type - y.type) } : a);
  assert.deepEqual([again.withdrawn, again.attributes, again.nlri], [m.withdrawn, sorted(m.attributes), m.nlri]);
}

describe('malformed input never throws anything but BgpDecodeError', () => {
  it('random bytes', TIMEOUT, () => {
    const arbBytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // With a valid marker, so the header checks are passed often enough to matter.
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.alloc(16, 0xff), b])),
    );
    check(
      RUNS.randomBytes,
      fc.property(arbBytes, fc.array(fc.nat(), { maxLength: 4 }), arbOptions, (bytes, cuts, options) => {
        const buf = Buffer.from(bytes);
        const r = decodeOrError(buf, options);
        if (!(r instanceof BgpDecodeError)) assertReencodes(r, options);
        parseStream(buf, cuts, options);
      }),
    );
  });

  it('random bodies behind valid headers', TIMEOUT, () => {
    check(
      RUNS.randomBodies,
      fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 160 }), arbOptions, (type, body, options) => {
        const r = decodeOrError(frame(type, Buffer.from(body)), options);
        if (!(r instanceof BgpDecodeError)) assertReencodes(r, options);
      }),
    );
  });

  it('UPDATEs built from random attributes', TIMEOUT, () => {
    const arbAttr = fc
      .record({
        flags: fc.constantFrom(0x40, 0x80, 0xc0, 0xe0, 0x50, 0x90, 0xd0, 0x00),
        type: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 32, 99),
        value: fc.uint8Array({ maxLength: 40 }),
      })
      .map(({ flags, type, value }) => attr(flags, type, Buffer.from(value).toString('hex')));
    const arbTyped = fc.oneof(
      arbAttr,
      // Plausible MP_REACH / MP_UNREACH heads with random NLRI bytes.
      fc
        .tuple(
          fc.constantFrom<[number, string]>(
            [14, '0001 01 04 0a000001 00'],
            [14, '0002 01 10 20010db8000000000000000000000001 00'],
            [14, `0002 01 20 ${'00'.repeat(32)} 00`],
            [15, '0001 01'],
            [15, '0002 01'],
          ),
          fc.uint8Array({ maxLength: 30 }),
        )
        .map(([[type, head], rest]) => attr(0x80, type, head + Buffer.from(rest).toString('hex'))),
    );
    const arbRawUpdate = fc
      .tuple(fc.array(arbTyped, { maxLength: 6 }), fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 10 }))
      .map(([attrs, nlri, withdrawn]) =>
        rawUpdate({ attrs: attrs.join(''), nlri: Buffer.from(nlri).toString('hex'), withdrawn: Buffer.from(withdrawn).toString('hex') }),
      );
    check(
      RUNS.randomAttributes,
      fc.property(arbRawUpdate, arbOptions, (buf, options) => {
        const r = decodeOrError(buf, options);
        if (!(r instanceof BgpDecodeError)) assertReencodes(r, options);
      }),
    );
  });

  it('valid messages mutated: bit flips, truncation, length fields, inserted and deleted bytes', TIMEOUT, () => {
    // The decode options are random too: half the time the AS size differs from the one encoded with.
    check(
      RUNS.mutations,
      fc.property(
        arbPooledMessage,
        fc.array(arbMutation, { minLength: 1, maxLength: 4 }),
        arbOptions,
        fc.array(fc.nat(), { maxLength: 3 }),
        (m, mutations, options, cuts) => {
          const buf = mutations.reduce(mutate, m);
          const r = decodeOrError(buf, options);
          if (!(r instanceof BgpDecodeError)) assertReencodes(r, options);
          // The same bytes twice through the stream parser, cut up, with a KEEPALIVE after.
          parseStream(Buffer.concat([buf, buf, encodeKeepalive()]), cuts, options);
        },
      ),
    );
  });
});

describe('property budget', () => {
  it('runs at least 100,000 cases in total', () => {
    const planned = Object.values(RUNS).reduce((a, b) => a + b, 0);
    assert.ok(planned >= 100_000, String(planned));
    console.log(`# bgp codec property cases: ${totalRuns} run, ${planned} planned`);
  });
});
