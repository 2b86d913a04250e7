import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../clock/clock.ts';
import { Suspicion, suspicionTimeout } from './suspicion.ts';

describe('Lifeguard suspicion timeout', () => {
  const t = { minMs: 250, maxMs: 500, k: 3 };

  it('starts at max, falls logarithmically with confirmations, floors at min', () => {
    assert.equal(suspicionTimeout(t, 0), 500);
    assert.equal(suspicionTimeout(t, 1), 375); // 500 − 250·log 2 / log 4
    assert.ok(suspicionTimeout(t, 2) < 375 && suspicionTimeout(t, 2) > 250);
    assert.equal(suspicionTimeout(t, 3), 250);
    assert.equal(suspicionTimeout(t, 9), 250);
    assert.equal(suspicionTimeout({ minMs: 250, maxMs: 500, k: 0 }, 0), 250, 'nobody could confirm (n ≤ 2): min');
  });

  it('expires at max when unconfirmed, earlier as confirmations arrive, at once if already overdue', () => {
    const clock = new FakeClock();
    let fired = -1;
    const s = new Suspicion(clock, t, 'a', () => (fired = clock.now()));
    clock.advance(100);
    assert.equal(s.confirm('a'), false, 'the raiser is not a confirmation');
    assert.equal(s.confirm('b'), true);
    assert.equal(s.confirm('b'), false, 'counted once');
    clock.advance(274);
    assert.equal(fired, -1);
    clock.advance(1);
    assert.equal(fired, 375);
    const late = new Suspicion(clock, t, 'a', () => (fired = clock.now()));
    clock.advance(300);
    late.confirm('b');
    late.confirm('c');
    late.confirm('d');
    assert.equal(late.confirm('e'), false, 'no more than k');
    clock.advance(0);
    assert.equal(fired, clock.now(), 'overdue at min: fires now');
  });

  it('restart and retryIn keep confirmations; cancel stops it', () => {
    const clock = new FakeClock();
    let fires = 0;
    const s = new Suspicion(clock, t, 'a', () => fires++);
    s.confirm('b');
    s.confirm('c');
    s.confirm('d');
    clock.advance(200);
    s.restart();
    assert.equal(s.startedAt, 200);
    clock.advance(249);
    assert.equal(fires, 0);
    clock.advance(1);
    assert.equal(fires, 1);
    s.retryIn(10);
    clock.advance(10);
    assert.equal(fires, 2);
    s.retryIn(10);
    s.cancel();
    clock.advance(100);
    assert.equal(fires, 2);
    assert.equal(clock.pendingTimers(), 0);
  });
});
