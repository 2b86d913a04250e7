// BGP codec throughput: encode 10,000 host routes (2 communities, 1 large community) into UPDATEs with
// encodeUpdates, and decode those UPDATEs back through the stream parser, for IPv4 and IPv6.
// Prints one JSON line per figure (median of the repetitions).
//   node --import tsx bench/bgp-codec.ts [--reps N]
import type { IPFamily } from '../src/net/address.ts';
import { BgpParser } from '../src/bgp/codec/parser.ts';
import { encodeUpdates, type UpdateBatch } from '../src/bgp/codec/serializer.ts';
import type { Prefix } from '../src/bgp/codec/messages.ts';

const N = 10_000;
const repsArg = process.argv.indexOf('--reps');
const REPS = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 11;
/** Each repetition repeats the operation for at least this long, so one GC pause does not make the figure. */
const MIN_REP_MS = 50;

function prefixes(family: IPFamily): Prefix[] {
  const base = family === 'IPv4' ? 0x0a000000n : 0x20010db8n << 96n;
  const prefixLength = family === 'IPv4' ? 32 : 128;
  return Array.from({ length: N }, (_, i) => ({ address: { family, value: base + BigInt(i) * 7n }, prefixLength }));
}

function batch(family: IPFamily): UpdateBatch {
  return {
    family,
    attributes: {
      origin: 'igp',
      asPath: [{ type: 'sequence', asns: [64512] }],
      localPref: 100,
      communities: [64512 * 65536 + 100, 64512 * 65536 + 200],
      largeCommunities: [{ kind: 'large', globalAdmin: 4200000000, localData1: 1, localData2: 2 }],
    },
    nextHop: family === 'IPv4' ? { family, value: 0xc0a80001n } : { family, value: (0x20010db8n << 96n) | 1n },
    announce: prefixes(family),
    withdraw: [],
    fourOctetAs: true,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Prefixes per second of `op` (which handles N prefixes), one figure per repetition. */
function measure(op: () => void): number[] {
  const rates: number[] = [];
  for (let r = 0; r < REPS; r++) {
    let runs = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    do {
      op();
      runs++;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    } while (elapsed < MIN_REP_MS);
    rates.push((runs * N) / (elapsed / 1000));
  }
  return rates;
}

function emit(metric: string, value: number, unit: string): void {
  console.log(JSON.stringify({ bench: 'bgp-codec', metric, value: Math.round(value), unit, n: N }));
}

for (const family of ['IPv4', 'IPv6'] as const) {
  const b = batch(family);
  const suffix = family === 'IPv4' ? '' : '_v6';
  let messages: Buffer[] = [];
  for (let i = 0; i < 3; i++) messages = encodeUpdates(b); // warm-up
  const encodeRates = measure(() => {
    messages = encodeUpdates(b);
  });
  const stream = Buffer.concat(messages);
  const decodeOnce = (): number => {
    const parser = new BgpParser({ fourOctetAs: true });
    let count = 0;
    // 64 KiB chunks, as a socket would deliver them.
    for (let at = 0; at < stream.length; at += 65536) {
      const err = parser.feed(stream.subarray(at, at + 65536), (m) => {
        if (m.type === 'update') count += m.nlri.length + (m.attributes.mpReach?.nlri.length ?? 0);
      });
      if (err) throw err;
    }
    return count;
  };
  for (let i = 0; i < 3; i++) decodeOnce();
  const decodeRates = measure(() => {
    const count = decodeOnce();
    if (count !== N) throw new Error(`decoded ${count} prefixes, want ${N}`);
  });
  emit(`encode_prefixes_per_s${suffix}`, median(encodeRates), 'prefixes/s');
  emit(`decode_prefixes_per_s${suffix}`, median(decodeRates), 'prefixes/s');
  emit(`updates_per_batch${suffix}`, messages.length, 'messages');
}
