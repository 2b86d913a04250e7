// The typed JS API of the native addon (native/ironlb_native.c) and its loader. Use it through
// src/net/packet-socket.ts and src/net/tcp-md5.ts, not directly.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** How to build the addon, from the repository root (offline: needs gcc, make, python3, Node headers). */
export const NATIVE_BUILD_COMMAND = 'npx node-gyp rebuild --directory native';

/** Where the built addon is; IRONLB_NATIVE_ADDON overrides it. */
export const NATIVE_ADDON_PATH =
  process.env.IRONLB_NATIVE_ADDON ?? fileURLToPath(new URL('./build/Release/ironlb_native.node', import.meta.url));

/** Opaque native handles (JS objects wrapping C state). */
export interface NativePacketHandle {
  readonly ifindex: number;
}
export interface NativeConnectHandle {
  readonly fd: number;
}

export interface NativeInterfaceInfo {
  readonly name: string;
  readonly ifindex: number;
  /** Null when the interface has no 6-byte MAC (tun, wireguard, infiniband, ...). */
  readonly mac: Buffer | null;
  /** ARPHRD_* (1 Ethernet, 772 loopback, 65534 none). */
  readonly hardwareType: number;
  readonly mtu: number;
  /** IFF_* bits (the low 16). */
  readonly flags: number;
  readonly up: boolean;
  readonly running: boolean;
  readonly broadcast: boolean;
  readonly loopback: boolean;
  readonly pointToPoint: boolean;
  readonly noarp: boolean;
  readonly multicast: boolean;
  /** IFF_SLAVE: a bond member. */
  readonly slave: boolean;
  /** IFF_MASTER: a bond master. */
  readonly master: boolean;
}

/** Errors carry `code` ("ENODEV"), `errno` (negative, as in Node) and `syscall`. */
export interface NativeError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

export interface NativeAddon {
  /** AF_PACKET SOCK_RAW socket bound to ifname for one EtherType; `filter` is a classic BPF program
   * (8-byte struct sock_filter entries, host byte order), attached before binding. */
  packetOpen(ifname: string, etherType: number, filter?: Uint8Array): NativePacketHandle;
  /** Calls back once per received frame (never the socket's own outgoing frames), or with an error
   * (e.g. ENETDOWN, after which the socket keeps working). */
  packetStart(
    handle: NativePacketHandle,
    callback: (err: NativeError | null, frame?: Buffer, packetType?: number) => void,
  ): void;
  packetStop(handle: NativePacketHandle): void;
  /** Sends one complete frame; returns the bytes sent. Throws on error (EAGAIN, ENETDOWN, ...). */
  packetSend(handle: NativePacketHandle, frame: Uint8Array): number;
  packetAddMembership(handle: NativePacketHandle, mac: Uint8Array): void;
  packetDropMembership(handle: NativePacketHandle, mac: Uint8Array): void;
  packetSetRef(handle: NativePacketHandle, ref: boolean): void;
  packetClose(handle: NativePacketHandle): void;
  interfaceInfo(ifname: string): NativeInterfaceInfo;
  /** Non-blocking connect with TCP_MD5SIG set for the peer (when key is non-empty); the callback gets
   * the connected fd (the caller owns it) or an error. Bad arguments and immediate failures throw. */
  tcpMd5Connect(
    options: {
      peer: string;
      port: number;
      local?: string | undefined;
      localPort?: number | undefined;
      key?: string | Uint8Array | undefined;
      ttl?: number | undefined;
    },
    callback: (err: NativeError | null, fd?: number) => void,
  ): NativeConnectHandle;
  /** Abandons a pending connect and closes its fd; its callback is never called. */
  tcpConnectCancel(handle: NativeConnectHandle): void;
  /** TCP_MD5SIG (or TCP_MD5SIG_EXT with a prefix) on any TCP socket fd; an empty key removes it. */
  tcpMd5SetKey(fd: number, peer: string, key: string | Uint8Array, prefixLength?: number): void;
  /** IP_TTL / IPV6_UNICAST_HOPS on a TCP socket fd. */
  tcpSetTtl(fd: number, ttl: number): void;
}

export class NativeAddonUnavailableError extends Error {
  override readonly name = 'NativeAddonUnavailableError';
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(reason, options);
  }
}

let loaded: NativeAddon | NativeAddonUnavailableError | undefined;

/** The addon, loaded once; throws NativeAddonUnavailableError naming the build command if it is missing. */
export function loadNativeAddon(): NativeAddon {
  loaded ??= tryLoad();
  if (loaded instanceof Error) throw loaded;
  return loaded;
}

/** Undefined if the addon loads, else why not (for tests that skip). */
export function nativeAddonUnavailable(): string | undefined {
  loaded ??= tryLoad();
  return loaded instanceof Error ? loaded.message : undefined;
}

function tryLoad(): NativeAddon | NativeAddonUnavailableError {
  if (process.platform !== 'linux') {
    return new NativeAddonUnavailableError(`the IronLB native addon supports Linux only (this is ${process.platform})`);
  }
  try {
    return createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'MODULE_NOT_FOUND'
        ? `the IronLB native addon is not built (${NATIVE_ADDON_PATH} is missing)`
        : `the IronLB native addon at ${NATIVE_ADDON_PATH} does not load: ${(cause as Error).message}`;
    return new NativeAddonUnavailableError(`${why}; build it with \`${NATIVE_BUILD_COMMAND}\` in the repository root`, { cause });
  }
}
