// BFD over UDP, single hop (RFC 5881), and the BfdFactory the BGP sessions use.
//
// Sockets:
// - Receiving: one UDP socket per local address (or per family for a wildcard local address), bound to port
//   3784 with reuseAddr and shared by every session from that address. Packets are matched to a session by
//   Your Discriminator, or, when that is zero (the remote does not know ours yet), by (local address, peer
//   address) (RFC 5880 §6.8.6, RFC 5881 §3).
// - Sending: one socket per session, bound to the local address and a source port chosen at random in
//   49152–65535 (RFC 5881 §4: the same port for the whole session, unique per session), with TTL / hop limit
//   255 (RFC 5881 §5). Node's socket.setTTL sets IP_TTL on udp4 sockets and IPV6_UNICAST_HOPS on udp6
//   sockets (libuv uv_udp_set_ttl picks by family), so it covers unicast for both; setMulticastTTL would not.
//
// What is NOT enforced: RFC 5881 §5 says received single-hop packets MUST be discarded unless their TTL / hop
// limit is 255 (GTSM, RFC 5082), which proves the sender is on the link. Node cannot read the received TTL
// (no IP_RECVTTL / IPV6_RECVHOPLIMIT ancillary data on dgram sockets), so any host that can reach port 3784
// here, from any distance, can send packets that pass the checks below, as long as it sources them from the
// peer's address (with Your Discriminator 0 in Down) or guesses the 32-bit discriminator of a live session.
// Such a spoofer can hold a session Up over a dead path, or take it Down with a forged AdminDown/Down. Keep
// port 3784 filtered from off-link sources (e.g. an nftables rule `ip ttl != 255 udp dport 3784 drop`) where
// that matters. For the same reason a BFDProfile's minimumTtl (multi-hop only in MetalLB) cannot be applied.
//
// Sessions opened here start Down and report every state change to their handles' listeners. Two opens of
// the same (local, peer) share one BFD session (there can be only one per pair on the wire); it is closed,
// announcing AdminDown to the peer for a while (see BfdSession.adminDown), when its last handle closes.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import type { BFDProfile } from '../../config/model.ts';
import { systemClock, type Clock, type Timer } from '../../clock/clock.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { formatIP, parseIP } from '../../net/address.ts';
import { decodeControl, encodeControl, type BfdDecodeReason, type ControlPacket } from './codec.ts';
import type { BfdFactory, BfdSessionHandle, BfdState } from './handle.ts';
import { BfdSession, timersFromProfile, type BfdSessionStatus, type BfdStateChange, type BfdTimers } from './session.ts';

/** RFC 5881 §4: destination port of single-hop Control packets. */
export const BFD_CONTROL_PORT = 3784;
export const SOURCE_PORT_MIN = 49152;
export const SOURCE_PORT_MAX = 65535;
/** RFC 5881 §5: TTL / hop limit of single-hop Control packets. */
export const BFD_SINGLE_HOP_TTL = 255;
const BIND_RETRY_MS = 2000;
/**
 * Appended to the diagnostic a handle reports when the peer went AdminDown: `Neighbor Signaled Session Down
 * (peer AdminDown)`. RFC 5882 §3.2: that is no path failure, and BGP SHOULD NOT drop its session for it.
 */
export const PEER_ADMIN_DOWN = 'peer AdminDown';
const SOURCE_PORT_ATTEMPTS = 32;

export type BfdDropReason = BfdDecodeReason | 'no-session' | 'wrong-peer' | 'session-error';

export interface BfdTransportStats {
  /** Datagrams received on port 3784. */
  readonly received: number;
  /** Of those, handed to a session. */
  readonly accepted: number;
  /** Dropped, by reason (decode failures, no matching session, ...). */
  readonly dropped: Readonly<Partial<Record<BfdDropReason, number>>>;
  readonly sent: number;
  /** Packets the kernel refused (e.g. network unreachable while a link is down). */
  readonly sendErrors: number;
}

export interface BfdSessionInfo {
  readonly peerAddress: string;
  readonly localAddress: string;
  readonly sourcePort: number | undefined;
  readonly status: BfdSessionStatus;
}

export interface UdpBfdFactoryOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Uniform in [0, 1), for jitter. */
  readonly random?: () => number;
  /** Port to listen on and send to; 3784 unless a test needs another. */
  readonly port?: number;
  /** Source ports are drawn from this range (inclusive); RFC 5881's 49152–65535 by default. */
  readonly sourcePorts?: readonly [number, number];
}

interface Address {
  /** Canonical text without zone, '' for the wildcard. */
  readonly key: string;
  /** What to bind or send to (with the zone for link-local IPv6). */
  readonly socketAddress: string;
  readonly family: 4 | 6;
}

function parseAddress(text: string, family?: 4 | 6): Address | undefined {
  const [bare = '', zone] = text.split('%', 2);
  if (bare === '' && family !== undefined) return { key: '', socketAddress: family === 4 ? '0.0.0.0' : '::', family };
  const ip = parseIP(bare);
  if (!ip || isIP(bare) === 0) return undefined;
  const key = formatIP(ip);
  return { key, socketAddress: zone ? `${key}%${zone}` : key, family: ip.family === 'IPv4' ? 4 : 6 };
}

/** rinfo.address in the canonical form of Address.key. */
function canonicalSource(address: string): string {
  const bare = address.split('%', 1)[0]!;
  const ip = parseIP(bare);
  return ip ? formatIP(ip) : bare;
}

interface Listener {
  readonly local: Address;
  socket: dgram.Socket | undefined;
  refs: number;
  retry: Timer | undefined;
  closed: boolean;
}

/** @internal */
export interface Entry {
  readonly key: string;
  readonly peer: Address;
  readonly local: Address;
  readonly session: BfdSession;
  readonly listener: Listener;
  readonly handles: Set<UdpBfdSessionHandle>;
  timers: BfdTimers;
  sendSocket: dgram.Socket | undefined;
  /** The latest packet the session wanted to send before the socket was bound; sent once it is. */
  unsent: ControlPacket | undefined;
  sourcePort: number | undefined;
  sendRetry: Timer | undefined;
  closeTimer: Timer | undefined;
  pendingSends: number;
  closed: boolean;
}

/** The BfdFactory of the speaker: real UDP sockets, one session per (local, peer). */
export class UdpBfdFactory implements BfdFactory {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: (() => number) | undefined;
  private readonly port: number;
  private readonly sourcePorts: readonly [number, number];
  private readonly listeners = new Map<string, Listener>();
  private readonly entries = new Map<string, Entry>();
  private readonly byDiscriminator = new Map<number, Entry>();
  private readonly dropped: Partial<Record<BfdDropReason, number>> = {};
  private received = 0;
  private accepted = 0;
  private sent = 0;
  private sendErrors = 0;
  private shutDown = false;

  constructor(opts: UdpBfdFactoryOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.random = opts.random;
    this.port = opts.port ?? BFD_CONTROL_PORT;
    this.sourcePorts = opts.sourcePorts ?? [SOURCE_PORT_MIN, SOURCE_PORT_MAX];
  }

  /**
   * Opens (or joins) the single-hop session to peerAddress from localAddress. localAddress '' lets the
   * kernel pick the source address. Throws (synchronously, before creating anything) if an address is not
   * an IP address or the two families differ. Echo mode is not supported; passive mode is.
   */
  open(peerAddress: string, localAddress: string, profile: BFDProfile): UdpBfdSessionHandle {
    if (this.shutDown) throw new Error('BFD factory is closed');
    const peer = parseAddress(peerAddress);
    if (!peer || peer.key === '') throw new TypeError(`BFD peer address "${peerAddress}" is not an IP address`);
    const local = parseAddress(localAddress, peer.family);
    if (!local) throw new TypeError(`BFD local address "${localAddress}" is not an IP address`);
    if (local.family !== peer.family) throw new TypeError(`BFD local address ${localAddress} and peer ${peerAddress} are of different families`);
    if (profile.echoMode) this.log.warn({ profile: profile.name }, 'BFD echo mode is not supported; using asynchronous mode only');
    const timers = timersFromProfile(profile);
    const key = `${local.key}|${peer.key}`;
    let entry = this.entries.get(key);
    if (entry) {
      if (entry.closeTimer) {
        entry.closeTimer.cancel();
        entry.closeTimer = undefined;
        entry.session.adminUp();
      }
      if (!sameTimers(entry.timers, timers)) {
        entry.timers = timers;
        entry.session.setTimers(timers); // a Poll Sequence, no flap
      }
    } else {
      entry = this.createEntry(key, peer, local, timers, profile.passiveMode);
    }
    const handle = new UdpBfdSessionHandle(entry, (h) => this.release(h), (err) =>
      this.log.error({ peer: entry.peer.key, err: String(err) }, 'BFD state listener threw'),
    );
    entry.handles.add(handle);
    return handle;
  }

  stats(): BfdTransportStats {
    return { received: this.received, accepted: this.accepted, dropped: { ...this.dropped }, sent: this.sent, sendErrors: this.sendErrors };
  }

  sessions(): BfdSessionInfo[] {
    return [...this.entries.values()].map((e) => ({
      peerAddress: e.peer.key,
      localAddress: e.local.key,
      sourcePort: e.sourcePort,
      status: e.session.status(),
    }));
  }

  /**
   * Closes everything now: each session sends one AdminDown packet (so the peer does not mistake a clean
   * shutdown for a path failure), then every socket closes. Handles stay usable but inert.
   */
  async close(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    const entries = [...this.entries.values()];
    for (const e of entries) {
      e.closeTimer?.cancel();
      e.session.adminDown();
      e.session.stop();
    }
    // Let the AdminDown packets leave (send completes asynchronously), but do not wait long.
    const deadline = Date.now() + 200;
    while (entries.some((e) => e.pendingSends > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    for (const e of entries) this.finishEntry(e);
  }

  // --- sessions -----------------------------------------------------------------------------------

  private createEntry(key: string, peer: Address, local: Address, timers: BfdTimers, passive: boolean): Entry {
    let discriminator: number;
    do discriminator = randomInt(1, 2 ** 32);
    while (this.byDiscriminator.has(discriminator));
    const listener = this.acquireListener(local);
    const entry: Entry = {
      key,
      peer,
      local,
      listener,
      handles: new Set(),
      timers,
      sendSocket: undefined,
      unsent: undefined,
      sourcePort: undefined,
      sendRetry: undefined,
      closeTimer: undefined,
      pendingSends: 0,
      closed: false,
      session: new BfdSession({
        clock: this.clock,
        localDiscriminator: discriminator,
        timers,
        passive,
        ...(this.random ? { random: this.random } : {}),
        send: (packet) => this.send(entry, packet),
      }),
    };
    entry.session.onStateChange((change) => this.notify(entry, change));
    this.entries.set(key, entry);
    this.byDiscriminator.set(discriminator, entry);
    this.openSendSocket(entry);
    entry.session.start();
    return entry;
  }

  private notify(entry: Entry, change: BfdStateChange): void {
    this.log.info(
      { peer: entry.peer.key, local: entry.local.key || undefined, state: change.state, previous: change.previous, diagnostic: change.diagnosticName },
      'BFD session state changed',
    );
    for (const handle of [...entry.handles]) handle.dispatch(change);
  }

  private release(handle: UdpBfdSessionHandle): void {
    const entry = handle.entry;
    if (!entry.handles.delete(handle) || entry.handles.size > 0 || entry.closed || this.shutDown) return;
    const lingerMs = entry.session.adminDown();
    entry.closeTimer = this.clock.setTimer(lingerMs, () => {
      entry.closeTimer = undefined;
      entry.session.stop();
      this.finishEntry(entry);
    });
  }

  private finishEntry(entry: Entry): void {
    if (entry.closed) return;
    entry.closed = true;
    entry.session.stop();
    entry.sendRetry?.cancel();
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (this.byDiscriminator.get(entry.session.localDiscriminator) === entry) this.byDiscriminator.delete(entry.session.localDiscriminator);
    entry.sendSocket?.close();
    entry.sendSocket = undefined;
    this.releaseListener(entry.listener);
  }

  // --- sending ------------------------------------------------------------------------------------

  private openSendSocket(entry: Entry, attempt = 0): void {
    if (entry.closed) return;
    const [min, max] = this.sourcePorts;
    const port = min + Math.floor(Math.random() * (max - min + 1));
    const socket = dgram.createSocket({ type: entry.peer.family === 4 ? 'udp4' : 'udp6' });
    socket.on('message', () => {}); // nothing is sent to a source port; drain whatever is
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      if (entry.closed) return;
      const retryMs = err.code === 'EADDRINUSE' && attempt < SOURCE_PORT_ATTEMPTS ? 0 : BIND_RETRY_MS;
      if (retryMs > 0) {
        this.log.warn({ peer: entry.peer.key, local: entry.local.key || undefined, err: err.message }, 'BFD send socket bind failed; retrying');
      }
      entry.sendRetry = this.clock.setTimer(retryMs, () => this.openSendSocket(entry, retryMs > 0 ? 0 : attempt + 1));
    });
    socket.bind({ address: entry.local.socketAddress, port, exclusive: true }, () => {
      if (entry.closed) {
        socket.close();
        return;
      }
      socket.removeAllListeners('error');
      socket.on('error', (err) => this.log.warn({ peer: entry.peer.key, err: err.message }, 'BFD send socket error'));
      socket.setTTL(BFD_SINGLE_HOP_TTL);
      entry.sendSocket = socket;
      entry.sourcePort = port;
      const unsent = entry.unsent;
      entry.unsent = undefined;
      if (unsent) this.send(entry, unsent);
    });
  }

  private send(entry: Entry, packet: ControlPacket): void {
    const socket = entry.sendSocket;
    if (!socket) {
      entry.unsent = packet; // binding takes a moment: the first packet would otherwise wait a slow 1 s
      return;
    }
    const bytes = encodeControl(packet);
    entry.pendingSends++;
    socket.send(bytes, this.port, entry.peer.socketAddress, (err) => {
      entry.pendingSends--;
      if (err) {
        this.sendErrors++;
        this.log.debug({ peer: entry.peer.key, err: err.message }, 'BFD send failed');
      } else {
        this.sent++;
      }
    });
  }

  // --- receiving ----------------------------------------------------------------------------------

  private acquireListener(local: Address): Listener {
    const lkey = `${local.family}|${local.key}`;
    let listener = this.listeners.get(lkey);
    if (!listener) {
      listener = { local, socket: undefined, refs: 0, retry: undefined, closed: false };
      this.listeners.set(lkey, listener);
      this.bindListener(listener);
    }
    listener.refs++;
    return listener;
  }

  private releaseListener(listener: Listener): void {
    if (--listener.refs > 0) return;
    listener.closed = true;
    listener.retry?.cancel();
    listener.socket?.close();
    listener.socket = undefined;
    this.listeners.delete(`${listener.local.family}|${listener.local.key}`);
  }

  private bindListener(listener: Listener): void {
    if (listener.closed) return;
    const family = listener.local.family;
    const socket = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true, ipv6Only: family === 6 });
    socket.on('message', (msg, rinfo) => this.onMessage(listener, msg, rinfo));
    socket.once('error', (err) => {
      socket.close();
      if (listener.closed) return;
      // EADDRNOTAVAIL: the local address is not (yet) configured; EADDRINUSE: another BFD without reuseAddr.
      this.log.warn({ local: listener.local.socketAddress, port: this.port, err: err.message }, 'BFD listen socket bind failed; retrying');
      listener.retry = this.clock.setTimer(BIND_RETRY_MS, () => this.bindListener(listener));
    });
    socket.bind({ address: listener.local.socketAddress, port: this.port }, () => {
      if (listener.closed) {
        socket.close();
        return;
      }
      socket.removeAllListeners('error');
      socket.on('error', (err) => this.log.warn({ local: listener.local.socketAddress, err: err.message }, 'BFD listen socket error'));
      listener.socket = socket;
    });
  }

  private drop(reason: BfdDropReason, from: string, detail: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    this.log.debug({ from, reason, detail }, 'BFD packet dropped');
  }

  private onMessage(listener: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.received++;
    const from = canonicalSource(rinfo.address);
    const decoded = decodeControl(msg);
    if (!decoded.ok) {
      this.drop(decoded.error.reason, from, decoded.error.message);
      return;
    }
    const packet = decoded.packet;
    let entry: Entry | undefined;
    if (packet.yourDiscriminator !== 0) {
      entry = this.byDiscriminator.get(packet.yourDiscriminator);
      if (!entry) return this.drop('no-session', from, `no session with discriminator ${packet.yourDiscriminator}`);
      if (entry.peer.key !== from || entry.peer.family !== listener.local.family) {
        return this.drop('wrong-peer', from, `discriminator ${packet.yourDiscriminator} belongs to peer ${entry.peer.key}`);
      }
    } else {
      // Sessions from this exact local address first, then one with a wildcard local address.
      entry = this.entries.get(`${listener.local.key}|${from}`) ?? this.entries.get(`|${from}`);
      if (!entry || entry.peer.family !== listener.local.family) return this.drop('no-session', from, 'no session for this peer');
    }
    if (entry.closed) return this.drop('no-session', from, 'session closed');
    this.accepted++;
    try {
      entry.session.receive(packet);
    } catch (err) {
      this.drop('session-error', from, String(err));
      this.log.error({ peer: entry.peer.key, err: String(err) }, 'BFD session failed to process a packet');
    }
  }
}

function sameTimers(a: BfdTimers, b: BfdTimers): boolean {
  return a.desiredMinTxUs === b.desiredMinTxUs && a.requiredMinRxUs === b.requiredMinRxUs && a.detectMult === b.detectMult;
}

/** One user's view of a (possibly shared) BFD session. */
export class UdpBfdSessionHandle implements BfdSessionHandle {
  private readonly listeners: ((state: BfdState, diagnostic: string) => void)[] = [];
  private closed = false;

  /** @internal Created by UdpBfdFactory.open. */
  constructor(
    readonly entry: Entry,
    private readonly onClose: (h: UdpBfdSessionHandle) => void,
    private readonly onListenerError: (err: unknown) => void,
  ) {}

  state(): BfdState {
    return this.entry.session.state;
  }

  /** The session's variables and counters, for status output and tests. */
  status(): BfdSessionStatus {
    return this.entry.session.status();
  }

  /** Source port of this session's packets (undefined until its socket is bound). */
  sourcePort(): number | undefined {
    return this.entry.sourcePort;
  }

  onStateChange(listener: (state: BfdState, diagnostic: string) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.length = 0;
    this.onClose(this);
  }

  /** @internal */
  dispatch(change: BfdStateChange): void {
    if (this.closed) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(change.state, change.remoteAdminDown ? `${change.diagnosticName} (${PEER_ADMIN_DOWN})` : change.diagnosticName);
      } catch (err) {
        this.onListenerError(err); // must not stop the session or the other listeners
      }
    }
  }
}
