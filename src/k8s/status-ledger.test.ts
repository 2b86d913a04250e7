import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusLedger, statusKey, type StatusObject } from './status-ledger.ts';

const obj = (id: string, status: Record<string, unknown>): StatusObject => ({ id, labels: {}, status });
const want = (l: StatusLedger, ...objects: StatusObject[]) => l.want(new Map(objects.map((o) => [`n-${o.id}`, o])));

/** Performs every action the ledger asks for, as a server would answer it; returns what was done. */
function writeAll(l: StatusLedger, names: readonly string[], versions = { next: 100 }): string[] {
  const done: string[] = [];
  for (const name of names) {
    for (let a = l.next(name); a; a = l.next(name)) {
      done.push(`${a.kind} ${name}`);
      const rv = String(versions.next++);
      if (a.kind === 'create') l.created(name, rv);
      else if (a.kind === 'patch') l.patched(name, a.key, rv);
      else l.deleted(name);
    }
  }
  return done;
}

describe('statusKey', () => {
  it('ignores key order and undefined fields, not array order', () => {
    assert.equal(statusKey({ b: 1, a: [{ y: 2, x: 1 }], c: undefined }), statusKey({ a: [{ x: 1, y: 2 }], b: 1 }));
    assert.notEqual(statusKey({ a: [1, 2] }), statusKey({ a: [2, 1] }));
  });
});

describe('StatusLedger', () => {
  it('touches nothing before the first desired state, even objects a previous run left', () => {
    const l = new StatusLedger();
    assert.equal(l.observe('add', 'n-old', '1', { node: 'x' }), false);
    assert.equal(l.next('n-old'), undefined);
  });

  it('creates and writes new objects, deletes the undesired, and reuses ones that already match', () => {
    const l = new StatusLedger();
    l.observe('add', 'n-same', '1', { peers: ['a'], node: 'x' });
    l.observe('add', 'n-stale', '2', { peers: ['a'] });
    l.observe('add', 'n-gone', '3', {});
    const dirty = want(l, obj('same', { node: 'x', peers: ['a'] }), obj('stale', { peers: ['a', 'b'] }), obj('new', { peers: ['b'] }));
    assert.deepEqual(dirty.sort(), ['n-gone', 'n-new', 'n-stale']);
    assert.deepEqual(writeAll(l, dirty.sort()), ['delete n-gone', 'create n-new', 'patch n-new', 'patch n-stale']);
    assert.deepEqual(want(l, obj('same', { node: 'x', peers: ['a'] }), obj('stale', { peers: ['a', 'b'] }), obj('new', { peers: ['b'] })), []);
  });

  it('asks for a write only for the objects whose status changed', () => {
    const l = new StatusLedger();
    const objects = Array.from({ length: 100 }, (_, i) => obj(`s${i}`, { peers: ['a'] }));
    writeAll(l, want(l, ...objects));
    objects[42] = obj('s42', { peers: ['a', 'b'] });
    assert.deepEqual(want(l, ...objects), ['n-s42']);
    assert.deepEqual(writeAll(l, ['n-s42']), ['patch n-s42']);
    assert.deepEqual(want(l, ...objects), []);
  });

  it('takes the latest desired state when a write comes due', () => {
    const l = new StatusLedger();
    want(l, obj('a', { v: 1 }));
    assert.equal(l.next('n-a')?.kind, 'create');
    l.created('n-a', '10');
    want(l, obj('a', { v: 2 })); // changed while the create was under way
    const a = l.next('n-a');
    assert.equal(a?.kind, 'patch');
    assert.deepEqual(a?.kind === 'patch' && a.object.status, { v: 2 });
  });

  it('ignores late echoes of its own writes, but believes changes by others', () => {
    const l = new StatusLedger();
    writeAll(l, want(l, obj('a', { v: 1 })), { next: 10 }); // create → rv 10, patch → rv 11
    // The ADDED event of the create, without a status, arrives after the status was written.
    assert.equal(l.observe('add', 'n-a', '10', undefined), false);
    assert.equal(l.observe('update', 'n-a', '11', { v: 1 }), false);
    assert.equal(l.next('n-a'), undefined);
    // Someone else overwrote the status.
    assert.equal(l.observe('update', 'n-a', '12', { v: 9 }), true);
    assert.equal(l.next('n-a')?.kind, 'patch');
    // ... or an echo of our write arrived before its response: it shows what we want, nothing to do.
    l.observe('update', 'n-a', '13', { v: 1 });
    assert.equal(l.next('n-a'), undefined);
  });

  it('recreates an object deleted behind its back, and forgets deleted ones', () => {
    const l = new StatusLedger();
    writeAll(l, want(l, obj('a', { v: 1 }), obj('b', { v: 1 })));
    assert.equal(l.observe('delete', 'n-a', '20', { v: 1 }), true);
    assert.deepEqual(writeAll(l, ['n-a']), ['create n-a', 'patch n-a']);
    assert.deepEqual(want(l, obj('a', { v: 1 })), ['n-b']);
    assert.deepEqual(writeAll(l, ['n-b']), ['delete n-b']);
    assert.equal(l.observe('delete', 'n-b', '30', {}), false);
    assert.deepEqual(want(l), ['n-a']);
  });
});
