// Fast node-failure detection among speakers: SWIM (Das, Gupta, Motivala 2002) with Lifeguard's
// refinements (Dadgar et al. 2018), over encrypted UDP. Layer2 failover waits on this, not on Kubernetes.
//
// Protocol
// - Every probe interval (200 ms) a member pings the next member of a randomly shuffled round-robin list.
//   No ack within the probe timeout (100 ms): it asks `indirectChecks` (3) other members to ping the target
//   (ping-req); they relay an ack, or a nack when they heard nothing either. No ack by the end of the
//   interval: the target becomes *suspect*.
// - A suspect is declared *dead* when its suspicion times out, unless it refutes by gossiping `alive` with
//   a higher incarnation. The timeout follows Lifeguard: min = suspicionTimeoutMs·max(1, log10 n) (250 ms
//   up to 10 members, 425 ms at 50), up to 2·min while nobody else confirms, down to min once min(3, n−2)
//   others independently suspect it too. A member that hears of a new suspicion pings the suspect once
//   itself; no ack within the probe timeout is its independent confirmation, so the timeout usually drops
//   to min about 100 ms into the suspicion. Expected detection: ~one probe wait + 200 ms + min ≈ 0.6 s.
// - Updates (alive/suspect/dead/left, each with its incarnation) ride on every message, fewest-sent first,
//   each about retransmitMultiplier·⌈log10(n+1)⌉ times. The rare urgent ones are also sent at once to
//   every member (at most 64): a suspicion or confirmation raised on a member's own failed ping, a death
//   declared by a member that had such evidence, a refutation, a leave. Detection then ends everywhere
//   within a round trip of the first verdict, and a falsely suspected member hears of it at once and
//   refutes in time. Only about K+1 members have own evidence (confirmation pings are sent by a random
//   2K of those who hear of a suspicion), so a death costs O(K·n) datagrams, not O(n²).
// - Local health (Lifeguard LHM): failed probes without the relays' nacks and refutations about ourselves
//   raise an awareness score 0..8 that stretches our probe interval and timeout, so a starved or cut-off
//   member accuses others more slowly; each successful probe lowers it.
// - Join and anti-entropy: on start, push-pull (sync: whole member table both ways, in ≤ 1400-byte
//   chunks) with 3 random seeds, and joined() turns true with the first reply; then every second with one
//   seed not currently alive (this is also how the two sides of a healed partition find each other), and
//   every 30 s with one random member. A member hearing from one it holds suspect, dead or left tells it
//   so, and it refutes. A fresh cluster of 50 converges in under a second.
// - Every datagram is sealed with AES-256-GCM (crypto.ts); anything that fails to open is counted in
//   droppedAuth and ignored, anything that opens but does not decode in droppedMalformed.
//
// PARTITION RULE (self-fencing)
// A member that can reach no other member must stop answering ARP/NDP soon, because the others will
// declare it dead and take its addresses over. `isolated()` is true while this member is running and
//   (a) it knows at least 2 peers, and
//   (b) it has had no *answer* from any other member (an ack to its ping, direct or relayed, a relay's
//       nack, or a sync reply) for isolationTimeoutMs (default 2 × the minimum suspicion timeout: 500 ms).
// Any answer ends it at once. The speaker must announce nothing while isolated() is true (self-fence);
// the others meanwhile declare the member dead and one of them takes over.
// Companion rule: a member with ≥ 2 peers holds back its own "dead" verdict on a suspect while it has had
// no answer since that suspicion began (it may be the one cut off), until an answer comes or it is
// isolated anyway. So a cut-off member is always fenced before its alive() shrinks: its speaker never
// sees "everybody else died" and grabs their addresses while still announcing.
// Peers counted for (a): other members alive or suspect in this member's view, plus members it saw die
// that `seeds()` still lists, plus seeds it never heard from. `seeds()` is therefore the roster: it must
// list every other speaker that Kubernetes reports (Ready speaker pods), not a subset.
// Trade-offs, chosen deliberately:
// - Two members (1 peer): never isolated. When they lose each other, each declares the other dead and both
//   announce: with two nodes a cut-off node and a dead peer look the same, and self-fencing would turn
//   every single node failure into a full outage. Both announcing is what MetalLB does today.
// - A symmetric split with members on both sides (2|2, 2|3) is not fenced: each side answers from its own
//   elected node, as in MetalLB. Only a member cut off from *all* others fences itself.
// - All other members truly dead (3 nodes, 2 crash): the survivor cannot tell this from being cut off, so
//   it fences until Kubernetes stops listing the dead speakers in seeds() (their pods become NotReady,
//   ~40–50 s) and its peer count drops below 2. An outage for a double failure, never a split brain.
// - A member that left gracefully (leave()) no longer counts, so rolling restarts never fence anyone.
import type { Clock, Timer } from '../clock/clock.ts';
import type { Logger } from '../log/logger.ts';
import { formatIP, parseIP } from '../net/address.ts';
import { decodeMessage, encodedHeaderSize, encodedUpdateSize, encodeMessage, maxNameBytes, type MemberState, type Message, type Update } from './codec.ts';
import { envelopeOverhead, Keyring, membershipKey } from './crypto.ts';
import { GossipQueue } from './gossip-queue.ts';
import { Suspicion, type SuspicionTimes } from './suspicion.ts';
import type { Endpoint, Transport } from './transport.ts';

export type { MemberState } from './codec.ts';
export type { Endpoint, Transport } from './transport.ts';

export const defaultMembershipPort = 7946;

export interface MemberAddress {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

/** Where another speaker can be reached; with its name (node name) when known. */
export interface Seed {
  readonly name?: string;
  readonly address: string;
  readonly port: number;
}

export interface MembershipOptions {
  readonly self: MemberAddress;
  /** The keyring, first key seals; each 32-byte value is used as is, anything else goes through HKDF. */
  readonly keys: readonly (Uint8Array | string)[];
  /** Bound into every envelope as additional data; default "ironlb". */
  readonly cluster?: string;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly log: Logger;
  /** Every other speaker (the roster, see the partition rule); read at start and every seedSyncIntervalMs. */
  readonly seeds: () => readonly Seed[];
  readonly probeIntervalMs?: number;
  readonly probeTimeoutMs?: number;
  readonly indirectChecks?: number;
  /** Minimum suspicion timeout for n ≤ 10 members; scaled by log10(n) above. Default 250 ms. */
  readonly suspicionTimeoutMs?: number;
  /** Unconfirmed suspicions wait this multiple of the minimum. Default 2. */
  readonly suspicionMaxMultiplier?: number;
  /** Default 2 × the current minimum suspicion timeout. */
  readonly isolationTimeoutMs?: number;
  /** λ: each update is piggybacked λ·⌈log10(n+1)⌉ times. Default 4. */
  readonly retransmitMultiplier?: number;
  /** Seeds (at random) to push-pull with on start; the rest is learnt by gossip. Default 3. */
  readonly joinFanout?: number;
  readonly seedSyncIntervalMs?: number;
  readonly pushPullIntervalMs?: number;
  /** Dead and left members are forgotten after this long. Default 60 s. */
  readonly reapAfterMs?: number;
  /** Largest datagram sent (UDP payload, envelope included). Default 1400. */
  readonly maxPacketBytes?: number;
  /** [0, 1); default Math.random. Tests pass a seeded one. */
  readonly random?: () => number;
}

export interface MemberInfo {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly state: MemberState;
  readonly incarnation: number;
}

export interface MembershipStats {
  sentBytes: number;
  sentMessages: number;
  receivedBytes: number;
  receivedMessages: number;
  /** Failed to open: wrong key, other cluster, tampered, truncated, unknown envelope version. */
  droppedAuth: number;
  /** Opened but did not decode. */
  droppedMalformed: number;
  /** Decoded but not for us: a ping for another name, our own datagram looped back. */
  droppedMisdirected: number;
  probes: number;
  probeFailures: number;
  indirectProbes: number;
  suspicionsRaised: number;
  declaredDead: number;
  refutations: number;
  internalErrors: number;
  /** Lifeguard local health score, 0 = healthy. */
  awareness: number;
  incarnation: number;
  /** Other members in the table, any state. */
  members: number;
}

interface Member {
  readonly name: string;
  address: string;
  port: number;
  incarnation: number;
  state: MemberState;
  since: number;
  suspicion: Suspicion | undefined;
  /** We suspect it on our own evidence (our probe failed), not only on hearsay: we broadcast its death. */
  evidence: boolean;
  /** Who raised the current suspicion (passed on as is, so that hearsay never counts as a confirmation). */
  suspectedBy: string;
  /** Last time we told it that we hold it suspect/dead/left (rate limit). */
  toldAt: number;
}

type Pending =
  | { readonly kind: 'probe'; readonly target: string; acked: boolean; nacks: number; expectedNacks: number; readonly timers: Timer[] }
  | { readonly kind: 'confirm'; readonly target: string; readonly incarnation: number; readonly timers: Timer[] }
  | { readonly kind: 'check'; readonly timers: Timer[] }
  | { readonly kind: 'relay'; readonly requesterSeq: number; readonly to: Endpoint; readonly timers: Timer[] };

type Counters = Omit<MembershipStats, 'awareness' | 'incarnation' | 'members'>;

const maxAwareness = 8;
const maxBroadcastTargets = 64;
const suspicionConfirmationsWanted = 3;

const endpointKey = (address: string, port: number): string => `${address}|${port}`;

/** The one text form of an IP (so "fd00:0::1" and "fd00::1" compare equal); undefined if not an IP. */
function canonicalIP(address: string): string | undefined {
  const ip = parseIP(address);
  return ip ? formatIP(ip) : undefined;
}

export class Membership {
  private readonly self: MemberAddress;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly seedsFn: () => readonly Seed[];
  private readonly keyring: Keyring;
  private readonly random: () => number;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly indirectChecks: number;
  private readonly suspicionBaseMs: number;
  private readonly suspicionMaxMultiplier: number;
  private readonly isolationTimeoutOpt: number | undefined;
  private readonly retransmitMultiplier: number;
  private readonly joinFanout: number;
  private readonly seedSyncIntervalMs: number;
  private readonly pushPullIntervalMs: number;
  private readonly reapAfterMs: number;
  /** Plaintext bytes per datagram. */
  private readonly plainBudget: number;

  private readonly members = new Map<string, Member>();
  private readonly pending = new Map<number, Pending>();
  private readonly queue = new GossipQueue();
  private readonly changeListeners = new Set<(alive: ReadonlySet<string>) => void>();
  private readonly isolationListeners = new Set<(isolated: boolean) => void>();
  private readonly counters: Counters = {
    sentBytes: 0,
    sentMessages: 0,
    receivedBytes: 0,
    receivedMessages: 0,
    droppedAuth: 0,
    droppedMalformed: 0,
    droppedMisdirected: 0,
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    suspicionsRaised: 0,
    declaredDead: 0,
    refutations: 0,
    internalErrors: 0,
  };

  private incarnation = 0;
  private running = false;
  private seq = 0;
  private awareness = 0;
  private lastAnswerAt = 0;
  private hasJoined = false;
  /** joined() turned true and the change listeners have not been told yet. */
  private joinedUnannounced = false;
  private probeList: string[] = [];
  private probeIndex = 0;
  private roster: readonly Seed[] = [];
  private rosterNames = new Set<string>();
  private rosterEndpoints = new Set<string>();
  private aliveView: ReadonlySet<string> = new Set();
  /** Bumped on every change of the table, the roster or running; derived views are cached by it. */
  private version = 0;
  private derivedVersion = -1;
  private derivedCache: { clusterSize: number; peerCount: number; alive: ReadonlySet<string> } = { clusterSize: 1, peerCount: 0, alive: new Set() };
  private isolatedView = false;
  private timers: Timer[] = [];

  constructor(options: MembershipOptions) {
    const o = options;
    const nameLength = Buffer.byteLength(o.self.name, 'utf8');
    if (nameLength === 0 || nameLength > maxNameBytes) throw new RangeError(`member name "${o.self.name}" must be 1..${maxNameBytes} bytes`);
    if (!parseIP(o.self.address)) throw new RangeError(`member address "${o.self.address}" is not an IP address`);
    if (!Number.isInteger(o.self.port) || o.self.port < 1 || o.self.port > 0xffff) throw new RangeError(`member port ${o.self.port} out of range`);
    if (o.keys.length === 0) throw new RangeError('membership needs at least one key');
    this.self = { name: o.self.name, address: canonicalIP(o.self.address)!, port: o.self.port };
    this.clock = o.clock;
    this.transport = o.transport;
    this.log = o.log;
    this.seedsFn = o.seeds;
    this.keyring = new Keyring(o.keys.map((k) => membershipKey(k)), o.cluster ?? 'ironlb');
    this.random = o.random ?? Math.random;
    const positive = (v: number | undefined, dflt: number, what: string): number => {
      const x = v ?? dflt;
      if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${what} must be a positive number, got ${x}`);
      return x;
    };
    this.probeIntervalMs = positive(o.probeIntervalMs, 200, 'probeIntervalMs');
    this.probeTimeoutMs = positive(o.probeTimeoutMs, 100, 'probeTimeoutMs');
    if (this.probeTimeoutMs >= this.probeIntervalMs) throw new RangeError('probeTimeoutMs must be shorter than probeIntervalMs');
    this.indirectChecks = Math.max(0, Math.floor(o.indirectChecks ?? 3));
    this.suspicionBaseMs = positive(o.suspicionTimeoutMs, 250, 'suspicionTimeoutMs');
    this.suspicionMaxMultiplier = Math.max(1, o.suspicionMaxMultiplier ?? 2);
    this.isolationTimeoutOpt = o.isolationTimeoutMs === undefined ? undefined : positive(o.isolationTimeoutMs, 0, 'isolationTimeoutMs');
    this.retransmitMultiplier = positive(o.retransmitMultiplier, 4, 'retransmitMultiplier');
    this.joinFanout = Math.max(1, Math.floor(o.joinFanout ?? 3));
    this.seedSyncIntervalMs = positive(o.seedSyncIntervalMs, 1000, 'seedSyncIntervalMs');
    this.pushPullIntervalMs = positive(o.pushPullIntervalMs, 30_000, 'pushPullIntervalMs');
    this.reapAfterMs = positive(o.reapAfterMs, 60_000, 'reapAfterMs');
    const maxPacket = positive(o.maxPacketBytes, 1400, 'maxPacketBytes');
    this.plainBudget = maxPacket - envelopeOverhead;
    if (this.plainBudget < 600) throw new RangeError('maxPacketBytes must be at least 629');
    this.transport.onMessage((bytes, from) => this.receive(bytes, from));
  }

  // --- public API --------------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.touch();
    this.lastAnswerAt = this.clock.now();
    this.hasJoined = false;
    this.refreshRoster();
    this.queue.enqueue(this.selfAlive());
    for (const s of this.sample(this.roster, this.joinFanout)) this.sendState('sync', s, true);
    this.every(this.random() * this.probeIntervalMs, () => this.probeTick());
    this.every(this.seedSyncIntervalMs, () => this.seedSyncTick());
    this.every(this.pushPullIntervalMs * (0.5 + this.random()), () => this.pushPullTick());
    this.every(Math.max(10, this.probeIntervalMs / 2), () => this.watchTick());
    this.log.info({ self: this.self, seeds: this.roster.length }, 'membership started');
    this.afterChange();
  }

  /** Stops at once, telling nobody (the others will detect it): a crash, as far as they can tell. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.touch();
    for (const t of this.timers) t.cancel();
    this.timers = [];
    for (const p of this.pending.values()) for (const t of p.timers) t.cancel();
    this.pending.clear();
    for (const m of this.members.values()) m.suspicion?.cancel();
    this.members.clear();
    this.queue.clear();
    this.probeList = [];
    this.probeIndex = 0;
    this.log.info({ self: this.self.name }, 'membership stopped');
    this.afterChange();
  }

  /** Graceful: tells every member that we left (so they drop us at once, and never fence over us), then stops. */
  async leave(): Promise<void> {
    if (!this.running) return;
    const left: Update = { kind: 'left', name: this.self.name, incarnation: this.incarnation };
    const targets = [...this.members.values()].filter((m) => m.state === 'alive' || m.state === 'suspect');
    // Twice: a lost datagram would leave that member to detect us the slow way.
    this.broadcast(left, targets);
    this.broadcast(left, targets);
    this.log.info({ self: this.self.name, told: targets.length }, 'membership left');
    this.stop();
  }

  /** Names of live members (alive or suspect), self included while running. */
  alive(): ReadonlySet<string> {
    return this.aliveView;
  }

  /** Called with the new set whenever alive() changes. Returns an unsubscribe function. */
  onChange(cb: (alive: ReadonlySet<string>) => void): () => void {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }

  /**
   * True once this member has received a push-pull reply (it holds some member's whole table), or has no
   * seeds at all. Before that alive() is only what it has heard so far (perhaps just itself): a speaker
   * must not elect from it.
   */
  joined(): boolean {
    return this.running && (this.hasJoined || this.roster.length === 0);
  }

  /** See the partition rule at the top of this file: while true, announce nothing. */
  isolated(): boolean {
    return this.isolatedView;
  }

  onIsolationChange(cb: (isolated: boolean) => void): () => void {
    this.isolationListeners.add(cb);
    return () => this.isolationListeners.delete(cb);
  }

  /** Every member known, self first. */
  memberList(): MemberInfo[] {
    const out: MemberInfo[] = [];
    if (this.running) out.push({ ...this.self, state: 'alive', incarnation: this.incarnation });
    for (const m of this.members.values())
      out.push({ name: m.name, address: m.address, port: m.port, state: m.state, incarnation: m.incarnation });
    return out;
  }

  stats(): MembershipStats {
    return { ...this.counters, awareness: this.awareness, incarnation: this.incarnation, members: this.members.size };
  }

  // --- timers ------------------------------------------------------------------------------------

  /** Runs fn after `firstMs`; fn reschedules itself through the returned loop (each run picks its delay). */
  private every(firstMs: number, fn: () => number): void {
    const slot = this.timers.length;
    const run = (): void => {
      if (!this.running) return;
      let next = this.probeIntervalMs;
      try {
        next = fn();
        this.afterChange();
      } catch (e) {
        this.internalError(e);
      }
      if (this.running) this.timers[slot] = this.clock.setTimer(next, run);
    };
    this.timers.push(this.clock.setTimer(firstMs, run));
  }

  private probeTick(): number {
    const target = this.nextProbeTarget();
    if (target) this.probe(target);
    return this.probeIntervalMs * this.scale();
  }

  private seedSyncTick(): number {
    this.refreshRoster();
    const alive = new Set<string>();
    for (const m of this.members.values()) {
      if (m.state === 'alive' || m.state === 'suspect') alive.add(m.name).add(endpointKey(m.address, m.port));
    }
    const absent = this.roster.filter((s) => !(s.name !== undefined ? alive.has(s.name) : alive.has(endpointKey(s.address, s.port))));
    const pick = absent[Math.floor(this.random() * absent.length)];
    if (pick) this.sendState('sync', pick, true);
    return this.seedSyncIntervalMs;
  }

  private pushPullTick(): number {
    const live = this.liveMembers().filter((m) => m.state === 'alive');
    const pick = live[Math.floor(this.random() * live.length)];
    if (pick) this.sendState('sync', pick, true);
    return this.pushPullIntervalMs;
  }

  private watchTick(): number {
    const now = this.clock.now();
    for (const m of this.members.values()) {
      if ((m.state === 'dead' || m.state === 'left') && now - m.since >= this.reapAfterMs) {
        this.members.delete(m.name);
        this.touch();
      }
    }
    // Quiet for more than a probe interval (a failed probe, or probing stretched by local health): ask a
    // random live member directly, so that isolated() measures connectivity, not our probing rate. Its
    // failure accuses nobody.
    if (now - this.lastAnswerAt > this.probeIntervalMs) {
      const live = this.liveMembers();
      const healthy = live.filter((m) => m.state === 'alive');
      const pool = healthy.length > 0 ? healthy : live;
      const target = pool[Math.floor(this.random() * pool.length)];
      if (target) {
        const seq = this.nextSeq();
        const p: Pending = { kind: 'check', timers: [] };
        this.pending.set(seq, p);
        this.sendWithGossip(target, { type: 'ping', seq, from: this.self.name, target: target.name, updates: [] });
        p.timers.push(
          this.clock.setTimer(this.probeIntervalMs, () => {
            if (this.pending.get(seq) === p) this.pending.delete(seq);
          }),
        );
      }
    }
    return Math.max(10, this.probeIntervalMs / 2);
  }

  // --- probing -----------------------------------------------------------------------------------

  private scale(): number {
    return 1 + this.awareness;
  }

  private adjustAwareness(delta: number): void {
    this.awareness = Math.min(maxAwareness, Math.max(0, this.awareness + delta));
  }

  private nextProbeTarget(): Member | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.probeIndex < this.probeList.length) {
        const m = this.members.get(this.probeList[this.probeIndex++]!);
        if (m && (m.state === 'alive' || m.state === 'suspect')) return m;
      }
      this.probeList = this.shuffle(this.liveMembers().map((m) => m.name));
      this.probeIndex = 0;
    }
    return undefined;
  }

  /** A new member is probed within the current round, at a random place in what is left of it (SWIM). */
  private addToProbeList(name: string): void {
    const at = this.probeIndex + Math.floor(this.random() * (this.probeList.length - this.probeIndex + 1));
    this.probeList.splice(at, 0, name);
  }

  private probe(m: Member): void {
    const seq = this.nextSeq();
    const p: Pending = { kind: 'probe', target: m.name, acked: false, nacks: 0, expectedNacks: 0, timers: [] };
    this.pending.set(seq, p);
    this.counters.probes++;
    this.sendWithGossip(m, { type: 'ping', seq, from: this.self.name, target: m.name, updates: [] });
    const scale = this.scale();
    p.timers.push(this.clock.setTimer(this.probeTimeoutMs * scale, () => this.guard(() => this.indirectProbe(seq, p))));
    p.timers.push(this.clock.setTimer(this.probeIntervalMs * scale, () => this.guard(() => this.probeFinished(seq, p))));
  }

  private indirectProbe(seq: number, p: Pending & { kind: 'probe' }): void {
    if (p.acked || !this.running) return;
    const target = this.members.get(p.target);
    if (!target) return;
    const relays = this.sample(
      this.liveMembers().filter((m) => m.state === 'alive' && m.name !== target.name),
      this.indirectChecks,
    );
    p.expectedNacks = relays.length;
    if (relays.length > 0) this.counters.indirectProbes++;
    for (const r of relays) {
      this.sendWithGossip(r, {
        type: 'ping-req',
        seq,
        from: this.self.name,
        target: target.name,
        address: target.address,
        port: target.port,
        updates: [],
      });
    }
  }

  private probeFinished(seq: number, p: Pending & { kind: 'probe' }): void {
    this.pending.delete(seq);
    if (p.acked || !this.running) return;
    this.counters.probeFailures++;
    // Lifeguard: relays that did not even nack suggest the problem is on our side.
    this.adjustAwareness(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1);
    const m = this.members.get(p.target);
    if (!m || (m.state !== 'alive' && m.state !== 'suspect')) return;
    const u: Update = { kind: 'suspect', name: m.name, incarnation: m.incarnation, from: this.self.name };
    const news = this.apply(u);
    m.evidence = true;
    if (news) {
      this.counters.suspicionsRaised++;
      this.log.info({ member: m.name, incarnation: m.incarnation }, 'member suspected');
      this.broadcast(u, this.urgentTargets(m));
    }
  }

  /**
   * Someone else suspects `m`: ping it once ourselves. No ack within the probe timeout is independent
   * evidence, so we confirm the suspicion (Lifeguard then shortens the timeout to its minimum within
   * about one probe timeout instead of waiting for other members' probe rounds to reach `m`).
   */
  private confirmProbe(m: Member): void {
    const seq = this.nextSeq();
    const p: Pending = { kind: 'confirm', target: m.name, incarnation: m.incarnation, timers: [] };
    this.pending.set(seq, p);
    this.sendWithGossip(m, { type: 'ping', seq, from: this.self.name, target: m.name, updates: [] });
    p.timers.push(
      this.clock.setTimer(this.probeTimeoutMs * this.scale(), () =>
        this.guard(() => {
          if (this.pending.get(seq) !== p) return;
          this.pending.delete(seq);
          if (!this.running || this.members.get(m.name) !== m || m.state !== 'suspect' || m.incarnation !== p.incarnation) return;
          const u: Update = { kind: 'suspect', name: m.name, incarnation: m.incarnation, from: this.self.name };
          const news = this.apply(u);
          m.evidence = true;
          if (news) this.broadcast(u, this.urgentTargets(m));
          this.afterChange();
        }),
      ),
    );
  }

  private suspicionExpired(m: Member, incarnation: number): void {
    if (!this.running || this.members.get(m.name) !== m || m.state !== 'suspect' || m.incarnation !== incarnation) return;
    // No answer from anyone since this suspicion began: we may be the one cut off. Hold the verdict until
    // an answer comes (then it stands) or we are isolated (then we are fenced before anyone looks dead).
    const startedAt = m.suspicion?.startedAt ?? -Infinity;
    if (this.lastAnswerAt < startedAt && this.peerCount() >= 2 && !this.computeIsolated()) {
      m.suspicion?.retryIn(Math.max(5, this.probeIntervalMs / 20));
      return;
    }
    const u: Update = { kind: 'dead', name: m.name, incarnation, from: this.self.name };
    const evidence = m.evidence;
    if (this.apply(u)) {
      this.counters.declaredDead++;
      this.log.info({ member: m.name, incarnation, evidence }, 'member declared dead');
      // Only the few members with their own evidence tell everyone (the rest reach the same verdict on
      // their own timers at about the same time, and gossip it): O(K·n) datagrams, not O(n²).
      if (evidence) this.broadcast(u, this.urgentTargets(m));
    }
    this.afterChange();
  }

  // --- receiving ---------------------------------------------------------------------------------

  private receive(bytes: Uint8Array, from: Endpoint): void {
    if (!this.running) return;
    this.counters.receivedBytes += bytes.length;
    this.counters.receivedMessages++;
    const opened = this.keyring.open(bytes);
    if (!opened.ok) {
      this.counters.droppedAuth++;
      this.log.debug({ from, reason: opened.reason }, 'membership datagram failed authentication');
      return;
    }
    const decoded = decodeMessage(opened.plaintext);
    if (!decoded.ok) {
      this.counters.droppedMalformed++;
      this.log.debug({ from, reason: decoded.reason }, 'malformed membership message');
      return;
    }
    this.guard(() => this.handle(decoded.message, from));
    this.guard(() => this.afterChange());
  }

  private handle(msg: Message, from: Endpoint): void {
    if (msg.from === this.self.name) {
      this.counters.droppedMisdirected++;
      return;
    }
    for (const u of msg.updates) this.apply(u, from);
    this.tellIfWrong(msg.from, from);
    switch (msg.type) {
      case 'ping':
        if (msg.target !== this.self.name) {
          this.counters.droppedMisdirected++;
          return;
        }
        this.sendWithGossip(from, { type: 'ack', seq: msg.seq, from: this.self.name, updates: [] });
        return;
      case 'ack':
        this.handleAck(msg.seq);
        return;
      case 'nack': {
        this.noteAnswer();
        const p = this.pending.get(msg.seq);
        if (p?.kind === 'probe') p.nacks++;
        return;
      }
      case 'ping-req':
        this.relay(msg, from);
        return;
      case 'gossip':
        return;
      case 'sync':
        if (msg.wantsReply) this.sendState('sync-reply', from, false);
        return;
      case 'sync-reply':
        this.noteAnswer();
        return;
    }
  }

  private handleAck(seq: number): void {
    this.noteAnswer();
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    for (const t of p.timers) t.cancel();
    if (p.kind === 'probe') {
      p.acked = true;
      this.adjustAwareness(-1);
    } else if (p.kind === 'relay') {
      this.sendWithGossip(p.to, { type: 'ack', seq: p.requesterSeq, from: this.self.name, updates: [] });
    }
  }

  private relay(msg: Message & { type: 'ping-req' }, requester: Endpoint): void {
    if (msg.target === this.self.name) {
      this.sendWithGossip(requester, { type: 'ack', seq: msg.seq, from: this.self.name, updates: [] });
      return;
    }
    const seq = this.nextSeq();
    const p: Pending = { kind: 'relay', requesterSeq: msg.seq, to: requester, timers: [] };
    this.pending.set(seq, p);
    this.sendWithGossip({ address: msg.address, port: msg.port }, { type: 'ping', seq, from: this.self.name, target: msg.target, updates: [] });
    p.timers.push(
      this.clock.setTimer(this.probeTimeoutMs * 0.8, () =>
        this.guard(() => {
          if (this.pending.get(seq) === p) this.sendWithGossip(requester, { type: 'nack', seq: msg.seq, from: this.self.name, updates: [] });
        }),
      ),
    );
    p.timers.push(
      this.clock.setTimer(this.probeIntervalMs, () => {
        if (this.pending.get(seq) === p) this.pending.delete(seq);
      }),
    );
  }

  private noteAnswer(): void {
    this.lastAnswerAt = this.clock.now();
    // Any answer from another member means we are in the cluster, not only a sync reply: a member
    // that started first sent its join syncs into the void and may never need another sync.
    if (!this.hasJoined) {
      this.hasJoined = true;
      this.joinedUnannounced = true;
    }
  }

  /** A member we hold suspect, dead or left is talking to us: tell it, so it can refute and rejoin. */
  private tellIfWrong(name: string, at: Endpoint): void {
    const m = this.members.get(name);
    if (!m || m.state === 'alive') return;
    const now = this.clock.now();
    if (now - m.toldAt < this.probeIntervalMs) return;
    m.toldAt = now;
    const u: Update =
      m.state === 'left'
        ? { kind: 'left', name, incarnation: m.incarnation }
        : m.state === 'suspect'
          ? { kind: 'suspect', name, incarnation: m.incarnation, from: m.suspectedBy }
          : { kind: 'dead', name, incarnation: m.incarnation, from: this.self.name };
    this.sendMessage(at, { type: 'gossip', from: this.self.name, updates: [u] });
  }

  // --- state -------------------------------------------------------------------------------------

  /**
   * Merges one update into the table (SWIM's precedence: higher incarnation wins; at equal incarnation
   * dead/left > suspect > alive). Returns true if it was news (state changed or a new confirmation), in
   * which case it is queued for piggybacking.
   */
  private apply(u: Update, sender?: Endpoint): boolean {
    if (u.name === this.self.name) return this.applyAboutSelf(u, sender);
    const m = this.members.get(u.name);
    const now = this.clock.now();
    switch (u.kind) {
      case 'alive': {
        if (!m) {
          this.members.set(u.name, {
            name: u.name,
            address: u.address,
            port: u.port,
            incarnation: u.incarnation,
            state: 'alive',
            since: now,
            suspicion: undefined,
            evidence: false,
            suspectedBy: '',
            toldAt: -Infinity,
          });
          this.addToProbeList(u.name);
          this.touch();
          this.log.info({ member: u.name, address: u.address, port: u.port }, 'member joined');
          this.queue.enqueue(u);
          return true;
        }
        if (u.incarnation <= m.incarnation) return false;
        const wasLive = m.state === 'alive' || m.state === 'suspect';
        m.suspicion?.cancel();
        m.suspicion = undefined;
        m.evidence = false;
        this.touch();
        m.incarnation = u.incarnation;
        m.address = u.address;
        m.port = u.port;
        if (m.state !== 'alive') {
          if (!wasLive) this.log.info({ member: u.name, incarnation: u.incarnation }, 'member rejoined');
          m.state = 'alive';
          m.since = now;
          if (!wasLive) this.addToProbeList(u.name);
        }
        this.queue.enqueue(u);
        return true;
      }
      case 'suspect': {
        if (!m || m.state === 'dead' || m.state === 'left' || u.incarnation < m.incarnation) return false;
        if (m.state === 'suspect' && u.incarnation === m.incarnation) {
          if (!m.suspicion?.confirm(u.from)) return false;
          this.queue.enqueue(u);
          return true;
        }
        m.suspicion?.cancel();
        m.evidence = false;
        m.suspectedBy = u.from;
        this.touch();
        m.incarnation = u.incarnation;
        m.state = 'suspect';
        m.since = now;
        const inc = u.incarnation;
        m.suspicion = new Suspicion(this.clock, this.suspicionTimes(), u.from, () => this.guard(() => this.suspicionExpired(m, inc)));
        this.queue.enqueue(u);
        // Enough members (2K in expectation) check for themselves; all of them would be O(n²) broadcasts.
        if (u.from !== this.self.name) {
          const k = this.suspicionTimes().k;
          const others = this.clusterSize() - 2;
          if (k > 0 && this.random() < Math.min(1, (2 * k) / Math.max(1, others))) this.confirmProbe(m);
        }
        return true;
      }
      case 'dead':
      case 'left': {
        if (!m || u.incarnation < m.incarnation) return false;
        if (m.state === 'left' || (m.state === 'dead' && u.kind === 'dead')) return false;
        m.suspicion?.cancel();
        m.suspicion = undefined;
        this.touch();
        if (m.state !== 'dead') m.since = now;
        m.state = u.kind;
        m.incarnation = u.incarnation;
        if (u.kind === 'left') this.log.info({ member: u.name }, 'member left');
        this.queue.enqueue(u);
        return true;
      }
    }
  }

  private applyAboutSelf(u: Update, sender: Endpoint | undefined): boolean {
    switch (u.kind) {
      case 'alive':
        if (u.incarnation > this.incarnation) this.refute(u.incarnation, sender);
        else if (u.incarnation === this.incarnation && (u.address !== this.self.address || u.port !== this.self.port)) {
          this.log.warn({ claimed: { address: u.address, port: u.port } }, 'another member claims our name');
          this.refute(u.incarnation, sender);
        } else return false;
        return true;
      case 'suspect':
      case 'dead':
      case 'left':
        if (u.incarnation < this.incarnation) return false;
        this.refute(u.incarnation, sender);
        return true;
    }
  }

  /**
   * Someone believes an older or worse state of us: raise our incarnation and tell everyone at once —
   * every member not gone, the sender, and seeds not yet in our table (a restarted member hears of its
   * old death before it has learned who is out there).
   */
  private refute(incarnation: number, sender: Endpoint | undefined): void {
    this.incarnation = Math.min(0xffffffff, Math.max(this.incarnation, incarnation) + 1);
    this.counters.refutations++;
    this.adjustAwareness(1);
    const u = this.selfAlive();
    this.queue.enqueue(u);
    const targets: Endpoint[] = [...this.members.values()].filter((m) => m.state !== 'left');
    const known = new Set(targets.map((t) => endpointKey(t.address, t.port)));
    for (const e of [...(sender ? [sender] : []), ...this.roster]) {
      const k = endpointKey(e.address, e.port);
      if (!known.has(k)) {
        known.add(k);
        targets.push(e);
      }
    }
    this.broadcast(u, targets);
    this.log.info({ incarnation: this.incarnation }, 'refuted suspicion about self');
  }

  private selfAlive(): Update {
    return { kind: 'alive', name: this.self.name, incarnation: this.incarnation, address: this.self.address, port: this.self.port };
  }

  private liveMembers(): Member[] {
    return [...this.members.values()].filter((m) => m.state === 'alive' || m.state === 'suspect');
  }

  private touch(): void {
    this.version++;
  }

  /** Views derived from the table, recomputed only when it changed (not per datagram). */
  private derived(): { clusterSize: number; peerCount: number; alive: ReadonlySet<string> } {
    if (this.derivedVersion === this.version) return this.derivedCache;
    const alive = new Set<string>();
    if (this.running) alive.add(this.self.name);
    let peers = 0;
    const endpoints = new Set<string>();
    for (const m of this.members.values()) {
      endpoints.add(endpointKey(m.address, m.port));
      const live = m.state === 'alive' || m.state === 'suspect';
      if (live && this.running) alive.add(m.name);
      if (live || (m.state === 'dead' && this.inRoster(m))) peers++;
    }
    for (const s of this.roster) {
      const known = s.name !== undefined ? this.members.has(s.name) : endpoints.has(endpointKey(s.address, s.port));
      if (!known) peers++;
    }
    this.derivedCache = { clusterSize: Math.max(1, alive.size), peerCount: peers, alive };
    this.derivedVersion = this.version;
    return this.derivedCache;
  }

  /** n for the log(n) scalings: self plus live members. */
  private clusterSize(): number {
    return this.derived().clusterSize;
  }

  private minSuspicionMs(): number {
    return this.suspicionBaseMs * Math.max(1, Math.log10(this.clusterSize()));
  }

  private suspicionTimes(): SuspicionTimes {
    const n = this.clusterSize();
    const minMs = this.minSuspicionMs();
    return { minMs, maxMs: minMs * this.suspicionMaxMultiplier, k: Math.max(0, Math.min(suspicionConfirmationsWanted, n - 2)) };
  }

  private retransmitLimit(): number {
    return Math.max(1, Math.round(this.retransmitMultiplier * Math.ceil(Math.log10(this.clusterSize() + 1))));
  }

  private isolationTimeoutMs(): number {
    return this.isolationTimeoutOpt ?? 2 * this.minSuspicionMs();
  }

  // --- roster and partition rule -----------------------------------------------------------------

  private refreshRoster(): void {
    let seeds: readonly Seed[];
    try {
      seeds = this.seedsFn();
    } catch (e) {
      this.log.warn({ err: e }, 'reading membership seeds failed; keeping the previous list');
      return;
    }
    const seen = new Set<string>();
    const roster: Seed[] = [];
    for (const given of seeds) {
      const address = canonicalIP(given.address);
      if (address === undefined || !Number.isInteger(given.port) || given.port < 1 || given.port > 0xffff) {
        this.log.warn({ seed: given }, 'ignoring membership seed with a bad address or port');
        continue;
      }
      const s: Seed = given.name !== undefined ? { name: given.name, address, port: given.port } : { address, port: given.port };
      if (s.name === this.self.name || (s.address === this.self.address && s.port === this.self.port)) continue;
      const key = s.name ?? endpointKey(s.address, s.port);
      if (seen.has(key)) continue;
      seen.add(key);
      roster.push(s);
    }
    this.roster = roster;
    this.touch();
    this.rosterNames = new Set(roster.flatMap((s) => (s.name !== undefined ? [s.name] : [])));
    this.rosterEndpoints = new Set(roster.flatMap((s) => (s.name === undefined ? [endpointKey(s.address, s.port)] : [])));
  }

  private inRoster(m: Member): boolean {
    return this.rosterNames.has(m.name) || this.rosterEndpoints.has(endpointKey(m.address, m.port));
  }

  /** Peers that make isolation meaningful (see the partition rule). */
  private peerCount(): number {
    return this.derived().peerCount;
  }

  private computeIsolated(): boolean {
    if (!this.running || this.peerCount() < 2) return false;
    return this.clock.now() - this.lastAnswerAt > this.isolationTimeoutMs();
  }

  private afterChange(): void {
    const next = this.derived().alive;
    // Isolation first, so a listener of onChange that reads isolated() sees the current value.
    const isolated = this.computeIsolated();
    const isolationChanged = isolated !== this.isolatedView;
    this.isolatedView = isolated;
    if (isolationChanged) {
      if (isolated) this.log.warn({ silentForMs: this.clock.now() - this.lastAnswerAt }, 'isolated: no answer from any other member');
      else this.log.info('no longer isolated');
    }
    let aliveChanged = false;
    if (next !== this.aliveView) {
      aliveChanged = next.size !== this.aliveView.size || [...next].some((n) => !this.aliveView.has(n));
      this.aliveView = next;
    }
    const joinedChanged = this.joinedUnannounced;
    this.joinedUnannounced = false;
    if (isolationChanged) for (const cb of [...this.isolationListeners]) this.callListener(() => cb(isolated));
    if (aliveChanged || joinedChanged) for (const cb of [...this.changeListeners]) this.callListener(() => cb(next));
  }

  private callListener(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error({ err: e }, 'membership listener threw');
    }
  }

  // --- sending -----------------------------------------------------------------------------------

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private sendMessage(to: Endpoint, m: Message): void {
    let bytes: Buffer;
    try {
      bytes = this.keyring.seal(encodeMessage(m));
    } catch (e) {
      this.internalError(e);
      return;
    }
    this.counters.sentBytes += bytes.length;
    this.counters.sentMessages++;
    this.transport.send(to.address, to.port, bytes);
  }

  /** Sends `m` with as many queued updates as fit in the datagram. */
  private sendWithGossip(to: Endpoint, m: Message): void {
    const budget = this.plainBudget - encodedHeaderSize(m);
    const updates = this.queue.take(budget, this.retransmitLimit());
    this.sendMessage(to, { ...m, updates });
  }

  /** One update, sent now to each of `targets` (at most 64, chosen at random). */
  private broadcast(u: Update, targets: readonly Endpoint[]): void {
    const chosen = targets.length > maxBroadcastTargets ? this.sample(targets, maxBroadcastTargets) : targets;
    for (const t of chosen) this.sendMessage(t, { type: 'gossip', from: this.self.name, updates: [u] });
  }

  /** Live members, plus the subject itself so that it can refute. */
  private urgentTargets(subject: Member): Member[] {
    const out = this.liveMembers();
    if (!out.includes(subject)) out.push(subject);
    return out;
  }

  /** Our whole table (self first), in datagrams of at most the packet budget. */
  private sendState(type: 'sync' | 'sync-reply', to: Endpoint, wantsReply: boolean): void {
    const updates: Update[] = [this.selfAlive()];
    for (const m of this.members.values()) {
      switch (m.state) {
        case 'alive':
          updates.push({ kind: 'alive', name: m.name, incarnation: m.incarnation, address: m.address, port: m.port });
          break;
        case 'suspect':
          updates.push({ kind: 'suspect', name: m.name, incarnation: m.incarnation, from: m.suspectedBy });
          break;
        case 'dead':
          updates.push({ kind: 'dead', name: m.name, incarnation: m.incarnation, from: this.self.name });
          break;
        case 'left':
          updates.push({ kind: 'left', name: m.name, incarnation: m.incarnation });
          break;
      }
    }
    const header = encodedHeaderSize({ type: 'sync', from: this.self.name, wantsReply, updates: [] });
    let chunk: Update[] = [];
    let size = header;
    let first = true;
    const flush = (): void => {
      const msg: Message =
        type === 'sync'
          ? { type, from: this.self.name, wantsReply: wantsReply && first, updates: chunk }
          : { type, from: this.self.name, updates: chunk };
      this.sendMessage(to, msg);
      first = false;
      chunk = [];
      size = header;
    };
    for (const u of updates) {
      const s = encodedUpdateSize(u);
      if (chunk.length > 0 && size + s > this.plainBudget) flush();
      chunk.push(u);
      size += s;
    }
    flush();
  }

  // --- small things ------------------------------------------------------------------------------

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.internalError(e);
    }
  }

  private internalError(e: unknown): void {
    this.counters.internalErrors++;
    this.log.error({ err: e }, 'membership internal error');
  }

  private shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  private sample<T>(xs: readonly T[], k: number): T[] {
    return this.shuffle([...xs]).slice(0, k);
  }
}
