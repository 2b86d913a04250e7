import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';

describe('FakeClock', () => {
  it('fires timers in time order, including timers scheduled by timers, and honours cancel', () => {
    const c = new FakeClock();
    const fired: string[] = [];
    c.setTimer(30, () => fired.push(`b@${c.now()}`));
    c.setTimer(10, () => {
      fired.push(`a@${c.now()}`);
      c.setTimer(5, () => fired.push(`a2@${c.now()}`));
    });
    const t = c.setTimer(20, () => fired.push('never'));
    t.cancel();
    c.advance(25);
    assert.deepEqual(fired, ['a@10', 'a2@15']);
    assert.equal(c.now(), 25);
    c.advance(5);
    assert.deepEqual(fired, ['a@10', 'a2@15', 'b@30']);
    assert.equal(c.pendingTimers(), 0);
  });
});

describe('FakeClock.spend', () => {
  it('moves time without firing timers; timers that came due fire late at the next advance, never earlier', () => {
    const c = new FakeClock();
    const fired: string[] = [];
    c.setTimer(10, () => {
      fired.push(`a@${c.now()}`);
      c.spend(30); // the callback works for 30 ms
    });
    c.setTimer(20, () => fired.push(`b@${c.now()}`));
    c.spend(5);
    assert.deepEqual(fired, []);
    assert.equal(c.now(), 5);
    c.advance(10);
    assert.deepEqual(fired, ['a@10']);
    assert.equal(c.now(), 40);
    // b came due at 20 while a kept the loop busy; it fires at the next advance, at 40.
    c.advance(0);
    assert.deepEqual(fired, ['a@10', 'b@40']);
    assert.equal(c.now(), 40);
  });
});
