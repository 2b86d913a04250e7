// TCP-MD5 (RFC 2385, BGP passwords) for Node sockets, through the native addon: an outgoing connection
// signed with a key, and keys on a listening server for the peers it accepts.
import { closeSync } from 'node:fs';
import net from 'node:net';
import { loadNativeAddon, type NativeConnectHandle, type NativeError } from '../../native/addon.ts';

export { NATIVE_BUILD_COMMAND, NativeAddonUnavailableError, nativeAddonUnavailable } from '../../native/addon.ts';

/** The kernel's limit (TCP_MD5SIG_MAXKEYLEN). */
export const TCP_MD5_MAX_KEY_LENGTH = 80;

export interface Md5ConnectOptions {
  /** Peer IP address (numeric; "fe80::1%eth0" for a link-local peer). */
  readonly peer: string;
  readonly port: number;
  /** Source address to bind (BGPPeer sourceAddress); same family as the peer. */
  readonly local?: string;
  readonly localPort?: number;
  /** The password (UTF-8 bytes of a string), at most 80 bytes. Empty or absent: a plain TCP connection. */
  readonly key?: string | Uint8Array;
  /** Unicast TTL / hop limit of outgoing packets: 1 for direct eBGP, more for ebgpMultiHop, 255 for GTSM. */
  readonly ttl?: number;
  /** Give up after this long (the SYNs of a wrong key are dropped silently: only a timeout ends them). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Connects to `peer`:`port` with TCP-MD5 and resolves to a connected net.Socket (which owns the fd).
 * Rejects with the system error (ECONNREFUSED, ENETUNREACH, ...), ETIMEDOUT after timeoutMs, or an
 * AbortError; throws NativeAddonUnavailableError if the addon is not built.
 */
export function connectWithMd5(options: Md5ConnectOptions): Promise<net.Socket> {
  const native = loadNativeAddon();
  return new Promise<net.Socket>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(abortError(options.signal));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let handle: NativeConnectHandle | undefined;
    const onAbort = (): void => {
      cancel();
      reject(abortError(options.signal!));
    };
    const settle = (): void => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const cancel = (): void => {
      settle();
      if (handle) native.tcpConnectCancel(handle);
    };
    try {
      handle = native.tcpMd5Connect(
        {
          peer: options.peer,
          port: options.port,
          local: options.local,
          localPort: options.localPort,
          key: options.key,
          ttl: options.ttl,
        },
        (err, fd) => {
          settle();
          if (err) return reject(err);
          try {
            resolve(new net.Socket({ fd: fd!, readable: true, writable: true }));
          } catch (wrapError) {
            closeSync(fd!);
            reject(wrapError);
          }
        },
      );
    } catch (err) {
      reject(err);
      return;
    }
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        cancel();
        const err: NativeError = new Error(`connect ETIMEDOUT ${options.peer}:${options.port} after ${options.timeoutMs} ms`);
        err.code = 'ETIMEDOUT';
        err.syscall = 'connect';
        reject(err);
      }, options.timeoutMs);
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  return new DOMException(String(signal.reason ?? 'The operation was aborted'), 'AbortError');
}

/** A listening net.Server, a net.Socket, or a raw fd. */
export type TcpTarget = net.Server | net.Socket | number;

function fdOf(target: TcpTarget): number {
  if (typeof target === 'number') return target;
  const fd = (target as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error(target instanceof net.Server ? 'server is not listening (no fd yet)' : 'socket has no fd (not connected, or closed)');
  }
  return fd;
}

/**
 * Requires TCP-MD5 with `key` for connections from `peer` (or from peer/prefixLength, e.g. a BGP
 * dynamic-neighbor range) on a listening server; accepted sockets inherit it. Set it before the peer
 * connects. Peers without a key are still accepted unsigned: check who connected. An IPv4 peer on a
 * dual-stack ("::") server is handled (as ::ffff:a.b.c.d).
 */
export function setMd5Key(target: TcpTarget, peer: string, key: string | Uint8Array, prefixLength?: number): void {
  if ((typeof key === 'string' ? Buffer.byteLength(key) : key.length) === 0) {
    throw new RangeError('empty TCP-MD5 key: use removeMd5Key to remove one');
  }
  loadNativeAddon().tcpMd5SetKey(fdOf(target), peer, key, prefixLength);
}

/** Removes the key set by setMd5Key for the same peer (and prefix). Throws ENOENT if there is none. */
export function removeMd5Key(target: TcpTarget, peer: string, prefixLength?: number): void {
  loadNativeAddon().tcpMd5SetKey(fdOf(target), peer, '', prefixLength);
}

/** Sets the unicast TTL / hop limit of a TCP socket or server (accepted sockets inherit a server's). */
export function setTtl(target: TcpTarget, ttl: number): void {
  loadNativeAddon().tcpSetTtl(fdOf(target), ttl);
}

export interface Md5ListenOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly keys: readonly { readonly peer: string; readonly key: string | Uint8Array; readonly prefixLength?: number }[];
  readonly ttl?: number;
}

/**
 * Starts `server` listening and installs the keys (and TTL) before the first connection is accepted:
 * Node only accepts on a later event-loop turn. The kernel may still complete an unsigned handshake in
 * the microseconds between listen(2) and the keys; such a connection lacks a key: drop peers that
 * should have one (or check they completed OPEN before trusting them).
 */
export async function listenWithMd5(server: net.Server, options: Md5ListenOptions): Promise<net.AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  try {
    for (const k of options.keys) setMd5Key(server, k.peer, k.key, k.prefixLength);
    if (options.ttl !== undefined) setTtl(server, options.ttl);
  } catch (err) {
    server.close();
    throw err;
  }
  return server.address() as net.AddressInfo;
}
