// The BFD session state machine (RFC 5880 §6.2, §6.8), asynchronous mode only: no Demand mode of our own,
// no Echo function, no authentication. It takes packets that decodeControl accepted and the transport
// matched to this session, an injected Clock and an injected send function, so every timer is testable in
// virtual time.
//
// Timers, in the RFC's variables (all in microseconds, as on the wire):
// - bfd.DesiredMinTxInterval is the configured value while Up and at least 1 s otherwise (§6.8.3).
// - The transmit interval is max(DesiredMinTxInterval in force, bfd.RemoteMinRxInterval), reduced per
//   packet by a random 0–25% (10–25% when our Detect Mult is 1) (§6.8.7).
// - The Detection Time is the remote Detect Mult × max(bfd.RequiredMinRxInterval, remote Desired Min TX)
//   (§6.8.4). When it passes without a packet, an Init or Up session goes Down with diagnostic 1, and
//   bfd.RemoteDiscr is forgotten in any state.
// - A change of DesiredMinTxInterval or RequiredMinRxInterval in Init or Up starts a Poll Sequence (§6.5):
//   P is set on every packet until one with F arrives. While Up, a larger DesiredMinTxInterval and a
//   smaller RequiredMinRxInterval take effect only when the Final arrives (§6.8.3), so the remote never
//   sees packets slower than its Detection Time allows. In Down and AdminDown changes apply at once
//   without a poll (the remote has no Up session whose detection depends on them).
// Packets go out at once, besides the periodic ones, on a state change (which speeds up the three-way
// handshake, as BIRD and FRR do), when a Poll Sequence starts, and as the Final answering a Poll.
import type { BFDProfile } from '../../config/model.ts';
import type { Clock, Timer } from '../../clock/clock.ts';
import { Diagnostic, diagnosticName, type ControlPacket } from './codec.ts';
import type { BfdState } from './handle.ts';

/** bfd.DesiredMinTxInterval floor while the session is not Up (RFC 5880 §6.8.3). */
export const SLOW_TX_US = 1_000_000;
/** How many remote Detection Times an AdminDown session keeps announcing itself before falling silent. */
export const ADMIN_DOWN_ANNOUNCE_DETECTION_TIMES = 2;

export interface BfdTimers {
  /** bfd.DesiredMinTxInterval while Up, µs (≥ 1). */
  readonly desiredMinTxUs: number;
  /** bfd.RequiredMinRxInterval, µs (0 asks the remote not to send periodic packets). */
  readonly requiredMinRxUs: number;
  /** bfd.DetectMult, 1–255. */
  readonly detectMult: number;
}

/** The session timers a BFDProfile asks for (its intervals are in milliseconds). */
export function timersFromProfile(profile: BFDProfile): BfdTimers {
  return {
    desiredMinTxUs: profile.transmitIntervalMs * 1000,
    requiredMinRxUs: profile.receiveIntervalMs * 1000,
    detectMult: profile.detectMultiplier,
  };
}

export interface BfdSessionOptions {
  readonly clock: Clock;
  /** Transmits one Control packet to the peer; must not throw (the transport counts its own failures). */
  readonly send: (packet: ControlPacket) => void;
  /** bfd.LocalDiscr: non-zero, unique on this system. */
  readonly localDiscriminator: number;
  readonly timers: BfdTimers;
  /** Passive role (RFC 5880 §6.1): send nothing until the remote's discriminator is known. */
  readonly passive?: boolean;
  /** Uniform in [0, 1), for jitter; Math.random by default. */
  readonly random?: () => number;
}

export interface BfdStateChange {
  readonly state: BfdState;
  readonly previous: BfdState;
  /** bfd.LocalDiag after the change. */
  readonly diagnostic: number;
  /** Its readable name, e.g. `Control Detection Time Expired`. */
  readonly diagnosticName: string;
  /**
   * Down because the remote went AdminDown. RFC 5882 §3.2: not a path failure, so a client protocol
   * SHOULD NOT drop its session for it (diagnostic 3 alone does not tell this from the remote's own failure).
   */
  readonly remoteAdminDown: boolean;
}

export interface BfdSessionStatus {
  readonly state: BfdState;
  readonly remoteState: BfdState;
  readonly localDiagnostic: number;
  readonly localDiscriminator: number;
  readonly remoteDiscriminator: number;
  /** bfd.DesiredMinTxInterval as advertised now. */
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly detectMult: number;
  readonly remoteDesiredMinTxUs: number;
  readonly remoteMinRxUs: number;
  readonly remoteDetectMult: number;
  /** Negotiated transmit interval before jitter. */
  readonly txIntervalUs: number;
  /** Current Detection Time, 0 before the first packet from the remote. */
  readonly detectionTimeUs: number;
  readonly pollActive: boolean;
  readonly packetsSent: number;
  readonly packetsReceived: number;
}

function checkTimers(t: BfdTimers): void {
  const ok = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max;
  if (!ok(t.desiredMinTxUs, 1, 0xffffffff)) throw new RangeError(`desiredMinTxUs ${t.desiredMinTxUs} is not in 1..2^32-1`);
  if (!ok(t.requiredMinRxUs, 0, 0xffffffff)) throw new RangeError(`requiredMinRxUs ${t.requiredMinRxUs} is not in 0..2^32-1`);
  if (!ok(t.detectMult, 1, 255)) throw new RangeError(`detectMult ${t.detectMult} is not in 1..255`);
}

export class BfdSession {
  private readonly clock: Clock;
  private readonly sendPacket: (packet: ControlPacket) => void;
  private readonly random: () => number;
  private readonly passive: boolean;
  readonly localDiscriminator: number;
  private config: BfdTimers;

  private sessionState: BfdState = 'Down';
  private remoteState: BfdState = 'Down';
  private remoteDiscr = 0;
  private localDiag: number = Diagnostic.None;
  private remoteMinRxUs = 1; // RFC 5880 §6.8.1: initialized to 1
  private remoteDesiredMinTxUs = 0;
  private remoteDetectMult = 0;
  private remoteDemand = false;

  /** The advertised values the last reconcile saw. */
  private advertisedTxUs: number;
  private advertisedRxUs: number;
  /** DesiredMinTxInterval the transmit interval uses (lags an increase made while Up until the Final). */
  private txInForceUs: number;
  /** RequiredMinRxInterval the Detection Time uses (lags a decrease made while Up until the Final). */
  private rxForDetectionUs: number;
  /** Values carried by the Poll Sequence in progress. */
  private poll: { txUs: number; rxUs: number } | undefined;

  private started = false;
  private stopped = false;
  private txTimer: Timer | undefined;
  private nextTxAt = 0;
  private detectTimer: Timer | undefined;
  private lastRxAt: number | undefined;
  private adminTxIntervalUs = SLOW_TX_US;
  private adminAnnounceUntil = 0;
  private sent = 0;
  private received = 0;
  private readonly listeners: ((change: BfdStateChange) => void)[] = [];
  private pendingChanges: BfdStateChange[] = [];

  constructor(opts: BfdSessionOptions) {
    if (!Number.isInteger(opts.localDiscriminator) || opts.localDiscriminator < 1 || opts.localDiscriminator > 0xffffffff) {
      throw new RangeError(`localDiscriminator ${opts.localDiscriminator} is not in 1..2^32-1`);
    }
    checkTimers(opts.timers);
    this.clock = opts.clock;
    this.sendPacket = opts.send;
    this.random = opts.random ?? Math.random;
    this.passive = opts.passive ?? false;
    this.localDiscriminator = opts.localDiscriminator;
    this.config = opts.timers;
    this.advertisedTxUs = this.desiredMinTxUs();
    this.advertisedRxUs = this.config.requiredMinRxUs;
    this.txInForceUs = this.advertisedTxUs;
    this.rxForDetectionUs = this.advertisedRxUs;
  }

  get state(): BfdState {
    return this.sessionState;
  }

  onStateChange(listener: (change: BfdStateChange) => void): void {
    this.listeners.push(listener);
  }

  /** Starts transmitting (unless passive), in state Down. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.sendNow();
  }

  /** Stops every timer; nothing is sent afterwards. */
  stop(): void {
    this.stopped = true;
    this.txTimer?.cancel();
    this.txTimer = undefined;
    this.detectTimer?.cancel();
    this.detectTimer = undefined;
  }

  /** New timers (e.g. a changed BFDProfile); starts a Poll Sequence when Init or Up. */
  setTimers(timers: BfdTimers): void {
    checkTimers(timers);
    this.config = timers;
    if (this.stopped) return;
    const polling = this.poll !== undefined;
    this.reconcileAdvertised();
    this.armDetection();
    if (!polling && this.poll !== undefined) this.sendNow();
    else this.rescheduleTx();
  }

  /**
   * Administratively down (RFC 5880 §6.8.16): state AdminDown with the given diagnostic. AdminDown packets
   * keep going out, at the interval in force before, for ADMIN_DOWN_ANNOUNCE_DETECTION_TIMES of the
   * remote's Detection Time (so a lost packet does not turn into "Control Detection Time Expired" at the
   * remote), then the session falls silent. Returns how long, in ms, it keeps announcing.
   */
  adminDown(diagnostic: number = Diagnostic.AdministrativelyDown): number {
    if (this.stopped) return 0;
    if (this.sessionState !== 'AdminDown') {
      this.adminTxIntervalUs = this.txIntervalUs();
      const remoteDetectionUs = this.config.detectMult * this.adminTxIntervalUs;
      this.adminAnnounceUntil = this.clock.now() + (ADMIN_DOWN_ANNOUNCE_DETECTION_TIMES * remoteDetectionUs) / 1000;
      this.detectTimer?.cancel();
      this.detectTimer = undefined;
      this.lastRxAt = undefined;
      this.transition('AdminDown', diagnostic);
      this.sendNow();
      this.flushChanges();
    }
    return Math.max(0, this.adminAnnounceUntil - this.clock.now());
  }

  /** Leaves AdminDown for Down (and starts the handshake again). */
  adminUp(): void {
    if (this.stopped || this.sessionState !== 'AdminDown') return;
    this.transition('Down', Diagnostic.None);
    this.sendNow();
    this.flushChanges();
  }

  /** A Control packet from the remote, already accepted by decodeControl and matched to this session. */
  receive(p: ControlPacket): void {
    if (this.stopped || !this.started) return;
    this.received++;
    // RFC 5880 §6.8.6, after the checks decodeControl made and the session lookup the transport made.
    this.remoteDiscr = p.myDiscriminator;
    this.remoteState = p.state;
    this.remoteDemand = p.demand;
    this.remoteMinRxUs = p.requiredMinRxUs;
    this.remoteDesiredMinTxUs = p.desiredMinTxUs;
    this.remoteDetectMult = p.detectMult;
    if (p.final && this.poll !== undefined) this.terminatePoll();
    if (this.sessionState === 'AdminDown') {
      this.rescheduleTx();
      return; // discarded (and so not "received" for the Detection Time)
    }
    let changed = false;
    if (p.state === 'AdminDown') {
      if (this.sessionState !== 'Down') changed = this.transition('Down', Diagnostic.NeighborSignaledSessionDown, true);
    } else if (this.sessionState === 'Down') {
      if (p.state === 'Down') changed = this.transition('Init', this.localDiag);
      else if (p.state === 'Init') changed = this.transition('Up', Diagnostic.None);
    } else if (this.sessionState === 'Init') {
      if (p.state === 'Init' || p.state === 'Up') changed = this.transition('Up', Diagnostic.None);
    } else if (p.state === 'Down') {
      changed = this.transition('Down', Diagnostic.NeighborSignaledSessionDown);
    }
    this.lastRxAt = this.clock.now();
    this.armDetection();
    if (p.poll) {
      // The Final goes out at once, whatever the transmit timer says (§6.8.6); it also carries a new state.
      this.transmit(false, true);
      if (changed) this.restartTxTimer();
      else this.rescheduleTx();
    } else if (changed) {
      this.sendNow();
    } else {
      this.rescheduleTx();
    }
    this.flushChanges();
  }

  status(): BfdSessionStatus {
    return {
      state: this.sessionState,
      remoteState: this.remoteState,
      localDiagnostic: this.localDiag,
      localDiscriminator: this.localDiscriminator,
      remoteDiscriminator: this.remoteDiscr,
      desiredMinTxUs: this.desiredMinTxUs(),
      requiredMinRxUs: this.config.requiredMinRxUs,
      detectMult: this.config.detectMult,
      remoteDesiredMinTxUs: this.remoteDesiredMinTxUs,
      remoteMinRxUs: this.remoteMinRxUs,
      remoteDetectMult: this.remoteDetectMult,
      txIntervalUs: this.txIntervalUs(),
      detectionTimeUs: this.lastRxAt === undefined ? 0 : this.detectionTimeUs(),
      pollActive: this.poll !== undefined,
      packetsSent: this.sent,
      packetsReceived: this.received,
    };
  }

  // --- timers -------------------------------------------------------------------------------------

  /** bfd.DesiredMinTxInterval as advertised: the configured value while Up, at least 1 s otherwise. */
  private desiredMinTxUs(): number {
    return this.sessionState === 'Up' ? this.config.desiredMinTxUs : Math.max(this.config.desiredMinTxUs, SLOW_TX_US);
  }

  private txIntervalUs(): number {
    if (this.sessionState === 'AdminDown') return this.adminTxIntervalUs;
    return Math.max(this.txInForceUs, this.remoteMinRxUs);
  }

  private detectionTimeUs(): number {
    return this.remoteDetectMult * Math.max(this.rxForDetectionUs, this.remoteDesiredMinTxUs);
  }

  /** Applies a change of the advertised DesiredMinTx/RequiredMinRx: holds while Up, a Poll in Init/Up. */
  private reconcileAdvertised(): void {
    const txUs = this.desiredMinTxUs();
    const rxUs = this.config.requiredMinRxUs;
    if (txUs === this.advertisedTxUs && rxUs === this.advertisedRxUs) return;
    this.advertisedTxUs = txUs;
    this.advertisedRxUs = rxUs;
    const up = this.sessionState === 'Up';
    if (!(up && txUs > this.txInForceUs)) this.txInForceUs = txUs;
    if (!(up && rxUs < this.rxForDetectionUs)) this.rxForDetectionUs = rxUs;
    if ((up || this.sessionState === 'Init') && this.poll === undefined) this.poll = { txUs, rxUs };
  }

  /** A Final arrived: what the Poll carried is now known to the remote. */
  private terminatePoll(): void {
    const polled = this.poll!;
    this.poll = undefined;
    if (this.sessionState === 'Up') {
      this.txInForceUs = Math.min(this.advertisedTxUs, Math.max(this.txInForceUs, polled.txUs));
      this.rxForDetectionUs = Math.max(this.advertisedRxUs, Math.min(this.rxForDetectionUs, polled.rxUs));
    } else {
      this.txInForceUs = this.advertisedTxUs;
      this.rxForDetectionUs = this.advertisedRxUs;
    }
    // Values changed again while this Poll was out: poll for them too.
    if (
      (this.sessionState === 'Up' || this.sessionState === 'Init') &&
      (polled.txUs !== this.advertisedTxUs || polled.rxUs !== this.advertisedRxUs)
    ) {
      this.poll = { txUs: this.advertisedTxUs, rxUs: this.advertisedRxUs };
    }
  }

  private armDetection(): void {
    this.detectTimer?.cancel();
    this.detectTimer = undefined;
    if (this.lastRxAt === undefined || this.stopped) return;
    const at = this.lastRxAt + this.detectionTimeUs() / 1000;
    this.detectTimer = this.clock.setTimer(at - this.clock.now(), () => this.detectionExpired());
  }

  private detectionExpired(): void {
    this.detectTimer = undefined;
    this.lastRxAt = undefined;
    if (this.stopped) return;
    this.remoteDiscr = 0; // §6.8.1: forgotten after a Detection Time without packets
    this.remoteState = 'Down';
    if (this.sessionState === 'Init' || this.sessionState === 'Up') {
      this.transition('Down', Diagnostic.ControlDetectionTimeExpired);
      this.sendNow();
    } else {
      this.rescheduleTx();
    }
    this.flushChanges();
  }

  // --- transmission -------------------------------------------------------------------------------

  private canTransmit(): boolean {
    if (this.stopped || !this.started) return false;
    if (this.passive && this.remoteDiscr === 0) return false; // §6.8.7
    if (this.sessionState === 'AdminDown') return this.clock.now() < this.adminAnnounceUntil;
    return true;
  }

  private canTransmitPeriodic(): boolean {
    if (!this.canTransmit()) return false;
    if (this.remoteMinRxUs === 0) return false; // §6.8.7
    // §6.8.7: Demand mode active on the remote; keep going only to complete a Poll Sequence.
    if (this.remoteDemand && this.sessionState === 'Up' && this.remoteState === 'Up' && this.poll === undefined) return false;
    return true;
  }

  private jitteredMs(): number {
    const r = this.random();
    const factor = this.config.detectMult === 1 ? 0.75 + 0.15 * r : 0.75 + 0.25 * r;
    return (this.txIntervalUs() * factor) / 1000;
  }

  private transmit(poll: boolean, final: boolean): void {
    this.sent++;
    this.sendPacket({
      diagnostic: this.localDiag,
      state: this.sessionState,
      poll,
      final,
      controlPlaneIndependent: false,
      demand: false,
      detectMult: this.config.detectMult,
      myDiscriminator: this.localDiscriminator,
      yourDiscriminator: this.remoteDiscr,
      desiredMinTxUs: this.desiredMinTxUs(),
      requiredMinRxUs: this.config.requiredMinRxUs,
      requiredMinEchoRxUs: 0, // no Echo function
    });
  }

  /** Sends a packet now (if allowed) and restarts the periodic timer from here. */
  private sendNow(): void {
    if (!this.canTransmitPeriodic()) {
      this.rescheduleTx();
      return;
    }
    this.transmit(this.poll !== undefined, false);
    this.restartTxTimer();
  }

  private restartTxTimer(): void {
    this.txTimer?.cancel();
    this.txTimer = undefined;
    if (!this.canTransmitPeriodic()) return;
    const ms = this.jitteredMs();
    this.nextTxAt = this.clock.now() + ms;
    this.txTimer = this.clock.setTimer(ms, () => this.onTxTimer());
  }

  /** Keeps the pending periodic transmission unless it is now too late for the interval, or not allowed. */
  private rescheduleTx(): void {
    if (!this.canTransmitPeriodic()) {
      this.txTimer?.cancel();
      this.txTimer = undefined;
      return;
    }
    if (this.txTimer !== undefined && this.nextTxAt <= this.clock.now() + this.txIntervalUs() / 1000) return;
    this.restartTxTimer();
  }

  private onTxTimer(): void {
    this.txTimer = undefined;
    if (!this.canTransmitPeriodic()) return;
    this.transmit(this.poll !== undefined, false);
    this.restartTxTimer();
  }

  // --- state --------------------------------------------------------------------------------------

  private transition(to: BfdState, diagnostic: number, remoteAdminDown = false): boolean {
    const previous = this.sessionState;
    if (previous === to) return false;
    this.sessionState = to;
    this.localDiag = diagnostic;
    if (to === 'Down' || to === 'AdminDown') this.poll = undefined;
    this.reconcileAdvertised();
    if (to === 'Down' || to === 'AdminDown') {
      // No Up session depends on the old timers any more: drop the holds too.
      this.txInForceUs = this.advertisedTxUs;
      this.rxForDetectionUs = this.advertisedRxUs;
    }
    this.pendingChanges.push({ state: to, previous, diagnostic, diagnosticName: diagnosticName(diagnostic), remoteAdminDown });
    return true;
  }

  private flushChanges(): void {
    const changes = this.pendingChanges;
    this.pendingChanges = [];
    for (const change of changes) {
      for (const listener of this.listeners) listener(change);
    }
  }
}
