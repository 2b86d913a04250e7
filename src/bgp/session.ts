// One BGP peer: the RFC 4271 finite state machine (Idle, Connect, Active, OpenSent, OpenConfirm,
// Established) over an injected transport and clock, and the routes this node advertises to it.
//
// - Dials out (Connect), retrying with a backoff of 1 s doubling to 2 min (Active), reset once Established;
//   also takes connections the peer opens (`accept`), with collision detection by BGP Identifier (§6.8).
// - OPEN: multiprotocol IPv4/IPv6 unicast, route refresh, 4-octet AS, and graceful restart when enabled.
//   Hold time = min(ours, theirs) (0 or ≥ 3 s), keepalive = hold/3 or the configured one if smaller; the
//   receive hold timer is enforced (NOTIFICATION 4/0).
// - Routes: an Adj-RIB-Out per connection; `setRoutes` sends only the difference (packed UPDATEs, never a
//   reset). Full table and End-of-RIB once Established, and again on ROUTE-REFRESH.
// - Received routes are ignored; a malformed message gets the codec's NOTIFICATION and a reset.
import { hostname, networkInterfaces } from 'node:os';
import type { Clock, Timer } from '../clock/clock.ts';
import type { BFDProfile, BGPPeer } from '../config/model.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { formatIP, parseIP, type CIDR, type IPAddress, type IPFamily } from '../net/address.ts';
import type { PeerStatus } from '../speaker/drivers.ts';
import type { BGPRoute } from '../speaker/plan.ts';
import type { BfdSessionHandle, BfdFactory } from './bfd/handle.ts';
import {
  Afi,
  BgpDecodeError,
  BgpParser,
  CeaseSubcode,
  checkOpen,
  describeNotification,
  encodeEndOfRib,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeUpdates,
  ErrorCode,
  familyOf,
  FsmSubcode,
  multiprotocolCapability,
  negotiateCapabilities,
  OpenSubcode,
  routeRefreshCapability,
  Safi,
  fourOctetAsCapability,
  type BgpMessage,
  type Capability,
  type LargeCommunity,
  type NotificationInput,
  type OpenMessage,
  type PathAttributes,
} from './codec/index.ts';
import { plainAddress, type BgpConnection, type BgpTransport } from './transport.ts';

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** What the speaker shell exports as metallb_bgp_* metrics, on top of the driver's PeerStatus. */
export interface BgpPeerStatus extends PeerStatus {
  readonly state: SessionState;
  /** UPDATE messages sent since the session object was created (End-of-RIB and withdrawals included). */
  readonly updatesSent: number;
  /** Routes wanted for this peer but not advertised (not Established, family not negotiated, no next hop). */
  readonly pendingPrefixes: number;
  /** Times the session reached Established. */
  readonly establishedCount: number;
  /** Negotiated values of the current session, when there is one. */
  readonly peerASN: number | undefined;
  readonly holdTimeSeconds: number | undefined;
  readonly keepaliveMs: number | undefined;
  readonly updatesReceived: number;
  /** Who opened the current session's TCP connection: we ('out') or the peer ('in'). */
  readonly direction: 'out' | 'in' | undefined;
  /** Local address of the current session's connection. */
  readonly localAddress: string | undefined;
}

export interface SessionOptions {
  readonly clock: Clock;
  readonly transport: BgpTransport;
  readonly log?: Logger;
  /** BGP Identifier when the peer has no routerID (default: the IPv4 local address of the connection). */
  readonly routerID?: string | undefined;
  /** NEXT_HOP for IPv4 routes on an IPv6 session. */
  readonly ipv4NextHop?: string | undefined;
  /** Global next hop for IPv6 routes on an IPv4 session (or a link-local one). */
  readonly ipv6NextHop?: string | undefined;
  readonly bfd?: BfdFactory | undefined;
  /** The peer's BFD profile, resolved; undefined when it has none. */
  readonly bfdProfile?: BFDProfile | undefined;
  /** Graceful restart: the restart time we advertise (default 120 s), and the R bit (we just restarted). */
  readonly gracefulRestartTimeSeconds?: number;
  readonly restarting?: boolean;
  /** TCP connect timeout when the peer has no connectTime; default 10 s. */
  readonly defaultConnectTimeoutMs?: number;
  readonly onStatusChange?: () => void;
}

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 120_000;
/** RFC 4271 §8: the hold timer while waiting for the peer's OPEN ("a large value", 4 minutes suggested). */
export const OPEN_HOLD_MS = 240_000;
/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 3000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_LOCAL_PREF = 100;

type Direction = 'out' | 'in';

/** One route as this session sends it (prefix and the attributes that are not per session). */
interface OutRoute {
  readonly key: string;
  readonly family: IPFamily;
  readonly prefix: CIDR;
  readonly communities: readonly number[];
  readonly large: readonly LargeCommunity[];
  readonly localPref: number | undefined;
  /** Everything but the next hop, as one string: routes with equal keys share an UPDATE. */
  readonly attrKey: string;
}

const stateRank: Record<'OpenSent' | 'OpenConfirm' | 'Established', number> = { OpenSent: 1, OpenConfirm: 2, Established: 3 };

/** One TCP connection to the peer and its half of the FSM (there may briefly be two: §6.8). */
class Connection {
  state: 'OpenSent' | 'OpenConfirm' | 'Established' = 'OpenSent';
  readonly parser = new BgpParser();
  readonly localAddress: string | undefined;
  readonly remoteAddress: string | undefined;
  /** Our BGP Identifier on this connection. */
  bgpId = 0;
  peerOpen: OpenMessage | undefined;
  ibgp = false;
  fourOctetAs = false;
  families = new Set<IPFamily>();
  holdMs = OPEN_HOLD_MS;
  keepaliveMs = 0;
  lastReceived: number;
  holdTimer: Timer | undefined;
  keepaliveTimer: Timer | undefined;
  destroyTimer: Timer | undefined;
  closed = false;
  gotNotification = false;
  nextHop4: IPAddress | undefined;
  nextHop6: IPAddress | undefined;
  linkLocal6: IPAddress | undefined;
  /** Adj-RIB-Out: prefix key → attribute key as advertised on this connection. */
  readonly advertised = new Map<string, string>();
  readonly done: Promise<void>;
  resolveDone!: () => void;

  constructor(
    readonly conn: BgpConnection,
    readonly direction: Direction,
    now: number,
  ) {
    this.localAddress = plainAddress(conn.localAddress);
    this.remoteAddress = plainAddress(conn.remoteAddress);
    this.lastReceived = now;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }
}

export class PeerSession {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly connections = new Set<Connection>();
  private established: Connection | undefined;
  private connecting: AbortController | undefined;
  private retryTimer: Timer | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private started = false;
  private stopped = false;
  private unsupported: string | undefined;
  private desired = new Map<string, OutRoute>();
  /** The array `desired` was made from. */
  private desiredFrom: readonly BGPRoute[] | undefined;
  private bfd: BfdSessionHandle | undefined;
  private bfdWasUp = false;

  private lastState: SessionState = 'Idle';
  private since: number;
  private lastError: string | undefined;
  private updatesSent = 0;
  private updatesReceived = 0;
  private establishedCount = 0;
  private reportedPrefixes = 0;

  constructor(
    readonly peer: BGPPeer,
    private readonly options: SessionOptions,
  ) {
    this.clock = options.clock;
    this.log = (options.log ?? silentLogger()).child({ peer: peer.name, address: peer.peerAddress });
    this.since = this.clock.now();
    if (peer.vrf) this.unsupported = `VRF "${peer.vrf}" is not supported by the native BGP speaker`;
    else if (peer.bfdProfile !== undefined && options.bfdProfile === undefined) {
      this.lastError = `BFD profile "${peer.bfdProfile}" not found`;
    }
  }

  /** The peer's address as connections report it ("::ffff:" stripped, lower case). */
  get address(): string {
    return plainAddress(this.peer.peerAddress)!;
  }

  get state(): SessionState {
    if (!this.started || this.stopped || this.unsupported) return 'Idle';
    let best: Connection | undefined;
    for (const c of this.connections) if (!best || stateRank[c.state] > stateRank[best.state]) best = c;
    if (best) return best.state;
    return this.connecting ? 'Connect' : 'Active';
  }

  /** Starts dialing out. Incoming connections are taken from then on. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.unsupported) {
      this.lastError = this.unsupported;
      this.log.warn(this.unsupported);
      this.statusChanged();
      return;
    }
    this.attemptConnect();
  }

  /** A connection the peer opened to us. Returns false if this session does not take it (it is closed). */
  accept(conn: BgpConnection): boolean {
    if (!this.started || this.stopped || this.unsupported) {
      conn.on('error', () => {});
      conn.destroy();
      return false;
    }
    // A peer that connects again has given up on its previous attempt.
    for (const c of this.connections) {
      if (c.direction === 'in' && c.state !== 'Established') this.fail(c, cease(CeaseSubcode.ConnectionCollisionResolution), 'replaced by a new incoming connection');
    }
    const ttl = this.ttl();
    if (ttl !== undefined) {
      try {
        this.options.transport.setTtl?.(conn, ttl);
      } catch (err) {
        this.log.warn({ err: String(err) }, 'cannot set TTL on incoming connection');
      }
    }
    this.log.debug({ remote: conn.remoteAddress }, 'incoming connection');
    this.addConnection(conn, 'in');
    return true;
  }

  /** Desired routes for this peer; sends the difference when Established. */
  setRoutes(routes: readonly BGPRoute[]): void {
    // The planner hands back the same array while this peer's routes are unchanged.
    if (routes === this.desiredFrom) return;
    this.desiredFrom = routes;
    const next = new Map<string, OutRoute>();
    for (const r of routes) {
      const route = outRoute(r);
      next.set(route.key, route);
    }
    this.desired = next;
    if (this.established) this.sync(this.established);
    this.countersChanged();
  }

  /**
   * Ends the session: withdraws what was advertised (when `withdraw`), sends a Cease NOTIFICATION and
   * closes. Resolves once the connections are closed.
   */
  async stop(opts: { subcode?: number; message?: string; withdraw?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.abortConnect();
    const subcode = opts.subcode ?? CeaseSubcode.AdministrativeShutdown;
    const notification: NotificationInput =
      opts.message !== undefined && (subcode === CeaseSubcode.AdministrativeShutdown || subcode === CeaseSubcode.AdministrativeReset)
        ? { code: ErrorCode.Cease, subcode, shutdownCommunication: opts.message }
        : { code: ErrorCode.Cease, subcode };
    const pending: Promise<void>[] = [];
    for (const c of [...this.connections]) {
      if (c.state === 'Established' && opts.withdraw) this.withdrawAll(c);
      pending.push(c.done);
      this.fail(c, notification, opts.message ?? 'stopped');
    }
    this.statusChanged();
    await Promise.all(pending);
  }

  status(): BgpPeerStatus {
    const c = this.established;
    let prefixesSent = 0;
    let pending = this.desired.size;
    if (c) {
      prefixesSent = c.advertised.size;
      for (const d of this.desired.values()) if (c.advertised.get(d.key) === d.attrKey) pending--;
    }
    return {
      peer: this.peer.name,
      address: this.peer.peerAddress,
      state: this.state,
      since: this.since,
      prefixesSent,
      lastError: this.lastError,
      bfdState: this.peer.bfdProfile === undefined || !this.options.bfd ? undefined : (this.bfd?.state() ?? 'Down'),
      updatesSent: this.updatesSent,
      pendingPrefixes: pending,
      establishedCount: this.establishedCount,
      peerASN: c?.peerOpen?.asn,
      holdTimeSeconds: c ? c.holdMs / 1000 : undefined,
      keepaliveMs: c?.keepaliveMs,
      updatesReceived: this.updatesReceived,
      direction: c?.direction,
      localAddress: c?.localAddress,
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Connecting

  private ttl(): number | undefined {
    const ibgp = this.peer.dynamicASN === 'internal' || (this.peer.peerASN !== undefined && this.peer.peerASN === this.peer.myASN);
    if (ibgp) return undefined;
    return this.peer.ebgpMultiHop ? 255 : 1;
  }

  private attemptConnect(): void {
    this.retryTimer = undefined;
    if (this.stopped || this.connecting || this.established) return;
    if ([...this.connections].some((c) => c.direction === 'out')) return;
    const ac = new AbortController();
    this.connecting = ac;
    const timeoutMs = this.peer.connectTimeSeconds !== undefined && this.peer.connectTimeSeconds > 0
      ? this.peer.connectTimeSeconds * 1000
      : (this.options.defaultConnectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    let timedOut = false;
    const timer = this.clock.setTimer(timeoutMs, () => {
      if (this.connecting !== ac) return;
      timedOut = true;
      ac.abort();
    });
    const target = `${this.peer.peerAddress}:${this.peer.peerPort}`;
    this.statusChanged();
    Promise.resolve()
      .then(() =>
        this.options.transport.connect({
          peer: this.peer.peerAddress,
          port: this.peer.peerPort,
          local: this.peer.sourceAddress,
          key: this.peer.password,
          ttl: this.ttl(),
          signal: ac.signal,
        }),
      )
      .then(
        (conn) => {
          timer.cancel();
          if (this.connecting !== ac || this.stopped) {
            conn.on('error', () => {});
            conn.destroy();
            return;
          }
          this.connecting = undefined;
          this.log.debug({ local: conn.localAddress }, 'connected');
          this.addConnection(conn, 'out');
        },
        (err: unknown) => {
          timer.cancel();
          if (this.connecting !== ac) return;
          this.connecting = undefined;
          const why = timedOut ? `timed out after ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
          this.setError(`connect to ${target}: ${why}`);
          this.log.debug({ err: why }, 'connect failed');
          if (this.connections.size === 0) this.scheduleRetry();
          this.statusChanged();
        },
      );
  }

  private abortConnect(): void {
    const ac = this.connecting;
    this.connecting = undefined;
    ac?.abort();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.log.debug({ delayMs: delay }, 'retrying later');
    this.retryTimer = this.clock.setTimer(delay, () => this.attemptConnect());
  }

  private addConnection(conn: BgpConnection, direction: Direction): void {
    const c = new Connection(conn, direction, this.clock.now());
    this.connections.add(c);
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    conn.on('data', (chunk: Buffer) => this.onData(c, chunk));
    conn.on('error', (err: Error) => {
      if (!c.closed) this.setError(`${direction === 'out' ? 'connection' : 'incoming connection'}: ${err.message}`);
    });
    conn.on('close', () => this.onClose(c));
    c.bgpId = this.bgpIdFor(c);
    this.send(c, encodeOpen({ asn: this.peer.myASN, holdTime: this.peer.holdTimeSeconds, bgpId: c.bgpId, capabilities: this.localCapabilities() }));
    this.armHold(c, OPEN_HOLD_MS);
    this.statusChanged();
  }

  localCapabilities(): Capability[] {
    const caps: Capability[] = [
      multiprotocolCapability('IPv4'),
      multiprotocolCapability('IPv6'),
      routeRefreshCapability(),
      fourOctetAsCapability(this.peer.myASN),
    ];
    if (this.peer.enableGracefulRestart) {
      caps.push({
        kind: 'graceful-restart',
        restarting: this.options.restarting ?? false,
        notification: false,
        restartTime: this.options.gracefulRestartTimeSeconds ?? 120,
        // The node keeps forwarding to its services while the speaker restarts: forwarding state is kept.
        families: [
          { afi: Afi.IPv4, safi: Safi.Unicast, forwardingPreserved: true },
          { afi: Afi.IPv6, safi: Safi.Unicast, forwardingPreserved: true },
        ],
      });
    }
    return caps;
  }

  private bgpIdFor(c: Connection): number {
    for (const candidate of [this.peer.routerID, this.options.routerID, c.localAddress]) {
      if (candidate === undefined) continue;
      const ip = parseIP(candidate);
      if (ip?.family === 'IPv4' && ip.value !== 0n) return Number(ip.value);
    }
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.family === 'IPv4' && !a.internal) return Number(parseIP(a.address)!.value);
      }
    }
    // No IPv4 anywhere: a stable non-zero value from the IPv6 address (or host name).
    const v6 = c.localAddress !== undefined ? parseIP(c.localAddress) : undefined;
    const low = v6 ? Number(v6.value & 0xffffffffn) : hash32(hostname());
    return low === 0 ? 1 : low;
  }

  // -------------------------------------------------------------------------------------------------
  // Receiving

  private onData(c: Connection, chunk: Buffer): void {
    if (c.closed) return;
    const err = c.parser.feed(chunk, (m) => this.onMessage(c, m));
    if (err && !c.closed) this.failDecode(c, err, 'malformed message');
  }

  private failDecode(c: Connection, err: BgpDecodeError, what: string): void {
    this.log.warn({ err: err.message }, what);
    this.fail(c, { code: err.code, subcode: err.subcode, data: err.data }, `${what}: ${err.reason}`);
  }

  private onMessage(c: Connection, m: BgpMessage): void {
    if (c.closed) return;
    c.lastReceived = this.clock.now();
    switch (m.type) {
      case 'open':
        if (c.state !== 'OpenSent') return this.unexpected(c, 'OPEN');
        return this.onOpen(c, m);
      case 'keepalive':
        if (c.state === 'OpenSent') return this.unexpected(c, 'KEEPALIVE');
        if (c.state === 'OpenConfirm') this.onEstablished(c);
        return;
      case 'update':
        if (c.state !== 'Established') return this.unexpected(c, 'UPDATE');
        this.updatesReceived++;
        if (m.problems.length > 0) {
          // RFC 7606: treat-as-withdraw and attribute-discard keep the session; we use no received routes.
          this.log.info({ problems: m.problems.map((p) => `${p.action}: ${p.reason}`) }, 'malformed UPDATE attributes handled without reset');
        }
        return;
      case 'notification':
        c.gotNotification = true;
        this.setError(`received NOTIFICATION ${describeNotification(m)}`);
        this.log.warn({ notification: describeNotification(m) }, 'peer sent NOTIFICATION');
        this.closeConnection(c);
        return;
      case 'route-refresh': {
        if (c.state !== 'Established') return this.unexpected(c, 'ROUTE-REFRESH');
        const family = familyOf(m.afi, m.safi);
        if (m.subtype !== 0 || family === undefined || !c.families.has(family)) return;
        this.log.debug({ family }, 'ROUTE-REFRESH: sending the full table again');
        for (const key of [...c.advertised.keys()]) if (keyFamily(key) === family) c.advertised.delete(key);
        this.sync(c);
        return;
      }
    }
  }

  private unexpected(c: Connection, what: string): void {
    const subcode =
      c.state === 'OpenSent'
        ? FsmSubcode.UnexpectedMessageInOpenSent
        : c.state === 'OpenConfirm'
          ? FsmSubcode.UnexpectedMessageInOpenConfirm
          : FsmSubcode.UnexpectedMessageInEstablished;
    this.fail(c, { code: ErrorCode.FiniteStateMachine, subcode }, `unexpected ${what} in ${c.state}`);
  }

  private checkPeerOpen(open: OpenMessage, c: Connection): BgpDecodeError | undefined {
    const err = checkOpen(open, { peerAsn: this.peer.peerASN, localAsn: this.peer.myASN, localBgpId: c.bgpId });
    if (err) return err;
    const dyn = this.peer.dynamicASN;
    if ((dyn === 'internal' && open.asn !== this.peer.myASN) || (dyn === 'external' && open.asn === this.peer.myASN)) {
      const data = Buffer.alloc(2);
      data.writeUInt16BE(open.myAs);
      return new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, `peer AS ${open.asn} is not ${dyn} (our AS ${this.peer.myASN})`, data);
    }
    return undefined;
  }

  private onOpen(c: Connection, open: OpenMessage): void {
    const problem = this.checkPeerOpen(open, c);
    if (problem) return this.failDecode(c, problem, 'unacceptable OPEN');

    // §6.8 collision detection: against the other connection once its peer's Identifier is known.
    for (const other of this.connections) {
      if (other === c || other.closed) continue;
      if (other.state === 'Established') {
        this.fail(c, cease(CeaseSubcode.ConnectionCollisionResolution), 'connection collision with the established session');
        return;
      }
      if (other.state === 'OpenConfirm') {
        // The connection the side with the higher Identifier opened survives.
        const weLose = c.bgpId < open.bgpId;
        const loserDirection: Direction = weLose ? 'out' : 'in';
        const loser = c.direction === loserDirection ? c : other;
        this.log.info({ local: c.bgpId, remote: open.bgpId, closing: loser.direction }, 'connection collision');
        this.fail(loser, cease(CeaseSubcode.ConnectionCollisionResolution), 'connection collision resolution');
        if (loser === c) return;
      }
    }

    const local = this.localCapabilities();
    const negotiated = negotiateCapabilities(local, open.capabilities);
    c.peerOpen = open;
    c.ibgp = open.asn === this.peer.myASN;
    c.fourOctetAs = negotiated.fourOctetAs;
    c.parser.options.fourOctetAs = negotiated.fourOctetAs;
    c.families = new Set(negotiated.families.map((f) => familyOf(f.afi, f.safi)).filter((f): f is IPFamily => f !== undefined));
    const ours = this.peer.holdTimeSeconds;
    const hold = ours === 0 || open.holdTime === 0 ? 0 : Math.min(ours, open.holdTime);
    c.holdMs = hold * 1000;
    const configured = this.peer.keepaliveTimeSeconds * 1000;
    const third = Math.floor((hold * 1000) / 3);
    c.keepaliveMs = hold === 0 ? 0 : configured > 0 ? Math.min(configured, third) : third;

    this.send(c, encodeKeepalive());
    c.state = 'OpenConfirm';
    this.armHold(c, c.holdMs);
    this.armKeepalive(c);
    this.statusChanged();
  }

  private onEstablished(c: Connection): void {
    c.state = 'Established';
    this.established = c;
    this.establishedCount++;
    this.backoffMs = BACKOFF_MIN_MS;
    this.abortConnect();
    for (const other of [...this.connections]) {
      if (other !== c) this.fail(other, cease(CeaseSubcode.ConnectionCollisionResolution), 'connection collision with the established session');
    }
    this.nextHops(c);
    this.log.info(
      { peerAS: c.peerOpen!.asn, hold: c.holdMs / 1000, families: [...c.families], direction: c.direction, local: c.localAddress },
      'BGP session established',
    );
    this.sync(c);
    for (const family of ['IPv4', 'IPv6'] as const) {
      if (c.families.has(family)) {
        this.send(c, encodeEndOfRib(family));
        this.updatesSent++;
      }
    }
    this.startBfd(c);
    this.statusChanged();
  }

  private nextHops(c: Connection): void {
    const local = c.localAddress !== undefined ? parseIP(c.localAddress.split('%')[0]!) : undefined;
    const opt = (s: string | undefined): IPAddress | undefined => (s === undefined ? undefined : parseIP(s));
    if (local?.family === 'IPv4') {
      c.nextHop4 = local;
      c.nextHop6 = opt(this.options.ipv6NextHop);
    } else {
      c.nextHop4 = opt(this.options.ipv4NextHop);
      if (local && isLinkLocal(local)) {
        c.nextHop6 = opt(this.options.ipv6NextHop);
        c.linkLocal6 = local;
      } else {
        c.nextHop6 = local ?? opt(this.options.ipv6NextHop);
      }
    }
    if (c.nextHop4?.family !== 'IPv4') c.nextHop4 = undefined;
    if (c.nextHop6?.family !== 'IPv6') c.nextHop6 = undefined;
  }

  private startBfd(c: Connection): void {
    const profile = this.options.bfdProfile;
    if (!this.options.bfd || !profile || c.localAddress === undefined) return;
    this.bfdWasUp = false;
    try {
      const handle = this.options.bfd.open(this.peer.peerAddress, c.localAddress, profile);
      this.bfd = handle;
      handle.onStateChange((state, diagnostic) => {
        if (this.bfd !== handle) return;
        if (state === 'Up') this.bfdWasUp = true;
        if (state === 'Down' && this.bfdWasUp && this.established === c) {
          this.log.warn({ diagnostic }, 'BFD down: closing the BGP session');
          this.fail(c, cease(CeaseSubcode.BfdDown), `BFD down (${diagnostic})`);
        }
        this.statusChanged();
      });
    } catch (err) {
      this.setError(`BFD: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Timers

  private armHold(c: Connection, ms: number): void {
    c.holdTimer?.cancel();
    c.holdTimer = undefined;
    if (ms <= 0) return;
    const check = (): void => {
      c.holdTimer = undefined;
      if (c.closed) return;
      const idle = this.clock.now() - c.lastReceived;
      const limit = c.state === 'OpenSent' ? OPEN_HOLD_MS : c.holdMs;
      if (idle >= limit) {
        this.log.warn({ holdMs: limit }, 'hold timer expired');
        this.fail(c, { code: ErrorCode.HoldTimerExpired, subcode: 0 }, `hold timer expired (${limit / 1000} s)`);
      } else {
        c.holdTimer = this.clock.setTimer(limit - idle, check);
      }
    };
    c.holdTimer = this.clock.setTimer(ms - (this.clock.now() - c.lastReceived), check);
  }

  private armKeepalive(c: Connection): void {
    c.keepaliveTimer?.cancel();
    if (c.keepaliveMs <= 0) return;
    c.keepaliveTimer = this.clock.setTimer(c.keepaliveMs, () => {
      if (c.closed) return;
      this.send(c, encodeKeepalive());
      this.armKeepalive(c);
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Sending routes

  /** Brings the connection's Adj-RIB-Out to the desired routes with packed UPDATEs. */
  private sync(c: Connection): void {
    const nextHop = (f: IPFamily): IPAddress | undefined => (f === 'IPv4' ? c.nextHop4 : c.nextHop6);
    const sendable = (f: IPFamily): boolean => c.families.has(f) && nextHop(f) !== undefined;
    const withdraw: Record<IPFamily, CIDR[]> = { IPv4: [], IPv6: [] };
    for (const key of c.advertised.keys()) {
      const d = this.desired.get(key);
      if (!d || !sendable(d.family)) {
        withdraw[keyFamily(key)].push(parseKey(key));
        c.advertised.delete(key);
      }
    }
    const groups = new Map<string, { route: OutRoute; prefixes: CIDR[] }>();
    const skipped: Record<IPFamily, number> = { IPv4: 0, IPv6: 0 };
    for (const d of this.desired.values()) {
      if (!sendable(d.family)) {
        skipped[d.family]++;
        continue;
      }
      if (c.advertised.get(d.key) === d.attrKey) continue;
      const g = `${d.family}#${d.attrKey}`;
      let group = groups.get(g);
      if (!group) groups.set(g, (group = { route: d, prefixes: [] }));
      group.prefixes.push(d.prefix);
    }
    const out: Buffer[] = [];
    for (const family of ['IPv4', 'IPv6'] as const) {
      if (withdraw[family].length > 0) {
        out.push(...encodeUpdates({ family, attributes: {}, announce: [], withdraw: withdraw[family], fourOctetAs: c.fourOctetAs }));
      }
    }
    for (const { route, prefixes } of groups.values()) {
      try {
        out.push(
          ...encodeUpdates({
            family: route.family,
            attributes: this.attributes(c, route),
            nextHop: nextHop(route.family)!,
            ...(route.family === 'IPv6' && c.linkLocal6 ? { linkLocalNextHop: c.linkLocal6 } : {}),
            announce: prefixes,
            withdraw: [],
            fourOctetAs: c.fourOctetAs,
          }),
        );
        for (const p of prefixes) c.advertised.set(prefixKey(p), route.attrKey);
      } catch (err) {
        this.setError(`cannot encode routes: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (out.length > 0) {
      this.send(c, out.length === 1 ? out[0]! : Buffer.concat(out));
      this.updatesSent += out.length;
    }
    for (const family of ['IPv4', 'IPv6'] as const) {
      if (skipped[family] === 0) continue;
      const why = !c.families.has(family)
        ? `the peer did not negotiate ${family} unicast`
        : `no ${family} next hop on this ${c.localAddress?.includes(':') ? 'IPv6' : 'IPv4'} session (set ${family === 'IPv6' ? 'ipv6NextHop' : 'ipv4NextHop'})`;
      this.setError(`${skipped[family]} ${family} route(s) not advertised: ${why}`);
    }
  }

  private attributes(c: Connection, r: OutRoute): PathAttributes {
    return {
      origin: 'igp',
      asPath: c.ibgp ? [] : [{ type: 'sequence', asns: [this.peer.myASN] }],
      ...(c.ibgp ? { localPref: r.localPref ?? DEFAULT_LOCAL_PREF } : {}),
      ...(r.communities.length > 0 ? { communities: r.communities } : {}),
      ...(r.large.length > 0 ? { largeCommunities: r.large } : {}),
    };
  }

  private withdrawAll(c: Connection): void {
    const withdraw: Record<IPFamily, CIDR[]> = { IPv4: [], IPv6: [] };
    for (const key of c.advertised.keys()) withdraw[keyFamily(key)].push(parseKey(key));
    c.advertised.clear();
    const out: Buffer[] = [];
    for (const family of ['IPv4', 'IPv6'] as const) {
      if (withdraw[family].length > 0) {
        out.push(...encodeUpdates({ family, attributes: {}, announce: [], withdraw: withdraw[family], fourOctetAs: c.fourOctetAs }));
      }
    }
    if (out.length > 0) {
      this.send(c, Buffer.concat(out));
      this.updatesSent += out.length;
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Closing

  private send(c: Connection, data: Buffer): void {
    if (c.closed) return;
    try {
      c.conn.write(data);
    } catch (err) {
      this.setError(`write: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Sends a NOTIFICATION (recorded as lastError) and closes the connection. */
  private fail(c: Connection, n: NotificationInput, reason: string): void {
    if (c.closed) return;
    const buf = encodeNotification(n);
    this.send(c, buf);
    const text = describeNotification({ code: n.code, subcode: n.subcode, data: n.data ?? new Uint8Array(0), ...(n.shutdownCommunication !== undefined ? { shutdownCommunication: n.shutdownCommunication } : {}) });
    this.setError(`sent NOTIFICATION ${text} (${reason})`);
    this.closeConnection(c);
  }

  private closeConnection(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    c.holdTimer?.cancel();
    c.keepaliveTimer?.cancel();
    try {
      c.conn.end();
    } catch {
      // already closed
    }
    c.destroyTimer = this.clock.setTimer(CLOSE_GRACE_MS, () => c.conn.destroy());
    this.connectionGone(c);
  }

  private onClose(c: Connection): void {
    c.destroyTimer?.cancel();
    c.resolveDone();
    if (c.closed) return;
    c.closed = true;
    c.holdTimer?.cancel();
    c.keepaliveTimer?.cancel();
    if (!c.gotNotification) this.setError(c.state === 'OpenSent' && c.peerOpen === undefined ? 'connection closed by the peer before its OPEN' : 'connection closed by the peer');
    this.connectionGone(c);
  }

  private connectionGone(c: Connection): void {
    this.connections.delete(c);
    if (this.established === c) {
      this.established = undefined;
      this.bfd?.close();
      this.bfd = undefined;
      this.log.info({ lastError: this.lastError }, 'BGP session down');
    }
    if (!this.stopped && this.connections.size === 0 && !this.connecting) this.scheduleRetry();
    this.statusChanged();
  }

  // -------------------------------------------------------------------------------------------------
  // Status

  private setError(text: string): void {
    if (this.lastError === text) return;
    this.lastError = text;
    this.options.onStatusChange?.();
  }

  private statusChanged(): void {
    const state = this.state;
    if (state !== this.lastState) {
      this.lastState = state;
      this.since = this.clock.now();
    }
    this.reportedPrefixes = this.established?.advertised.size ?? 0;
    this.options.onStatusChange?.();
  }

  private countersChanged(): void {
    const n = this.established?.advertised.size ?? 0;
    if (n !== this.reportedPrefixes) this.statusChanged();
  }
}

// ---------------------------------------------------------------------------------------------------------

const cease = (subcode: number): NotificationInput => ({ code: ErrorCode.Cease, subcode });

const isLinkLocal = (ip: IPAddress): boolean => ip.family === 'IPv6' && ip.value >> 118n === 0x3fan;

const prefixKey = (p: CIDR): string => `${formatIP(p.address)}/${p.prefixLength}`;

const keyFamily = (key: string): IPFamily => (key.includes(':') ? 'IPv6' : 'IPv4');

function parseKey(key: string): CIDR {
  const slash = key.lastIndexOf('/');
  return { address: parseIP(key.slice(0, slash))!, prefixLength: Number(key.slice(slash + 1)) };
}

/** OutRoute per BGPRoute object: an unchanged route (the planner keeps its object) is converted once. */
const outRoutes = new WeakMap<BGPRoute, OutRoute>();

function outRoute(r: BGPRoute): OutRoute {
  let out = outRoutes.get(r);
  if (!out) outRoutes.set(r, (out = toOutRoute(r)));
  return out;
}

function toOutRoute(r: BGPRoute): OutRoute {
  const prefix: CIDR = { address: { family: r.prefix.family, value: r.prefix.value }, prefixLength: r.prefix.length };
  const communities = [...new Set(r.communities.filter((c) => c.kind === 'standard').map((c) => c.value >>> 0))].sort((a, b) => a - b);
  const largeSeen = new Map<string, LargeCommunity>();
  for (const c of r.communities) if (c.kind === 'large') largeSeen.set(`${c.globalAdmin}:${c.localData1}:${c.localData2}`, c);
  const large = [...largeSeen.values()].sort(
    (a, b) => a.globalAdmin - b.globalAdmin || a.localData1 - b.localData1 || a.localData2 - b.localData2,
  );
  const attrKey = `${r.localPref ?? ''}|${communities.join(',')}|${[...largeSeen.keys()].sort().join(',')}`;
  return { key: prefixKey(prefix), family: r.prefix.family, prefix, communities, large, localPref: r.localPref, attrKey };
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
