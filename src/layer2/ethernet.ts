// Ethernet II frames (IEEE 802.3 with an EtherType), with at most one 802.1Q VLAN tag.
// Frames as a packet socket delivers and takes them: no preamble, no FCS.
import { decoded, ignored, malformed, type DecodeResult } from './decode-result.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
/** 802.1ad service tag and the older pre-standard one: stacked VLANs, not supported. */
const STACKED_VLAN_TYPES = new Set([0x88a8, 0x9100, 0x9200]);

export const ETHERNET_HEADER_LENGTH = 14;
export const VLAN_TAG_LENGTH = 4;
/** Shortest frame on the wire without FCS; encodeEthernet pads to it (not every NIC pads for us). */
export const ETHERNET_MIN_FRAME_LENGTH = 60;

/** Lower-case, colon-separated: "02:00:5e:10:00:01". */
export type MacAddress = string;

export const BROADCAST_MAC: MacAddress = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC: MacAddress = '00:00:00:00:00:00';

export interface VlanTag {
  /** VLAN identifier, 0..4095 (0: priority tag only). */
  readonly id: number;
  /** Priority code point, 0..7. */
  readonly priority: number;
  readonly dropEligible: boolean;
}

export interface EthernetFrame {
  readonly destination: MacAddress;
  readonly source: MacAddress;
  /** The EtherType of the payload (after the VLAN tag, if any). */
  readonly etherType: number;
  readonly vlan?: VlanTag;
  /** Everything after the header, padding included; decodeEthernet returns a view into its input. */
  readonly payload: Uint8Array;
}

const MAC_TEXT = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

/** The 6 bytes of "aa:bb:cc:dd:ee:ff" (or with dashes); undefined if it is not a MAC address. */
export function parseMac(text: string): Uint8Array | undefined {
  const m = MAC_TEXT.exec(text.trim());
  if (!m) return undefined;
  return Uint8Array.from(m.slice(1, 7), (h) => parseInt(h, 16));
}

/** Canonical text of the 6 bytes at offset. */
export function formatMac(bytes: Uint8Array, offset = 0): MacAddress {
  const parts: string[] = [];
  for (let i = offset; i < offset + 6; i++) parts.push((bytes[i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Canonical form of a MAC given as text (any case, colons or dashes); throws a RangeError if invalid. */
export function normalizeMac(text: string): MacAddress {
  return formatMac(macBytes(text));
}

/** Group bit set: multicast or broadcast. */
export function isMulticastMac(mac: MacAddress): boolean {
  return (macBytes(mac)[0]! & 1) === 1;
}

/** Bytes of a MAC address given by a caller; throws a RangeError if it is not one. */
export function macBytes(mac: MacAddress): Uint8Array {
  const bytes = parseMac(mac);
  if (!bytes) throw new RangeError(`"${mac}" is not a MAC address`);
  return bytes;
}

export function decodeEthernet(frame: Uint8Array): DecodeResult<EthernetFrame> {
  if (frame.length < ETHERNET_HEADER_LENGTH) {
    return malformed('ethernet', `truncated: ${frame.length} bytes, the header needs ${ETHERNET_HEADER_LENGTH}`);
  }
  const destination = formatMac(frame, 0);
  const source = formatMac(frame, 6);
  let etherType = readU16(frame, 12);
  let offset = ETHERNET_HEADER_LENGTH;
  let vlan: VlanTag | undefined;
  if (STACKED_VLAN_TYPES.has(etherType)) {
    return ignored('ethernet', `EtherType 0x${hex4(etherType)}: stacked VLAN tags (802.1ad) are not supported`);
  }
  if (etherType === ETHERTYPE_VLAN) {
    if (frame.length < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) {
      return malformed('ethernet', `truncated: ${frame.length} bytes, a VLAN-tagged header needs 18`);
    }
    const tci = readU16(frame, 14);
    vlan = { id: tci & 0x0fff, priority: tci >> 13, dropEligible: (tci & 0x1000) !== 0 };
    etherType = readU16(frame, 16);
    offset += VLAN_TAG_LENGTH;
    if (etherType === ETHERTYPE_VLAN || STACKED_VLAN_TYPES.has(etherType)) {
      return ignored('ethernet', 'stacked VLAN tags (QinQ) are not supported');
    }
  }
  if (etherType < 0x0600) {
    return ignored('ethernet', `0x${hex4(etherType)} is an IEEE 802.3 length, not an Ethernet II EtherType`);
  }
  const payload = frame.subarray(offset);
  return decoded(vlan ? { destination, source, etherType, vlan, payload } : { destination, source, etherType, payload });
}

/** The frame's bytes, zero-padded to the 60-byte minimum. */
export function encodeEthernet(frame: EthernetFrame): Buffer {
  const headerLength = ETHERNET_HEADER_LENGTH + (frame.vlan ? VLAN_TAG_LENGTH : 0);
  const out = Buffer.alloc(Math.max(ETHERNET_MIN_FRAME_LENGTH, headerLength + frame.payload.length));
  out.set(macBytes(frame.destination), 0);
  out.set(macBytes(frame.source), 6);
  checkU16(frame.etherType, 'etherType');
  let offset = 12;
  if (frame.vlan) {
    const { id, priority, dropEligible } = frame.vlan;
    if (!Number.isInteger(id) || id < 0 || id > 4095) throw new RangeError(`VLAN id ${id} is not 0..4095`);
    if (!Number.isInteger(priority) || priority < 0 || priority > 7) throw new RangeError(`VLAN priority ${priority} is not 0..7`);
    out.writeUInt16BE(ETHERTYPE_VLAN, 12);
    out.writeUInt16BE((priority << 13) | (dropEligible ? 0x1000 : 0) | id, 14);
    offset = 16;
  }
  out.writeUInt16BE(frame.etherType, offset);
  out.set(frame.payload, headerLength);
  return out;
}

export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

export function checkU16(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${what} ${n} is not 0..65535`);
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');
