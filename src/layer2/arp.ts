// ARP (RFC 826) for Ethernet and IPv4: decode requests and replies, encode replies and gratuitous ARP.
import { decoded, ignored, malformed, type DecodeResult } from './decode-result.ts';
import {
  BROADCAST_MAC,
  decodeEthernet,
  encodeEthernet,
  ETHERTYPE_ARP,
  formatMac,
  macBytes,
  normalizeMac,
  readU16,
  type EthernetFrame,
  type MacAddress,
} from './ethernet.ts';
import { ipv4FromBytes, ipv4ToBytes } from './ip-bytes.ts';

export const ARP_HARDWARE_ETHERNET = 1;
export const ARP_PROTOCOL_IPV4 = 0x0800;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
/** An Ethernet/IPv4 ARP packet; anything after it in a frame is padding. */
export const ARP_PACKET_LENGTH = 28;

export type ArpOperation = 'request' | 'reply';

export interface ArpPacket {
  readonly operation: ArpOperation;
  readonly senderMac: MacAddress;
  readonly senderIp: string;
  readonly targetMac: MacAddress;
  readonly targetIp: string;
}

export interface ArpFrame {
  readonly ethernet: EthernetFrame;
  readonly arp: ArpPacket;
}

/** Decodes an ARP packet (the Ethernet payload). Trailing bytes (frame padding) are ignored. */
export function decodeArp(payload: Uint8Array): DecodeResult<ArpPacket> {
  if (payload.length < 8) return malformed('arp', `truncated: ${payload.length} bytes, the fixed header needs 8`);
  const hardwareType = readU16(payload, 0);
  const protocolType = readU16(payload, 2);
  const hardwareLength = payload[4]!;
  const protocolLength = payload[5]!;
  const op = readU16(payload, 6);
  if (hardwareType !== ARP_HARDWARE_ETHERNET) {
    return malformed('arp', `hardware type ${hardwareType} is not Ethernet (1)`);
  }
  if (protocolType !== ARP_PROTOCOL_IPV4) {
    return malformed('arp', `protocol type 0x${protocolType.toString(16).padStart(4, '0')} is not IPv4 (0x0800)`);
  }
  if (hardwareLength !== 6) return malformed('arp', `hardware address length ${hardwareLength}, Ethernet needs 6`);
  if (protocolLength !== 4) return malformed('arp', `protocol address length ${protocolLength}, IPv4 needs 4`);
  if (payload.length < ARP_PACKET_LENGTH) {
    return malformed('arp', `truncated: ${payload.length} bytes, an Ethernet/IPv4 ARP packet needs ${ARP_PACKET_LENGTH}`);
  }
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) {
    return ignored('arp', `operation ${op} is neither request (1) nor reply (2)`);
  }
  return decoded({
    operation: op === ARP_OP_REQUEST ? 'request' : 'reply',
    senderMac: formatMac(payload, 8),
    senderIp: ipv4FromBytes(payload, 14),
    targetMac: formatMac(payload, 18),
    targetIp: ipv4FromBytes(payload, 24),
  });
}

/** Decodes a whole frame: Ethernet, EtherType ARP, then ARP. */
export function decodeArpFrame(frame: Uint8Array): DecodeResult<ArpFrame> {
  const ethernet = decodeEthernet(frame);
  if (!ethernet.ok) return ethernet;
  if (ethernet.value.etherType !== ETHERTYPE_ARP) {
    return ignored('ethernet', `EtherType 0x${ethernet.value.etherType.toString(16).padStart(4, '0')} is not ARP`);
  }
  const arp = decodeArp(ethernet.value.payload);
  if (!arp.ok) return arp;
  return decoded({ ethernet: ethernet.value, arp: arp.value });
}

/** The 28 bytes of an Ethernet/IPv4 ARP packet. Throws a RangeError on an invalid MAC or IPv4 address. */
export function encodeArp(packet: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP_PACKET_LENGTH);
  const view = new DataView(out.buffer);
  view.setUint16(0, ARP_HARDWARE_ETHERNET);
  view.setUint16(2, ARP_PROTOCOL_IPV4);
  out[4] = 6;
  out[5] = 4;
  view.setUint16(6, packet.operation === 'request' ? ARP_OP_REQUEST : ARP_OP_REPLY);
  out.set(macBytes(packet.senderMac), 8);
  out.set(ipv4ToBytes(packet.senderIp), 14);
  out.set(macBytes(packet.targetMac), 18);
  out.set(ipv4ToBytes(packet.targetIp), 24);
  return out;
}

/** An ARP packet in an Ethernet frame (padded to 60 bytes). */
export function encodeArpFrame(packet: ArpPacket, ethernet: { source: MacAddress; destination: MacAddress }): Buffer {
  return encodeEthernet({ ...ethernet, etherType: ETHERTYPE_ARP, payload: encodeArp(packet) });
}

/** The reply to `request`: "request.targetIp is at `mac`", addressed to the requester. */
export function arpReplyFor(request: ArpPacket, mac: MacAddress): ArpPacket {
  return {
    operation: 'reply',
    senderMac: normalizeMac(mac),
    senderIp: request.targetIp,
    targetMac: request.senderMac,
    targetIp: request.senderIp,
  };
}

/** The reply frame to `request`, unicast to the requester's hardware address, from `mac`. */
export function encodeArpReplyFrame(request: ArpPacket, mac: MacAddress): Buffer {
  return encodeArpFrame(arpReplyFor(request, mac), { source: mac, destination: request.senderMac });
}

/**
 * Gratuitous ARP for `ip` at `mac`: sender = target = ip, to broadcast. Like MetalLB, both the request and
 * the reply carry the broadcast address as target hardware address.
 */
export function gratuitousArp(operation: ArpOperation, ip: string, mac: MacAddress): ArpPacket {
  return { operation, senderMac: normalizeMac(mac), senderIp: ip, targetMac: BROADCAST_MAC, targetIp: ip };
}

export function encodeGratuitousArpRequestFrame(ip: string, mac: MacAddress): Buffer {
  return encodeArpFrame(gratuitousArp('request', ip, mac), { source: mac, destination: BROADCAST_MAC });
}

export function encodeGratuitousArpReplyFrame(ip: string, mac: MacAddress): Buffer {
  return encodeArpFrame(gratuitousArp('reply', ip, mac), { source: mac, destination: BROADCAST_MAC });
}
