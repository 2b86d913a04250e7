import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodedUpdateSize, type Update } from './codec.ts';
import { GossipQueue } from './gossip-queue.ts';

const alive = (name: string, incarnation = 0): Update => ({ kind: 'alive', name, incarnation, address: '10.0.0.1', port: 7946 });

describe('GossipQueue (piggyback)', () => {
  it('sends each update `limit` times, then drops it', () => {
    const q = new GossipQueue();
    q.enqueue(alive('a'));
    for (let i = 0; i < 3; i++) assert.deepEqual(q.take(1000, 3), [alive('a')]);
    assert.deepEqual(q.take(1000, 3), []);
    assert.equal(q.size, 0);
  });

  it('keeps one entry per member: the newer update replaces the queued one', () => {
    const q = new GossipQueue();
    q.enqueue(alive('a', 1));
    q.enqueue({ kind: 'suspect', name: 'a', incarnation: 1, from: 'b' });
    assert.equal(q.size, 1);
    assert.equal(q.get('a')?.kind, 'suspect');
  });

  it('fills a byte budget, least-sent first, newest first among equals', () => {
    const q = new GossipQueue();
    for (const n of ['a', 'b', 'c', 'd']) q.enqueue(alive(n));
    const size = encodedUpdateSize(alive('a'));
    assert.deepEqual(q.take(size * 2, 10).map((u) => u.name), ['d', 'c']);
    assert.deepEqual(q.take(size * 2, 10).map((u) => u.name), ['b', 'a']);
    q.enqueue(alive('e'));
    assert.deepEqual(q.take(size + 1, 10).map((u) => u.name), ['e']);
    assert.deepEqual(q.take(size - 1, 10), [], 'nothing fits');
  });
});
