// Raw Ethernet frames on one interface (Linux AF_PACKET via the native addon): what the Layer2
// responder uses to answer ARP and NDP and to send gratuitous announcements. Frames are complete
// (Ethernet header included, no FCS). The socket opens in the network namespace of the calling thread.
import { endianness } from 'node:os';
import {
  loadNativeAddon,
  type NativeAddon,
  type NativeError,
  type NativeInterfaceInfo,
  type NativePacketHandle,
} from '../../native/addon.ts';
import { formatMac, macBytes, normalizeMac, type MacAddress } from '../layer2/ethernet.ts';

export { NATIVE_BUILD_COMMAND, NativeAddonUnavailableError, nativeAddonUnavailable } from '../../native/addon.ts';

/** Who a received frame was addressed to (sll_pkttype). Own outgoing frames are never delivered. */
export type PacketType = 'host' | 'broadcast' | 'multicast' | 'otherhost' | 'other';

const PACKET_TYPES: readonly PacketType[] = ['host', 'broadcast', 'multicast', 'otherhost'];

export type FrameListener = (frame: Buffer, packetType: PacketType) => void;
export type PacketSocketErrorListener = (error: NativeError) => void;

export interface PacketSocketOptions {
  /** A classic BPF program (see bpfProgram, neighborSolicitationFilter), applied in the kernel. */
  readonly filter?: Uint8Array;
}

export class PacketSocket {
  #native: NativeAddon;
  #handle: NativePacketHandle;
  #closed = false;
  #receiving = false;
  #frameListener: FrameListener | undefined;
  #errorListener: PacketSocketErrorListener | undefined;
  readonly #groups = new Set<MacAddress>();

  private constructor(
    native: NativeAddon,
    handle: NativePacketHandle,
    readonly interfaceName: string,
    readonly etherType: number,
  ) {
    this.#native = native;
    this.#handle = handle;
  }

  /**
   * Opens a raw socket on `interfaceName` for frames of one EtherType (0x0806 ARP, 0x86dd IPv6).
   * Needs CAP_NET_RAW. Throws NativeAddonUnavailableError if the addon is not built, or the system
   * error (ENODEV for a missing interface, EPERM without the capability).
   */
  static open(interfaceName: string, etherType: number, options: PacketSocketOptions = {}): PacketSocket {
    const native = loadNativeAddon();
    const handle = native.packetOpen(interfaceName, etherType, options.filter);
    return new PacketSocket(native, handle, interfaceName, etherType);
  }

  get ifindex(): number {
    return this.#handle.ifindex;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Multicast MACs joined on this socket. */
  get groups(): ReadonlySet<MacAddress> {
    return this.#groups;
  }

  /**
   * Delivers every received frame to `listener` (replacing any previous one), starting reception on the
   * first call. A listener that throws raises 'uncaughtException', as any event listener would.
   */
  onFrame(listener: FrameListener): this {
    this.#assertOpen();
    this.#frameListener = listener;
    if (!this.#receiving) {
      this.#native.packetStart(this.#handle, (err, frame, packetType) => {
        if (err) this.#errorListener?.(err);
        else if (frame) this.#frameListener?.(frame, PACKET_TYPES[packetType ?? -1] ?? 'other');
      });
      this.#receiving = true;
    }
    return this;
  }

  /**
   * Receive errors (ENETDOWN when the interface goes down; the socket keeps working when it comes back;
   * after the interface is deleted nothing more arrives). Without a listener they are dropped.
   */
  onError(listener: PacketSocketErrorListener): this {
    this.#errorListener = listener;
    return this;
  }

  /** Sends one complete frame. Throws the system error (ENETDOWN, ENOBUFS, EAGAIN, ...). */
  send(frame: Uint8Array): void {
    this.#assertOpen();
    this.#native.packetSend(this.#handle, frame);
  }

  /** Receives frames sent to multicast `mac` (e.g. solicitedNodeMac(vip)). Idempotent. */
  join(mac: MacAddress): void {
    this.#assertOpen();
    const key = normalizeMac(mac);
    if (this.#groups.has(key)) return;
    this.#native.packetAddMembership(this.#handle, macBytes(key));
    this.#groups.add(key);
  }

  /** Undoes join(mac). Idempotent. */
  leave(mac: MacAddress): void {
    this.#assertOpen();
    const key = normalizeMac(mac);
    if (!this.#groups.has(key)) return;
    this.#native.packetDropMembership(this.#handle, macBytes(key));
    this.#groups.delete(key);
  }

  /** A receiving socket keeps the process alive (ref, the default) or not (unref). */
  ref(): this {
    if (!this.#closed) this.#native.packetSetRef(this.#handle, true);
    return this;
  }

  unref(): this {
    if (!this.#closed) this.#native.packetSetRef(this.#handle, false);
    return this;
  }

  /** Closes the socket (its memberships go with it). Idempotent; allowed inside a frame listener. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#receiving = false;
    this.#groups.clear();
    this.#native.packetClose(this.#handle);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`packet socket on ${this.interfaceName} is closed`);
  }
}

export interface InterfaceInfo extends Omit<NativeInterfaceInfo, 'mac'> {
  /** Undefined when the interface has no Ethernet-style MAC. */
  readonly mac: MacAddress | undefined;
}

/**
 * Facts about one interface in the calling thread's network namespace, also for an interface without
 * addresses (which os.networkInterfaces() leaves out). Throws ENODEV if there is no such interface.
 */
export function interfaceInfo(name: string): InterfaceInfo {
  const info = loadNativeAddon().interfaceInfo(name);
  return { ...info, mac: info.mac ? formatMac(info.mac) : undefined };
}

// ----------------------------------------------------------------------------------------------------
// Classic BPF, to keep irrelevant frames in the kernel: an IPv6 socket otherwise copies every IPv6
// frame on the interface into the process.

/** One instruction: [code, jt, jf, k] as in struct sock_filter. */
export type BpfInstruction = readonly [code: number, jt: number, jf: number, k: number];

/** struct sock_filter[] in host byte order, for PacketSocketOptions.filter. */
export function bpfProgram(instructions: readonly BpfInstruction[]): Buffer {
  const out = Buffer.alloc(instructions.length * 8);
  const le = endianness() === 'LE';
  instructions.forEach(([code, jt, jf, k], i) => {
    const o = i * 8;
    if (le) {
      out.writeUInt16LE(code, o);
      out.writeUInt32LE(k >>> 0, o + 4);
    } else {
      out.writeUInt16BE(code, o);
      out.writeUInt32BE(k >>> 0, o + 4);
    }
    out.writeUInt8(jt, o + 2);
    out.writeUInt8(jf, o + 3);
  });
  return out;
}

const BPF_LDH_ABS = 0x28;
const BPF_LDB_ABS = 0x30;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;

/**
 * Accepts only untagged Ethernet frames carrying IPv6 → ICMPv6 (no extension header) → Neighbor
 * Solicitation (type 135). Everything else stays in the kernel. Decode and validate what passes anyway.
 */
export function neighborSolicitationFilter(): Buffer {
  return bpfProgram([
    [BPF_LDH_ABS, 0, 0, 12], // EtherType
    [BPF_JEQ_K, 0, 5, 0x86dd],
    [BPF_LDB_ABS, 0, 0, 20], // IPv6 next header
    [BPF_JEQ_K, 0, 3, 58],
    [BPF_LDB_ABS, 0, 0, 54], // ICMPv6 type
    [BPF_JEQ_K, 0, 1, 135],
    [BPF_RET_K, 0, 0, 0x40000], // accept, whole frame
    [BPF_RET_K, 0, 0, 0], // drop
  ]);
}
