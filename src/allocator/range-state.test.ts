import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { BigIntMinHeap } from './min-heap.ts';
import { buggyCount, isBuggyIPv4, RangeState } from './range-state.ts';

describe('buggyCount', () => {
  test('matches a brute-force count on small ranges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 1500 }), (start, len) => {
        const first = BigInt(start);
        const last = first + BigInt(len);
        let n = 0n;
        for (let v = first; v <= last; v++) if (isBuggyIPv4(v)) n++;
        assert.equal(buggyCount(first, last), n);
      }),
    );
  });

  test('two per /24, exactly, for big blocks', () => {
    assert.equal(buggyCount(0n, 0xffffffffn), 2n * 2n ** 24n);
    assert.equal(buggyCount(0x0a000000n, 0x0a00ffffn), 512n);
    assert.equal(buggyCount(0x0a000001n, 0x0a0000fen), 0n);
  });
});

describe('BigIntMinHeap', () => {
  test('pops in ascending order', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { maxLength: 300, size: 'max' }), (values) => {
        const h = new BigIntMinHeap();
        for (const v of values) h.push(v);
        const out: bigint[] = [];
        while (h.size > 0) out.push(h.pop()!);
        assert.deepEqual(out, [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }),
    );
  });
});

type Op = { kind: 'takeLowest' } | { kind: 'take'; offset: number } | { kind: 'release'; pick: number };

describe('RangeState', () => {
  test('lowest free and counts always equal a brute-force set', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.constant<Op>({ kind: 'takeLowest' }) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 10_000 }).map<Op>((offset) => ({ kind: 'take', offset })) },
      { weight: 3, arbitrary: fc.nat().map<Op>((pick) => ({ kind: 'release', pick })) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 700 }),
        fc.boolean(),
        fc.constantFrom<'IPv4' | 'IPv6'>('IPv4', 'IPv6'),
        fc.array(op, { maxLength: 400, size: 'max' }),
        (start, len, avoid, family, ops) => {
          const first = 0x0a000000n + BigInt(start);
          const last = first + BigInt(len);
          const r = new RangeState({ family, first, last }, avoid, null);
          const usable = (v: bigint) => !(avoid && family === 'IPv4' && isBuggyIPv4(v));
          const held = new Set<bigint>();
          const check = () => {
            let lowest: bigint | undefined;
            let free = 0n;
            for (let v = first; v <= last; v++) {
              if (!usable(v) || held.has(v)) continue;
              free++;
              lowest ??= v;
            }
            assert.equal(r.lowestFree(), lowest);
            assert.equal(r.free, free);
            assert.equal(r.heldUsable + r.heldBuggy, held.size);
          };
          check();
          for (const o of ops) {
            if (o.kind === 'takeLowest') {
              const v = r.lowestFree();
              if (v === undefined) continue;
              r.take(v);
              held.add(v);
            } else if (o.kind === 'take') {
              const v = first + (BigInt(o.offset) % (last - first + 1n));
              if (held.has(v)) continue;
              r.take(v);
              held.add(v);
            } else {
              if (held.size === 0) continue;
              const v = [...held][o.pick % held.size]!;
              r.release(v);
              held.delete(v);
            }
            check();
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('sizes are exact for huge ranges', () => {
    const r = new RangeState({ family: 'IPv6', first: 0n, last: 2n ** 80n - 1n }, true, null);
    assert.equal(r.usable, 2n ** 80n);
    assert.equal(r.lowestFree(), 0n);
    r.take(2n ** 79n);
    r.take(0n);
    assert.equal(r.free, 2n ** 80n - 2n);
    assert.equal(r.lowestFree(), 1n);
  });

  test('taking out of order and freeing below the watermark stay bounded (stale entries compacted)', () => {
    const r = new RangeState({ family: 'IPv4', first: 0n, last: 100_000n }, false, null);
    for (let i = 0; i < 50_000; i++) r.take(r.lowestFree()!);
    // Free many, then take them back out of order, repeatedly.
    for (let round = 0; round < 20; round++) {
      for (let v = 1000n; v < 2000n; v++) r.release(v);
      for (let v = 1999n; v >= 1000n; v--) r.take(v);
    }
    assert.equal(r.lowestFree(), 50_000n);
    assert.equal(r.heldUsable, 50_000);
    const heap = (r as unknown as { freed: BigIntMinHeap }).freed;
    assert.ok(heap.size <= 1000, `heap holds ${heap.size} entries for 0 free addresses below the watermark`);
  });

  test('holders by offset match a Map, in small ranges and across the 2^53 offset boundary of huge ones', () => {
    const offsets = fc.oneof(
      fc.bigInt({ min: 0n, max: 300_000n }),
      fc.bigInt({ min: 2n ** 53n - 70_000n, max: 2n ** 53n + 70_000n }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom<'IPv4' | 'IPv6'>('IPv4', 'IPv6'),
        fc.array(fc.tuple(fc.boolean(), offsets), { maxLength: 200, size: 'max' }),
        (family, ops) => {
          const first = family === 'IPv4' ? 0x80000000n : 0xfd00n << 112n;
          const last = family === 'IPv4' ? 0xffffffffn : first + 2n ** 64n - 1n;
          const r = new RangeState<null, string>({ family, first, last }, false, null);
          const model = new Map<bigint, string>();
          ops.forEach(([add, offset], i) => {
            const value = first + (offset % (last - first + 1n));
            if (add) {
              r.setHolder(value, `h${i}`);
              model.set(value, `h${i}`);
            } else {
              r.deleteHolder(value);
              model.delete(value);
            }
            assert.equal(r.holderAt(value), model.get(value));
          });
          const listed = [...r.holders()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
          assert.deepEqual(listed, [...model].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
