import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../clock/clock.ts';
import { Coalescer } from './coalescer.ts';

/** A coalescer whose runs each take `costMs` of virtual time; returns the times the runs started. */
function setup(costMs: number) {
  const clock = new FakeClock();
  const runs: number[] = [];
  const c = new Coalescer(
    clock,
    () => {
      runs.push(clock.now());
      clock.spend(costMs);
    },
    { delayMs: 5, busyFactor: 4, maxPauseMs: 250 },
  );
  /** A request every millisecond until `untilMs`, then a quiet second. */
  const stream = (untilMs: number) => {
    while (clock.now() < untilMs) {
      c.request();
      clock.advance(1);
    }
    clock.advance(1000);
  };
  return { clock, runs, c, stream };
}

describe('Coalescer', () => {
  it('runs the first request after quiet delayMs later, once for a burst of requests', () => {
    const { clock, runs, c } = setup(1);
    c.request();
    clock.advance(2);
    c.request();
    c.request();
    clock.advance(10);
    assert.deepEqual(runs, [5]);
  });

  it('under a stream of requests, pauses busyFactor × the last run between runs', () => {
    const { runs, stream } = setup(20);
    stream(400);
    // First at 5; each run takes 20 ms, then 80 ms pause: starts 100 ms apart.
    assert.deepEqual(runs, [5, 105, 205, 305, 405]);
  });

  it('while a stream goes on, doubles the pause up to maxPauseMs, however cheap the runs', () => {
    const { clock, runs, c, stream } = setup(1);
    stream(600);
    // After each 1 ms run a pause: 4 ms (4× the run; the next request still waits its 5 ms), then
    // 10, 20, 40, 80, 160, then the 250 cap.
    assert.deepEqual(runs, [5, 11, 22, 43, 84, 165, 326, 577, 828]);
    // Quiet again: the next request is served after delayMs.
    const at = clock.now();
    c.request();
    clock.advance(10);
    assert.deepEqual(runs.slice(9), [at + 5]);
  });

  it('after the stream stops and a pause has passed, the next request is quick again', () => {
    const { clock, runs, c } = setup(20);
    c.request();
    clock.advance(6); // run at 5, ends at 25: next not before 105
    c.request();
    clock.advance(200); // run at 105, ends at 125: next not before 205; now 225
    assert.deepEqual(runs, [5, 105]);
    c.request();
    clock.advance(10);
    assert.deepEqual(runs, [5, 105, 230]);
  });

  it('caps the pause at maxPauseMs after a very slow run', () => {
    const { clock, runs, c } = setup(1000);
    c.request();
    clock.advance(5); // run at 5, ends at 1005; pause capped at 250
    c.request();
    clock.advance(1000);
    assert.deepEqual(runs, [5, 1255]);
  });

  it('measures a run\'s cost in CPU time when given it: waiting for a core does not stretch the pause', () => {
    const clock = new FakeClock();
    let cpu = 0;
    const runs: number[] = [];
    const c = new Coalescer(
      clock,
      () => {
        runs.push(clock.now());
        clock.spend(100); // 100 ms of wall time on a busy machine ...
        cpu += 2; // ... of which 2 ms on the CPU
      },
      { delayMs: 5, busyFactor: 4, maxPauseMs: 250, cpuNow: () => cpu },
    );
    c.request();
    clock.advance(5); // run at 5, ends at 105; pause 4 × 2 ms
    c.request();
    clock.advance(20);
    assert.deepEqual(runs, [5, 113]);
  });

  it('runNow runs at once and absorbs a pending request; stop ends all runs', () => {
    const { clock, runs, c } = setup(0);
    c.request();
    c.runNow();
    clock.advance(100);
    assert.deepEqual(runs, [0]);
    c.request();
    c.stop();
    c.request();
    c.runNow();
    clock.advance(100);
    assert.deepEqual(runs, [0]);
    assert.equal(clock.pendingTimers(), 0);
  });
});
