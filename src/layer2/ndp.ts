// IPv6 Neighbor Discovery (RFC 4861) for Ethernet: the IPv6 header, ICMPv6 with its pseudo-header
// checksum, Neighbor Solicitation and Neighbor Advertisement with their link-layer address options,
// validated as RFC 4861 §7.1.1 and §7.1.2 require.
import { decoded, ignored, malformed, type DecodeResult } from './decode-result.ts';
import {
  decodeEthernet,
  encodeEthernet,
  ETHERTYPE_IPV6,
  formatMac,
  macBytes,
  normalizeMac,
  readU16,
  type EthernetFrame,
  type MacAddress,
} from './ethernet.ts';
import { ipv6FromBytes, ipv6ToBytes } from './ip-bytes.ts';

export const IPV6_HEADER_LENGTH = 40;
export const NEXT_HEADER_ICMPV6 = 58;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const NDP_OPTION_SOURCE_LINK_LAYER = 1;
export const NDP_OPTION_TARGET_LINK_LAYER = 2;
/** Neighbor Discovery messages are sent, and only accepted, with hop limit 255: proof they are on-link. */
export const NDP_HOP_LIMIT = 255;
/** Type, code, checksum, flags/reserved, target. */
const NDP_MESSAGE_MIN_LENGTH = 24;

export const UNSPECIFIED_ADDRESS = '::';
export const ALL_NODES_ADDRESS = 'ff02::1';
export const ALL_NODES_MAC: MacAddress = '33:33:00:00:00:01';

export interface Ipv6Header {
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly payloadLength: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly source: string;
  readonly destination: string;
}

export interface Ipv6Packet {
  readonly header: Ipv6Header;
  /** payloadLength bytes after the header (a view into the input); link-layer padding is cut off. */
  readonly payload: Uint8Array;
}

export interface NeighborSolicitation {
  readonly type: 'neighbor-solicitation';
  readonly source: string;
  readonly destination: string;
  readonly hopLimit: number;
  readonly target: string;
  readonly sourceLinkLayer?: MacAddress;
}

export interface NeighborAdvertisement {
  readonly type: 'neighbor-advertisement';
  readonly source: string;
  readonly destination: string;
  readonly hopLimit: number;
  readonly target: string;
  readonly router: boolean;
  readonly solicited: boolean;
  readonly override: boolean;
  readonly targetLinkLayer?: MacAddress;
}

export type NdpMessage = NeighborSolicitation | NeighborAdvertisement;

export interface NdpFrame {
  readonly ethernet: EthernetFrame;
  readonly message: NdpMessage;
}

// ----------------------------------------------------------------------------------------------------
// Addresses

/** ff02::1:ffXX:XXXX, the solicited-node multicast group of an IPv6 address (RFC 4291 §2.7.1). */
export function solicitedNodeMulticast(ip: string): string {
  const a = ipv6ToBytes(ip);
  const g = new Uint8Array(16);
  g.set([0xff, 0x02], 0);
  g[11] = 0x01;
  g[12] = 0xff;
  g.set(a.subarray(13, 16), 13);
  return ipv6FromBytes(g);
}

/** 33:33 followed by the low 32 bits of an IPv6 multicast group (RFC 2464 §7). */
export function ipv6MulticastMac(group: string): MacAddress {
  const g = ipv6ToBytes(group);
  return formatMac(Uint8Array.of(0x33, 0x33, g[12]!, g[13]!, g[14]!, g[15]!));
}

/** 33:33:ff:xx:xx:xx: the MAC to join to receive Neighbor Solicitations for `ip`. */
export function solicitedNodeMac(ip: string): MacAddress {
  return ipv6MulticastMac(solicitedNodeMulticast(ip));
}

const isMulticast = (a: Uint8Array, offset = 0): boolean => a[offset] === 0xff;

function isUnspecified(a: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) if (a[offset + i] !== 0) return false;
  return true;
}

const isUnspecifiedText = (ip: string): boolean => isUnspecified(ipv6ToBytes(ip), 0);

const SOLICITED_NODE_PREFIX = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff];
function isSolicitedNodeMulticast(a: Uint8Array, offset: number): boolean {
  return SOLICITED_NODE_PREFIX.every((b, i) => a[offset + i] === b);
}

// ----------------------------------------------------------------------------------------------------
// Checksum

/**
 * The ICMPv6 checksum (RFC 4443 §2.3) of `message` under the pseudo-header (source, destination, length,
 * next header 58). Computed over a message whose checksum field holds a correct checksum, it is 0.
 */
export function icmpv6Checksum(source: Uint8Array, destination: Uint8Array, message: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 16; i += 2) sum += ((source[i]! << 8) | source[i + 1]!) + ((destination[i]! << 8) | destination[i + 1]!);
  sum += Math.floor(message.length / 0x10000) + (message.length % 0x10000) + NEXT_HEADER_ICMPV6;
  const even = message.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (message[i]! << 8) | message[i + 1]!;
  if (message.length !== even) sum += message[even]! << 8;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

// ----------------------------------------------------------------------------------------------------
// Decoding

/** The IPv6 header and its payload (extension headers are not walked: nextHeader is the first one). */
export function decodeIpv6(packet: Uint8Array): DecodeResult<Ipv6Packet> {
  if (packet.length < IPV6_HEADER_LENGTH) {
    return malformed('ipv6', `truncated: ${packet.length} bytes, the header needs ${IPV6_HEADER_LENGTH}`);
  }
  const version = packet[0]! >> 4;
  if (version !== 6) return malformed('ipv6', `version ${version}, not 6`);
  const payloadLength = readU16(packet, 4);
  if (IPV6_HEADER_LENGTH + payloadLength > packet.length) {
    return malformed('ipv6', `truncated: payload length ${payloadLength} but ${packet.length - IPV6_HEADER_LENGTH} bytes follow the header`);
  }
  return decoded({
    header: {
      trafficClass: ((packet[0]! & 0x0f) << 4) | (packet[1]! >> 4),
      flowLabel: ((packet[1]! & 0x0f) << 16) | readU16(packet, 2),
      payloadLength,
      nextHeader: packet[6]!,
      hopLimit: packet[7]!,
      source: ipv6FromBytes(packet, 8),
      destination: ipv6FromBytes(packet, 24),
    },
    payload: packet.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + payloadLength),
  });
}

/**
 * Decodes a Neighbor Solicitation or Advertisement from an IPv6 packet (the Ethernet payload) and
 * validates it (RFC 4861 §7.1.1, §7.1.2): hop limit 255, checksum, code 0, length, non-multicast target,
 * no zero-length or overrunning option, Ethernet-sized link-layer options; an NS from :: must go to a
 * solicited-node group and carry no source link-layer option; an NA to a multicast group must not be
 * solicited. Other IPv6 and ICMPv6 traffic is `ignored`.
 */
export function decodeNdp(packet: Uint8Array): DecodeResult<NdpMessage> {
  const ip = decodeIpv6(packet);
  if (!ip.ok) return ip;
  const { header, payload: icmp } = ip.value;
  if (header.nextHeader !== NEXT_HEADER_ICMPV6) {
    return ignored('ipv6', `next header ${header.nextHeader} is not ICMPv6 (58)`);
  }
  if (icmp.length < 4) return malformed('icmpv6', `truncated: ${icmp.length} bytes, the header needs 4`);
  const type = icmp[0]!;
  const code = icmp[1]!;
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    return ignored('icmpv6', `type ${type} is neither neighbor solicitation (135) nor advertisement (136)`);
  }
  const name = type === ICMPV6_NEIGHBOR_SOLICITATION ? 'neighbor solicitation' : 'neighbor advertisement';
  if (header.hopLimit !== NDP_HOP_LIMIT) {
    return malformed('ndp', `${name} with hop limit ${header.hopLimit}, must be 255`);
  }
  const sum = icmpv6Checksum(packet.subarray(8, 24), packet.subarray(24, 40), icmp);
  if (sum !== 0) return malformed('icmpv6', `bad checksum 0x${readU16(icmp, 2).toString(16).padStart(4, '0')}`);
  if (code !== 0) return malformed('ndp', `${name} with code ${code}, must be 0`);
  if (icmp.length < NDP_MESSAGE_MIN_LENGTH) {
    return malformed('ndp', `truncated: ${name} of ${icmp.length} bytes, needs ${NDP_MESSAGE_MIN_LENGTH}`);
  }
  if (isMulticast(icmp, 8)) return malformed('ndp', `${name} for multicast target ${ipv6FromBytes(icmp, 8)}`);

  const wantedOption = type === ICMPV6_NEIGHBOR_SOLICITATION ? NDP_OPTION_SOURCE_LINK_LAYER : NDP_OPTION_TARGET_LINK_LAYER;
  let linkLayer: MacAddress | undefined;
  for (let off = NDP_MESSAGE_MIN_LENGTH; off < icmp.length; ) {
    if (icmp.length - off < 2) return malformed('ndp', `truncated option at byte ${off}`);
    const optionType = icmp[off]!;
    const optionLength = icmp[off + 1]! * 8;
    if (optionLength === 0) return malformed('ndp', `option ${optionType} at byte ${off} has length 0`);
    if (off + optionLength > icmp.length) {
      return malformed('ndp', `option ${optionType} at byte ${off} (${optionLength} bytes) overruns the message (${icmp.length} bytes)`);
    }
    if (optionType === NDP_OPTION_SOURCE_LINK_LAYER || optionType === NDP_OPTION_TARGET_LINK_LAYER) {
      if (optionLength !== 8) {
        return malformed('ndp', `link-layer address option of ${optionLength / 8} units, Ethernet needs 1`);
      }
      if (optionType === wantedOption && linkLayer === undefined) linkLayer = formatMac(icmp, off + 2);
    }
    off += optionLength;
  }

  const target = ipv6FromBytes(icmp, 8);
  if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
    if (isUnspecified(packet, 8)) {
      if (!isSolicitedNodeMulticast(packet, 24)) {
        return malformed('ndp', `neighbor solicitation from :: to ${header.destination}, not a solicited-node group`);
      }
      if (linkLayer !== undefined) {
        return malformed('ndp', 'neighbor solicitation from :: with a source link-layer address option');
      }
    }
    const ns: NeighborSolicitation = {
      type: 'neighbor-solicitation',
      source: header.source,
      destination: header.destination,
      hopLimit: header.hopLimit,
      target,
      ...(linkLayer !== undefined ? { sourceLinkLayer: linkLayer } : {}),
    };
    return decoded(ns);
  }
  const flags = icmp[4]!;
  const solicited = (flags & 0x40) !== 0;
  if (solicited && isMulticast(packet, 24)) {
    return malformed('ndp', `solicited neighbor advertisement to multicast ${header.destination}`);
  }
  const na: NeighborAdvertisement = {
    type: 'neighbor-advertisement',
    source: header.source,
    destination: header.destination,
    hopLimit: header.hopLimit,
    target,
    router: (flags & 0x80) !== 0,
    solicited,
    override: (flags & 0x20) !== 0,
    ...(linkLayer !== undefined ? { targetLinkLayer: linkLayer } : {}),
  };
  return decoded(na);
}

/** Decodes a whole frame: Ethernet, EtherType IPv6, then decodeNdp. */
export function decodeNdpFrame(frame: Uint8Array): DecodeResult<NdpFrame> {
  const ethernet = decodeEthernet(frame);
  if (!ethernet.ok) return ethernet;
  if (ethernet.value.etherType !== ETHERTYPE_IPV6) {
    return ignored('ethernet', `EtherType 0x${ethernet.value.etherType.toString(16).padStart(4, '0')} is not IPv6`);
  }
  const message = decodeNdp(ethernet.value.payload);
  if (!message.ok) return message;
  return decoded({ ethernet: ethernet.value, message: message.value });
}

// ----------------------------------------------------------------------------------------------------
// Encoding (throws a RangeError on an invalid address given by the caller)

export interface NeighborSolicitationFields {
  readonly source: string;
  /** Default: the target's solicited-node multicast group. */
  readonly destination?: string;
  readonly target: string;
  readonly sourceLinkLayer?: MacAddress;
  /** Default 255; anything else is only for testing receivers. */
  readonly hopLimit?: number;
}

export interface NeighborAdvertisementFields {
  readonly source: string;
  readonly destination: string;
  readonly target: string;
  readonly targetLinkLayer?: MacAddress;
  readonly router?: boolean;
  readonly solicited: boolean;
  readonly override: boolean;
  /** Default 255; anything else is only for testing receivers. */
  readonly hopLimit?: number;
}

/** An IPv6 packet holding a Neighbor Solicitation. */
export function encodeNeighborSolicitation(f: NeighborSolicitationFields): Uint8Array {
  const body = new Uint8Array(NDP_MESSAGE_MIN_LENGTH + (f.sourceLinkLayer !== undefined ? 8 : 0));
  body[0] = ICMPV6_NEIGHBOR_SOLICITATION;
  body.set(ipv6ToBytes(f.target), 8);
  if (f.sourceLinkLayer !== undefined) writeLinkLayerOption(body, 24, NDP_OPTION_SOURCE_LINK_LAYER, f.sourceLinkLayer);
  return encodeIcmpv6Packet(f.source, f.destination ?? solicitedNodeMulticast(f.target), f.hopLimit ?? NDP_HOP_LIMIT, body);
}

/** An IPv6 packet holding a Neighbor Advertisement. */
export function encodeNeighborAdvertisement(f: NeighborAdvertisementFields): Uint8Array {
  const body = new Uint8Array(NDP_MESSAGE_MIN_LENGTH + (f.targetLinkLayer !== undefined ? 8 : 0));
  body[0] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  body[4] = (f.router ? 0x80 : 0) | (f.solicited ? 0x40 : 0) | (f.override ? 0x20 : 0);
  body.set(ipv6ToBytes(f.target), 8);
  if (f.targetLinkLayer !== undefined) writeLinkLayerOption(body, 24, NDP_OPTION_TARGET_LINK_LAYER, f.targetLinkLayer);
  return encodeIcmpv6Packet(f.source, f.destination, f.hopLimit ?? NDP_HOP_LIMIT, body);
}

/** An IPv6 packet carrying an ICMPv6 message (checksum field computed). */
export function encodeIcmpv6Packet(source: string, destination: string, hopLimit: number, message: Uint8Array): Uint8Array {
  if (!Number.isInteger(hopLimit) || hopLimit < 0 || hopLimit > 255) throw new RangeError(`hop limit ${hopLimit} is not 0..255`);
  if (message.length > 0xffff) throw new RangeError(`ICMPv6 message of ${message.length} bytes is too long`);
  const src = ipv6ToBytes(source);
  const dst = ipv6ToBytes(destination);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + message.length);
  out[0] = 0x60;
  out[4] = message.length >> 8;
  out[5] = message.length & 0xff;
  out[6] = NEXT_HEADER_ICMPV6;
  out[7] = hopLimit;
  out.set(src, 8);
  out.set(dst, 24);
  out.set(message, IPV6_HEADER_LENGTH);
  out[IPV6_HEADER_LENGTH + 2] = 0;
  out[IPV6_HEADER_LENGTH + 3] = 0;
  const sum = icmpv6Checksum(src, dst, out.subarray(IPV6_HEADER_LENGTH));
  out[IPV6_HEADER_LENGTH + 2] = sum >> 8;
  out[IPV6_HEADER_LENGTH + 3] = sum & 0xff;
  return out;
}

function writeLinkLayerOption(body: Uint8Array, offset: number, type: number, mac: MacAddress): void {
  body[offset] = type;
  body[offset + 1] = 1;
  body.set(macBytes(mac), offset + 2);
}

/** An IPv6 packet in an Ethernet frame. */
export function encodeIpv6Frame(packet: Uint8Array, ethernet: { source: MacAddress; destination: MacAddress }): Buffer {
  return encodeEthernet({ ...ethernet, etherType: ETHERTYPE_IPV6, payload: packet });
}

export interface AdvertisementOptions {
  /** IPv6 source of the advertisement. Default: the target itself (the VIP); an interface's link-local also works. */
  readonly source?: string;
  readonly router?: boolean;
}

/**
 * The answer to `ns` (RFC 4861 §7.2.4) saying its target is at `mac`: unicast to the solicitor with
 * Solicited set, or, if it came from :: (duplicate address detection), to all nodes with Solicited clear.
 * Override is set and the target link-layer address option included.
 */
export function neighborAdvertisementFor(ns: NeighborSolicitation, mac: MacAddress, options: AdvertisementOptions = {}): NeighborAdvertisementFields {
  const fromUnspecified = isUnspecifiedText(ns.source);
  return {
    source: options.source ?? ns.target,
    destination: fromUnspecified ? ALL_NODES_ADDRESS : ns.source,
    target: ns.target,
    targetLinkLayer: normalizeMac(mac),
    router: options.router ?? false,
    solicited: !fromUnspecified,
    override: true,
  };
}

/**
 * The reply frame to `ns`. Its Ethernet destination is the solicitation's source link-layer address,
 * else `solicitorMac` (the Ethernet source of the solicitation's frame), or 33:33:00:00:00:01 for an
 * answer to ::.
 */
export function encodeNeighborAdvertisementReplyFrame(
  ns: NeighborSolicitation,
  solicitorMac: MacAddress,
  mac: MacAddress,
  options: AdvertisementOptions = {},
): Buffer {
  const na = neighborAdvertisementFor(ns, mac, options);
  const destination = isUnspecifiedText(ns.source) ? ALL_NODES_MAC : (ns.sourceLinkLayer ?? solicitorMac);
  return encodeIpv6Frame(encodeNeighborAdvertisement(na), { source: mac, destination });
}

/** Unsolicited advertisement of `target` at `mac` (takeover): to ff02::1, Override set, Solicited clear. */
export function unsolicitedNeighborAdvertisement(target: string, mac: MacAddress, options: AdvertisementOptions = {}): NeighborAdvertisementFields {
  return {
    source: options.source ?? target,
    destination: ALL_NODES_ADDRESS,
    target,
    targetLinkLayer: normalizeMac(mac),
    router: options.router ?? false,
    solicited: false,
    override: true,
  };
}

export function encodeUnsolicitedNeighborAdvertisementFrame(target: string, mac: MacAddress, options: AdvertisementOptions = {}): Buffer {
  const na = unsolicitedNeighborAdvertisement(target, mac, options);
  return encodeIpv6Frame(encodeNeighborAdvertisement(na), { source: mac, destination: ALL_NODES_MAC });
}
