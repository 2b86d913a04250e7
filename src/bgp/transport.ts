// What a BGP session needs from the network: an outgoing TCP connection (with source address, TTL and
// TCP-MD5) and, optionally, a listener that hands over connections the peers open. The session takes
// these as an injected transport, so its state machine runs in virtual time over in-memory pipes in the
// tests; `tcpTransport()` is the real one (node:net, and the native addon for MD5 and TTL).
import net from 'node:net';
import { connectWithMd5, nativeAddonUnavailable, removeMd5Key, setMd5Key, setTtl } from '../net/tcp-md5.ts';

/**
 * A connected byte stream; `net.Socket` fits as is. Events: `data` (Buffer), `error` (Error), `close`
 * (after which nothing more arrives). `end` sends what is queued, then closes our side.
 */
export interface BgpConnection {
  readonly localAddress?: string | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  write(data: Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

export interface ConnectRequest {
  readonly peer: string;
  readonly port: number;
  /** Source address to bind (BGPPeer sourceAddress). */
  readonly local?: string | undefined;
  /** TCP-MD5 password; undefined or empty: plain TCP. */
  readonly key?: string | undefined;
  /** Outgoing TTL / hop limit; undefined leaves the system default. */
  readonly ttl?: number | undefined;
  /** The session aborts the attempt when its connect timeout passes or it stops. */
  readonly signal: AbortSignal;
}

export interface ListenRequest {
  /** Default "::" (dual stack). */
  readonly host?: string;
  readonly port: number;
  readonly onConnection: (conn: BgpConnection) => void;
}

export interface BgpListener {
  readonly port: number;
  /** Require TCP-MD5 with `key` from `peer` (undefined removes the requirement). */
  setKey(peer: string, key: string | undefined): void;
  close(): void;
}

export interface BgpTransport {
  connect(request: ConnectRequest): Promise<BgpConnection>;
  /** Passive side; absent: the speaker only dials out. */
  listen?(request: ListenRequest): Promise<BgpListener>;
  /** Sets the outgoing TTL of an accepted connection (eBGP single hop: 1). */
  setTtl?(conn: BgpConnection, ttl: number): void;
}

/** "::ffff:10.0.0.1" → "10.0.0.1"; other addresses unchanged (lower case). */
export function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** The real transport: node:net, with the native addon for TCP-MD5 and TTL when it is built. */
export function tcpTransport(): BgpTransport {
  const native = nativeAddonUnavailable() === undefined;
  return {
    async connect(req) {
      let socket: net.Socket;
      if (native) {
        socket = await connectWithMd5({
          peer: req.peer,
          port: req.port,
          ...(req.local !== undefined ? { local: req.local } : {}),
          ...(req.key ? { key: req.key } : {}),
          ...(req.ttl !== undefined ? { ttl: req.ttl } : {}),
          signal: req.signal,
        });
      } else {
        if (req.key) throw new Error(`TCP-MD5 needs the native addon: ${nativeAddonUnavailable()}`);
        socket = await plainConnect(req);
      }
      socket.setNoDelay(true);
      return socket;
    },
    async listen(req) {
      const keys = new Map<string, string>();
      const server = net.createServer({ noDelay: true }, (socket) => {
        socket.setNoDelay(true);
        req.onConnection(socket);
      });
      server.on('error', () => {}); // accept errors (EMFILE...) must not crash the daemon
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen({ host: req.host ?? '::', port: req.port }, () => {
          server.off('error', onError);
          resolve();
        });
      });
      const address = server.address() as net.AddressInfo;
      return {
        port: address.port,
        setKey(peer, key) {
          const old = keys.get(peer);
          if (old === key) return;
          if (old !== undefined) {
            try {
              removeMd5Key(server, peer);
            } catch {
              // already gone
            }
            keys.delete(peer);
          }
          if (key) {
            if (!native) throw new Error(`TCP-MD5 needs the native addon: ${nativeAddonUnavailable()}`);
            setMd5Key(server, peer, key);
            keys.set(peer, key);
          }
        },
        close() {
          server.close();
        },
      };
    },
    setTtl(conn, ttl) {
      if (native && conn instanceof net.Socket) setTtl(conn, ttl);
    },
  };
}

function plainConnect(req: ConnectRequest): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: req.peer,
      port: req.port,
      ...(req.local !== undefined ? { localAddress: req.local } : {}),
    });
    const onAbort = (): void => {
      socket.destroy();
      reject(new DOMException('connect aborted', 'AbortError'));
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err) => {
      req.signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    socket.once('connect', () => {
      req.signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
