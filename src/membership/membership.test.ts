// The membership engine in virtual time over the in-memory network. Every time bound here is virtual.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../clock/clock.ts';
import { silentLogger } from '../log/logger.ts';
import { encodeMessage, type Update } from './codec.ts';
import { Keyring, membershipKey } from './crypto.ts';
import { MemoryNetwork, seededRandom } from './memory-network.ts';
import { Membership, type MemberAddress, type MembershipOptions, type Seed } from './membership.ts';

interface LabOptions {
  readonly seed?: number;
  readonly names?: (i: number) => string;
  readonly key?: (i: number) => string;
  readonly cluster?: (i: number) => string;
  /** Seeds of member i; default every other member (the full roster). */
  readonly seeds?: (i: number, lab: Lab) => readonly Seed[];
  readonly options?: Partial<MembershipOptions>;
}

class Lab {
  readonly clock = new FakeClock();
  readonly net: MemoryNetwork;
  readonly addrs: MemberAddress[];
  readonly nodes: Membership[] = [];
  /** What seeds() returns by default (every member); tests edit it to play Kubernetes. */
  roster: MemberAddress[];

  constructor(
    n: number,
    private readonly o: LabOptions = {},
  ) {
    const seed = o.seed ?? 1;
    this.net = new MemoryNetwork(this.clock, { random: seededRandom(seed) });
    this.addrs = Array.from({ length: n }, (_, i) => ({ name: o.names?.(i) ?? `node-${i}`, address: `10.0.0.${i + 1}`, port: 7946 }));
    this.roster = [...this.addrs];
    for (let i = 0; i < n; i++) this.nodes.push(this.spawn(i));
  }

  /** A fresh Membership for member i on its address (also used to restart it). */
  spawn(i: number): Membership {
    const a = this.addrs[i]!;
    const m = new Membership({
      self: a,
      keys: [this.o.key?.(i) ?? 'cluster secret'],
      cluster: this.o.cluster?.(i) ?? 'test',
      clock: this.clock,
      transport: this.net.attach(a.address, a.port),
      log: silentLogger(),
      seeds: () => this.o.seeds?.(i, this) ?? this.roster.filter((r) => r.name !== a.name),
      random: seededRandom((this.o.seed ?? 1) * 1000 + i + this.nodes.length * 7919),
      ...this.o.options,
    });
    this.nodes[i] = m;
    return m;
  }

  name(i: number): string {
    return this.addrs[i]!.name;
  }

  startAll(): void {
    for (const m of this.nodes) m.start();
  }

  /** Advances virtual time in small steps until `pred` holds; returns the virtual ms it took. */
  runUntil(pred: () => boolean, maxMs: number, what: string, stepMs = 1): number {
    const start = this.clock.now();
    while (!pred()) {
      if (this.clock.now() - start >= maxMs) assert.fail(`${what}: not within ${maxMs} virtual ms`);
      this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }

  /** Every member in `among` sees exactly `names` alive. */
  sees(among: readonly number[], names: readonly string[]): boolean {
    return among.every((i) => {
      const alive = this.nodes[i]!.alive();
      return alive.size === names.length && names.every((n) => alive.has(n));
    });
  }

  all(): number[] {
    return this.addrs.map((_, i) => i);
  }

  converged(): boolean {
    return this.sees(this.all(), this.addrs.map((a) => a.name));
  }

  /** Runs until every member sees every member (a fresh cluster: well under a second). */
  converge(): number {
    return this.runUntil(() => this.converged(), 1500, 'convergence');
  }

  /** Sends raw bytes to member `to` as if from `fromIndex`'s address. */
  inject(fromIndex: number, to: number, bytes: Uint8Array): void {
    this.net.inject(this.addrs[fromIndex]!, this.addrs[to]!, bytes);
  }

  /** A valid, sealed gossip message (test cluster key and name) carrying `updates`. */
  sealedGossip(from: string, updates: Update[]): Buffer {
    return new Keyring([membershipKey('cluster secret')], 'test').seal(encodeMessage({ type: 'gossip', from, updates }));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Records every time some member drops `name` from its alive set. */
function watchDrops(lab: Lab, name: string, among: readonly number[]): { count: number } {
  const seen = { count: 0 };
  for (const i of among) lab.nodes[i]!.onChange((alive) => void (alive.has(name) ? undefined : seen.count++));
  return seen;
}

describe('membership (virtual time, in-memory network)', () => {
  it('a fresh cluster joins through the seed list and converges within a second', () => {
    const lab = new Lab(10);
    lab.startAll();
    assert.ok(lab.nodes.every((m) => !m.joined()));
    lab.clock.advance(3);
    assert.ok(lab.nodes.every((m) => m.joined()), 'one push-pull round trip');
    const ms = lab.converge();
    assert.ok(ms <= 1000, `converged in ${ms} ms`);
    for (const m of lab.nodes) {
      assert.equal(m.memberList().length, 10);
      assert.ok(m.memberList().every((x) => x.state === 'alive'));
      assert.equal(m.isolated(), false);
    }
  });

  it('a member joining a converged cluster sees everyone after one round trip, and everyone sees it soon', () => {
    const lab = new Lab(10);
    for (const m of lab.nodes.slice(0, 9)) m.start();
    lab.runUntil(() => lab.sees([0, 1, 2, 3, 4, 5, 6, 7, 8], lab.addrs.slice(0, 9).map((a) => a.name)), 1500, 'first nine');
    lab.clock.advance(2000);
    lab.nodes[9]!.start();
    lab.clock.advance(3);
    assert.ok(lab.nodes[9]!.joined());
    assert.equal(lab.nodes[9]!.alive().size, 10);
    const ms = lab.converge();
    assert.ok(ms <= 1000, `everyone saw it after ${ms} ms`);
    assert.ok(new Lab(1).nodes.every((m) => (m.start(), m.joined())), 'no seeds: joined at once');
  });

  it('a member joining a converged cluster sees everyone after one round trip, and everyone sees it soon', () => {
    const lab = new Lab(10);
    for (const m of lab.nodes.slice(0, 9)) m.start();
    lab.runUntil(() => lab.sees([0, 1, 2, 3, 4, 5, 6, 7, 8], lab.addrs.slice(0, 9).map((a) => a.name)), 1500, 'first nine');
    lab.clock.advance(2000);
    lab.nodes[9]!.start();
    lab.clock.advance(3);
    assert.ok(lab.nodes[9]!.joined());
    assert.equal(lab.nodes[9]!.alive().size, 10);
    const ms = lab.converge();
    assert.ok(ms <= 1000, `everyone saw it after ${ms} ms`);
    const alone = new Lab(1).nodes[0]!;
    alone.start();
    assert.ok(alone.joined(), 'no seeds: joined at once');
  });

  it('a member that started first, alone, joins (and says so) once the others answer it', () => {
    const lab = new Lab(3);
    const first = lab.nodes[0]!;
    let told = 0;
    first.onChange(() => told++);
    first.start();
    lab.clock.advance(2000); // its join syncs went nowhere
    assert.equal(first.joined(), false);
    lab.nodes[1]!.start();
    lab.nodes[2]!.start();
    lab.converge();
    lab.clock.advance(1000);
    assert.equal(first.joined(), true, 'acks from the others count as joining');
    assert.ok(told > 0, 'listeners heard of it');
  });

  it('converges through gossip when every member knows only one seed', () => {
    const lab = new Lab(12, { seeds: (i, l) => (i === 0 ? [] : [l.addrs[0]!]) });
    lab.startAll();
    lab.runUntil(() => lab.converged(), 3000, 'convergence through one seed');
  });

  it('declares a silent member dead, everywhere, within the expected time', () => {
    const times: number[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const lab = new Lab(5, { seed });
      lab.startAll();
      lab.converge();
      lab.clock.advance(1000 + seed * 37); // steady state, at a different phase each run
      lab.net.setDown('10.0.0.5', true);
      const others = [0, 1, 2, 3];
      // Lower bound: a probe that fails ends ≥ 199 ms after the crash, then at least the 250 ms suspicion.
      lab.clock.advance(440);
      assert.ok(others.every((i) => lab.nodes[i]!.alive().has('node-4')), 'not dead before probe + minimum suspicion');
      const ms = 440 + lab.runUntil(() => lab.sees(others, ['node-0', 'node-1', 'node-2', 'node-3']), 2500, 'detection');
      // Worst case: the round-robin reaches it after up to 7 periods (1400), the probe (200), suspicion (≤ 500).
      assert.ok(ms <= 2100, `seed ${seed}: detected after ${ms} ms`);
      for (const i of others) {
        assert.equal(lab.nodes[i]!.memberList().find((x) => x.name === 'node-4')?.state, 'dead');
        assert.equal(lab.nodes[i]!.isolated(), false);
      }
      times.push(ms);
    }
    assert.ok(median(times) <= 800, `median detection ${median(times)} ms (${times.join(', ')})`);
  });

  it('does not declare dead a slow member that answers within the suspicion window', () => {
    const lab = new Lab(5, { seed: 3 });
    lab.startAll();
    lab.converge();
    const drops = watchDrops(lab, 'node-4', [0, 1, 2, 3]);
    // Its answers come 220 ms late: after the 200 ms probe period (so it is suspected), but its refutation
    // reaches everyone within the 250 ms minimum suspicion.
    lab.net.setSlow('10.0.0.5', 220);
    lab.clock.advance(20_000);
    assert.equal(drops.count, 0, 'never dropped from anyone’s alive set');
    assert.ok(lab.nodes[4]!.stats().refutations > 0, 'it was suspected and refuted');
    assert.ok(lab.nodes[0]!.stats().suspicionsRaised + lab.nodes[1]!.stats().suspicionsRaised > 0);
    // Control: answers 2 s late are too late.
    lab.net.setSlow('10.0.0.5', 2000);
    lab.runUntil(() => lab.sees([0, 1, 2, 3], ['node-0', 'node-1', 'node-2', 'node-3']), 5000, 'very slow member declared dead');
  });

  it('refutation: a member told it is suspect or dead raises its incarnation and stays alive', () => {
    const lab = new Lab(3);
    lab.startAll();
    lab.converge();
    const suspect = lab.sealedGossip('node-0', [{ kind: 'suspect', name: 'node-1', incarnation: 0, from: 'node-0' }]);
    lab.inject(0, 2, suspect);
    lab.inject(0, 1, suspect);
    lab.clock.advance(1);
    assert.equal(lab.nodes[2]!.memberList().find((x) => x.name === 'node-1')?.state, 'suspect');
    assert.ok(lab.nodes[2]!.alive().has('node-1'), 'a suspect still counts as alive');
    lab.clock.advance(2);
    const seen = lab.nodes[2]!.memberList().find((x) => x.name === 'node-1');
    assert.deepEqual([seen?.state, seen?.incarnation], ['alive', 1]);
    assert.equal(lab.nodes[1]!.stats().refutations, 1);
    assert.equal(lab.nodes[1]!.stats().incarnation, 1);

    // Dead, at its current incarnation, told to a bystander first: the bystander drops it, then it refutes.
    lab.inject(0, 2, lab.sealedGossip('node-0', [{ kind: 'dead', name: 'node-1', incarnation: 1, from: 'node-0' }]));
    lab.clock.advance(1);
    assert.equal(lab.nodes[2]!.alive().has('node-1'), false);
    lab.runUntil(() => lab.converged(), 1500, 'refuted death heard by all');
    assert.ok(lab.nodes[1]!.stats().incarnation >= 2);
    // A stale suspicion (older incarnation) is ignored.
    const before = lab.nodes[1]!.stats().refutations;
    lab.inject(0, 1, lab.sealedGossip('node-0', [{ kind: 'suspect', name: 'node-1', incarnation: 0, from: 'node-0' }]));
    lab.clock.advance(5);
    assert.equal(lab.nodes[1]!.stats().refutations, before);
  });

  it('graceful leave is seen by all at once, never fences anyone, and is forgotten later', async () => {
    const lab = new Lab(5);
    lab.startAll();
    lab.converge();
    lab.clock.advance(2000);
    await lab.nodes[3]!.leave();
    assert.equal(lab.nodes[3]!.alive().size, 0);
    lab.clock.advance(2); // one network latency
    const rest = [0, 1, 2, 4];
    assert.ok(lab.sees(rest, ['node-0', 'node-1', 'node-2', 'node-4']));
    for (const i of rest) {
      assert.equal(lab.nodes[i]!.memberList().find((x) => x.name === 'node-3')?.state, 'left');
      assert.equal(lab.nodes[i]!.stats().suspicionsRaised, 0);
    }
    // Kubernetes still lists it (the roster is unchanged), yet a member that left is not counted as a peer.
    lab.clock.advance(61_000);
    assert.equal(lab.nodes[0]!.memberList().some((x) => x.name === 'node-3' && x.state === 'left'), false, 'reaped');
    assert.ok(rest.every((i) => !lab.nodes[i]!.isolated()));
  });

  it('partition: the cut-off member fences itself before it sees anyone dead; the others declare it dead; heal rejoins', () => {
    const lab = new Lab(5, { seed: 5 });
    lab.startAll();
    lab.converge();
    lab.clock.advance(3000);
    const cutoff = lab.nodes[0]!;
    let shrankWhileNotIsolated = 0;
    let shrinks = 0;
    let size = cutoff.alive().size;
    cutoff.onChange((alive) => {
      if (alive.size < size) {
        shrinks++;
        if (!cutoff.isolated()) shrankWhileNotIsolated++;
      }
      size = alive.size;
    });
    const t0 = lab.clock.now();
    lab.net.isolate('10.0.0.1');
    const isolatedAfter = lab.runUntil(() => cutoff.isolated(), 2000, 'cut-off member isolated');
    const others = [1, 2, 3, 4];
    lab.runUntil(() => lab.sees(others, ['node-1', 'node-2', 'node-3', 'node-4']), 2500, 'others declare it dead');
    const othersAfter = lab.clock.now() - t0;
    // It fences no later than about when the others take over (within one probe period).
    assert.ok(isolatedAfter <= othersAfter + 200, `isolated after ${isolatedAfter} ms, others done after ${othersAfter} ms`);
    assert.ok(others.every((i) => !lab.nodes[i]!.isolated()), 'the majority side is not isolated');
    lab.clock.advance(3000);
    assert.ok(shrinks > 0, 'it did give up on the others eventually');
    assert.equal(shrankWhileNotIsolated, 0, 'never saw others die while not fenced');
    assert.ok(cutoff.isolated());
    assert.ok(cutoff.stats().awareness > 0, 'local health degraded');

    lab.net.heal();
    const healMs = lab.runUntil(() => lab.converged() && !cutoff.isolated(), 3000, 'heal');
    assert.ok(healMs <= 1100, `rejoined ${healMs} ms after heal (one seed-sync interval)`);
    lab.clock.advance(5000);
    assert.ok(lab.converged() && lab.all().every((i) => !lab.nodes[i]!.isolated()), 'stable after heal');
  });

  it('two members: a partition fences neither (each takes over, by design)', () => {
    const lab = new Lab(2);
    lab.startAll();
    lab.converge();
    lab.net.partition(['10.0.0.1'], ['10.0.0.2']);
    lab.runUntil(() => lab.sees([0], ['node-0']) && lab.sees([1], ['node-1']), 2000, 'each declares the other dead');
    lab.clock.advance(5000);
    assert.equal(lab.nodes[0]!.isolated(), false);
    assert.equal(lab.nodes[1]!.isolated(), false);
    lab.net.heal();
    lab.runUntil(() => lab.converged(), 2500, 'heal');
  });

  it('three members, two crash: the survivor fences until the roster (Kubernetes) drops them', () => {
    const lab = new Lab(3);
    lab.startAll();
    lab.converge();
    lab.clock.advance(1000);
    lab.net.setDown('10.0.0.2', true);
    lab.net.setDown('10.0.0.3', true);
    lab.runUntil(() => lab.nodes[0]!.isolated(), 1500, 'survivor isolated');
    lab.clock.advance(30_000);
    assert.ok(lab.nodes[0]!.isolated(), 'stays fenced while Kubernetes lists them');
    assert.ok(lab.sees([0], ['node-0']));
    // Only one of them leaves the roster: still one dead peer listed + none alive → peers 1 → 2-member rule.
    lab.roster = lab.roster.filter((a) => a.name !== 'node-2');
    lab.runUntil(() => !lab.nodes[0]!.isolated(), 1500, 'unfenced once the roster shrinks');
  });

  it('one crash in three: the two survivors are not isolated', () => {
    const lab = new Lab(3);
    lab.startAll();
    lab.converge();
    lab.net.setDown('10.0.0.3', true);
    lab.runUntil(() => lab.sees([0, 1], ['node-0', 'node-1']), 2500, 'detection');
    lab.clock.advance(10_000);
    assert.ok(!lab.nodes[0]!.isolated() && !lab.nodes[1]!.isolated());
  });

  it('a member with the wrong key, or of another cluster, is never admitted; its datagrams count as droppedAuth', () => {
    const lab = new Lab(5, { key: (i) => (i === 3 ? 'wrong secret' : 'cluster secret'), cluster: (i) => (i === 4 ? 'other' : 'test') });
    lab.startAll();
    lab.clock.advance(5000);
    assert.ok(lab.sees([0, 1, 2], ['node-0', 'node-1', 'node-2']));
    assert.ok(lab.sees([3], ['node-3']));
    assert.ok(lab.sees([4], ['node-4']));
    for (const i of [0, 1, 2]) assert.ok(lab.nodes[i]!.stats().droppedAuth >= 2, `member ${i} dropped their syncs`);
    assert.ok(lab.nodes[3]!.stats().droppedAuth > 0);
    for (const i of lab.all()) assert.equal(lab.nodes[i]!.stats().droppedMalformed, 0);
  });

  it('counts and ignores unauthenticated, malformed and looped-back datagrams', () => {
    const lab = new Lab(3);
    lab.startAll();
    lab.converge();
    const ring = new Keyring([membershipKey('cluster secret')], 'test');
    const target = lab.nodes[1]!;
    lab.inject(0, 1, Buffer.from('not even an envelope'));
    const sealed = lab.sealedGossip('node-0', [{ kind: 'suspect', name: 'node-2', incarnation: 0, from: 'node-0' }]);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 20]! ^= 0x40;
    lab.inject(0, 1, tampered);
    lab.inject(0, 1, sealed.subarray(0, sealed.length - 1));
    lab.inject(0, 1, ring.seal(Buffer.from([5, 1, 0x61, 0, 1, 42])));
    lab.inject(0, 1, ring.seal(Buffer.from([])));
    lab.inject(0, 1, lab.sealedGossip('node-1', [{ kind: 'dead', name: 'node-2', incarnation: 9, from: 'node-1' }]));
    lab.inject(0, 1, ring.seal(encodeMessage({ type: 'ping', seq: 5, from: 'node-0', target: 'someone-else', updates: [] })));
    lab.clock.advance(2);
    const s = target.stats();
    assert.equal(s.droppedAuth, 3);
    assert.equal(s.droppedMalformed, 2);
    assert.equal(s.droppedMisdirected, 2);
    assert.equal(s.internalErrors, 0);
    assert.ok(target.alive().has('node-2'), 'the looped-back "dead" was ignored');
    lab.clock.advance(2000);
    assert.ok(lab.converged());
  });

  it('survives 5% packet loss with no false deaths', () => {
    const lab = new Lab(8, { seed: 11 });
    lab.startAll();
    lab.converge();
    const drops = lab.addrs.map((a) => watchDrops(lab, a.name, lab.all()));
    lab.net.setLoss(0.05);
    lab.clock.advance(30_000);
    assert.deepEqual(drops.map((d) => d.count), drops.map(() => 0));
    assert.ok(lab.all().every((i) => !lab.nodes[i]!.isolated()));
  });

  it('a restarted member (incarnation 0) refutes its old death and rejoins', () => {
    const lab = new Lab(4);
    lab.startAll();
    lab.converge();
    lab.nodes[3]!.stop();
    lab.runUntil(() => lab.sees([0, 1, 2], ['node-0', 'node-1', 'node-2']), 2500, 'crash detected');
    const fresh = lab.spawn(3);
    fresh.start();
    lab.runUntil(() => lab.converged(), 100, 'rejoin');
    assert.ok(fresh.stats().incarnation >= 1);
  });

  it('keeps datagrams within maxPacketBytes: bounded piggyback, chunked push-pull', () => {
    const lab = new Lab(40, { names: (i) => `worker-node-${i}.rack-7.example.internal`, seeds: (i, l) => (i === 0 ? [] : [l.addrs[0]!]) });
    lab.startAll();
    lab.runUntil(() => lab.converged(), 5000, 'convergence', 5);
    assert.ok(lab.net.maxDatagramBytes <= 1400, `largest datagram ${lab.net.maxDatagramBytes}`);
    assert.ok(lab.net.maxDatagramBytes > 1000, 'push-pull state of 40 long names did need chunking');
  });

  it('stop() cancels everything; alive() is empty and onChange fires', () => {
    const lab = new Lab(3);
    lab.startAll();
    lab.converge();
    const seen: number[] = [];
    const off = lab.nodes[0]!.onChange((a) => seen.push(a.size));
    for (const m of lab.nodes) m.stop();
    assert.deepEqual(seen, [0]);
    off();
    lab.clock.advance(10); // in-flight datagrams land and are ignored
    assert.equal(lab.clock.pendingTimers(), 0);
    assert.ok(lab.nodes.every((m) => m.alive().size === 0 && !m.isolated()));
    const s = lab.nodes[0]!.stats();
    assert.ok(s.sentMessages > 0 && s.sentBytes > s.sentMessages * 29, 'bytes include the envelope');
  });

  it('rejects bad options', () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const base: MembershipOptions = {
      self: { name: 'a', address: '10.0.0.1', port: 7946 },
      keys: ['k'],
      clock,
      transport: net.attach('10.0.0.1', 7946),
      log: silentLogger(),
      seeds: () => [],
    };
    assert.throws(() => new Membership({ ...base, keys: [] }), RangeError);
    assert.throws(() => new Membership({ ...base, self: { ...base.self, address: 'node-a' } }), RangeError);
    assert.throws(() => new Membership({ ...base, self: { ...base.self, name: '' } }), RangeError);
    assert.throws(() => new Membership({ ...base, probeTimeoutMs: 300 }), RangeError);
    assert.throws(() => new Membership({ ...base, probeIntervalMs: 0 }), RangeError);
  });
});
