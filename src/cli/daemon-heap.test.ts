// The speaker's heap policy, checked on V8 itself: a child process allocates like a burst of watch
// events (short-lived garbage plus a growing set of retained objects) with and without the tuning.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const module = fileURLToPath(new URL('./daemon-heap.ts', import.meta.url));

interface Burst {
  /** Young generation when the burst starts (loading tsx has sized it already) and at most during it. */
  readonly startMB: number;
  readonly youngMB: number;
  readonly oldMB: number;
}

function burst(tuned: boolean): Burst {
  const script = `
    import { tuneDaemonHeap } from ${JSON.stringify(module)};
    import { getHeapSpaceStatistics } from 'node:v8';
    const space = (name) => getHeapSpaceStatistics().find((s) => s.space_name === name).space_size;
    const youngGenerationBytes = () => space('new_space');
    if (${tuned}) tuneDaemonHeap();
    const start = youngGenerationBytes();
    const kept = new Map();
    let youngMax = 0;
    for (let round = 0; round < 400; round++) {
      // Per round: 5 objects kept (the cache), a few hundred KB of garbage (parsing, planning).
      for (let i = 0; i < 5; i++) kept.set(round * 5 + i, { name: 'svc-' + (round * 5 + i), data: 'x'.repeat(2000) + round + i });
      let garbage = [];
      for (let i = 0; i < 2000; i++) garbage.push({ i, s: 'g' + i + round, a: [i, i + 1] });
      if (kept.size > 1000) for (const k of [...kept.keys()].slice(0, 5)) kept.delete(k);
      youngMax = Math.max(youngMax, youngGenerationBytes());
      await new Promise((r) => setImmediate(r));
    }
    const old = space('old_space');
    console.log(JSON.stringify({ startMB: start / 2 ** 20, youngMB: youngMax / 2 ** 20, oldMB: old / 2 ** 20 }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Burst;
}

describe('daemon heap policy', () => {
  it('keeps the young generation at its initial size through a burst that grows it by default', () => {
    const untuned = burst(false);
    const tuned = burst(true);
    assert.ok(untuned.youngMB >= 2 * untuned.startMB, `V8's default grows the young generation (${untuned.startMB} → ${untuned.youngMB} MB); else this test shows nothing`);
    assert.equal(tuned.youngMB, tuned.startMB, `tuned: the young generation stays at ${tuned.startMB} MB`);
  });
});
