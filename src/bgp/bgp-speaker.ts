// The native BGP driver: one PeerSession per configured peer (keyed by BGPPeer name), told the whole
// desired state on every apply(). A peer whose session parameters changed is torn down and rebuilt; a
// change in its routes only sends UPDATEs. Optionally listens for connections the peers open.
import { systemClock, type Clock } from '../clock/clock.ts';
import type { BFDProfile, BGPPeer } from '../config/model.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import type { BGPDriver } from '../speaker/drivers.ts';
import type { BGPRoute } from '../speaker/plan.ts';
import type { BfdFactory } from './bfd/handle.ts';
import { CeaseSubcode } from './codec/index.ts';
import { PeerSession, type BgpPeerStatus } from './session.ts';
import { plainAddress, tcpTransport, type BgpConnection, type BgpListener, type BgpTransport } from './transport.ts';

export interface BGPSpeakerOptions {
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Default: real TCP (node:net, the native addon for TCP-MD5 and TTL). */
  readonly transport?: BgpTransport;
  readonly bfd?: BfdFactory;
  /** BGP Identifier for peers without routerID (default: the IPv4 local address of each connection). */
  readonly routerID?: string;
  /** NEXT_HOP for IPv4 routes on IPv6 sessions (the node's IPv4 address). */
  readonly ipv4NextHop?: string;
  /** Next hop for IPv6 routes on IPv4 sessions (the node's IPv6 address). Without it they are not sent. */
  readonly ipv6NextHop?: string;
  /**
   * Accept connections the peers open (collision-detected against our own). Default: port 179 on "::";
   * false: dial out only. A port already taken (another BGP daemon on the node) is logged, not fatal.
   */
  readonly listen?: { readonly port?: number; readonly host?: string } | false;
  readonly gracefulRestartTimeSeconds?: number;
  /** Set the graceful-restart R bit (this speaker has just restarted). */
  readonly restarting?: boolean;
  /** TCP connect timeout for peers without connectTime. */
  readonly defaultConnectTimeoutMs?: number;
  /** The text of the Cease NOTIFICATION that stop() sends. */
  readonly shutdownMessage?: string;
}

interface Entry {
  readonly session: PeerSession;
  readonly fingerprint: string;
}

/** Everything about a peer that the session is built from; a change means a new session. */
function fingerprint(peer: BGPPeer, profile: BFDProfile | undefined): string {
  const { name: _name, nodeSelectors: _selectors, ...rest } = peer;
  return JSON.stringify({ ...rest, bfd: profile ?? null });
}

export class BGPSpeaker implements BGPDriver {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly transport: BgpTransport;
  private readonly sessions = new Map<string, Entry>();
  private readonly listeners: (() => void)[] = [];
  private listener: BgpListener | undefined;
  private listenStarted = false;
  private readonly keys = new Map<string, string>();
  private notifyQueued = false;
  private stopped = false;

  constructor(private readonly options: BGPSpeakerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger()).child({ component: 'bgp' });
    this.transport = options.transport ?? tcpTransport();
  }

  apply(peers: readonly BGPPeer[], routes: ReadonlyMap<string, readonly BGPRoute[]>, bfdProfiles: ReadonlyMap<string, BFDProfile>): void {
    if (this.stopped) return;
    const wanted = new Set<string>();
    for (const peer of peers) {
      wanted.add(peer.name);
      const profile = peer.bfdProfile !== undefined ? bfdProfiles.get(peer.bfdProfile) : undefined;
      const fp = fingerprint(peer, profile);
      let entry = this.sessions.get(peer.name);
      if (entry && entry.fingerprint !== fp) {
        this.log.info({ peer: peer.name }, 'peer changed: resetting its session');
        void entry.session.stop({ subcode: CeaseSubcode.OtherConfigurationChange });
        entry = undefined;
      }
      if (!entry) {
        entry = { session: this.newSession(peer, profile), fingerprint: fp };
        this.sessions.set(peer.name, entry);
        entry.session.setRoutes(routes.get(peer.name) ?? []);
        entry.session.start();
      } else {
        entry.session.setRoutes(routes.get(peer.name) ?? []);
      }
    }
    for (const [name, entry] of this.sessions) {
      if (wanted.has(name)) continue;
      this.log.info({ peer: name }, 'peer removed: closing its session');
      this.sessions.delete(name);
      void entry.session.stop({ subcode: CeaseSubcode.PeerDeconfigured, withdraw: true });
    }
    this.updateListener();
    this.notify();
  }

  status(): BgpPeerStatus[] {
    return [...this.sessions.values()].map((e) => e.session.status());
  }

  onStatusChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Withdraws everything, closes every session with Cease / Administrative Shutdown, stops listening. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.listener?.close();
    this.listener = undefined;
    const message = this.options.shutdownMessage ?? 'IronLB speaker shutting down';
    const all = [...this.sessions.values()].map((e) => e.session.stop({ subcode: CeaseSubcode.AdministrativeShutdown, message, withdraw: true }));
    await Promise.all(all);
    this.notify();
  }

  private newSession(peer: BGPPeer, profile: BFDProfile | undefined): PeerSession {
    const o = this.options;
    return new PeerSession(peer, {
      clock: this.clock,
      transport: this.transport,
      log: this.log,
      routerID: o.routerID,
      ipv4NextHop: o.ipv4NextHop,
      ipv6NextHop: o.ipv6NextHop,
      bfd: o.bfd,
      bfdProfile: profile,
      ...(o.gracefulRestartTimeSeconds !== undefined ? { gracefulRestartTimeSeconds: o.gracefulRestartTimeSeconds } : {}),
      ...(o.restarting !== undefined ? { restarting: o.restarting } : {}),
      ...(o.defaultConnectTimeoutMs !== undefined ? { defaultConnectTimeoutMs: o.defaultConnectTimeoutMs } : {}),
      onStatusChange: () => this.notify(),
    });
  }

  private notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const l of this.listeners) {
        try {
          l();
        } catch (err) {
          this.log.error({ err: String(err) }, 'status listener failed');
        }
      }
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Passive side

  private updateListener(): void {
    if (this.options.listen === false || !this.transport.listen) return;
    if (!this.listenStarted && this.sessions.size > 0) {
      this.listenStarted = true;
      const port = this.options.listen?.port ?? 179;
      const host = this.options.listen?.host ?? '::';
      this.transport
        .listen({ host, port, onConnection: (conn) => this.onIncoming(conn) })
        .then(
          (listener) => {
            if (this.stopped) return listener.close();
            this.listener = listener;
            this.log.info({ host, port: listener.port }, 'listening for BGP connections');
            this.updateKeys();
          },
          (err: unknown) => this.log.warn({ err: String(err), host, port }, 'cannot listen for BGP connections: dialing out only'),
        );
    }
    this.updateKeys();
  }

  private updateKeys(): void {
    const listener = this.listener;
    if (!listener) return;
    const want = new Map<string, string>();
    for (const { session } of this.sessions.values()) {
      if (session.peer.password) want.set(session.address, session.peer.password);
    }
    for (const [peer] of this.keys) {
      if (want.has(peer)) continue;
      try {
        listener.setKey(peer, undefined);
      } catch (err) {
        this.log.warn({ err: String(err), peer }, 'cannot remove TCP-MD5 key');
      }
      this.keys.delete(peer);
    }
    for (const [peer, key] of want) {
      if (this.keys.get(peer) === key) continue;
      try {
        listener.setKey(peer, key);
        this.keys.set(peer, key);
      } catch (err) {
        this.log.warn({ err: String(err), peer }, 'cannot set TCP-MD5 key on the listener');
      }
    }
  }

  /** Public for tests with an in-memory transport: a connection a peer opened to this speaker. */
  onIncoming(conn: BgpConnection): void {
    const from = plainAddress(conn.remoteAddress);
    for (const { session } of this.sessions.values()) {
      if (session.address === from) {
        session.accept(conn);
        return;
      }
    }
    this.log.debug({ from }, 'connection from an unknown peer refused');
    conn.on('error', () => {});
    conn.destroy();
  }
}
