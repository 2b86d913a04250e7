// Checks on a decoded OPEN that need the session's configuration (RFC 4271 §6.2, RFC 6286, RFC 5492 §5).
// Checks that need nothing but the message (version, AS 0, identifier 0, hold time 1–2) are the parser's.
import { BufferWriter } from './buffer-writer.ts';
import { capabilityCode, writeCapability } from './capabilities.ts';
import { BgpDecodeError, ErrorCode, OpenSubcode } from './errors.ts';
import type { Capability, OpenMessage } from './messages.ts';

export interface OpenExpectations {
  /** The configured peer ASN; undefined accepts any (dynamic ASN). */
  readonly peerAsn?: number;
  /** Our ASN and BGP Identifier: an internal peer may not share our identifier (RFC 6286 §2.2). */
  readonly localAsn?: number;
  readonly localBgpId?: number;
  /** Capabilities we cannot do without; multiprotocol ones are matched by AFI/SAFI, others by code. */
  readonly requiredCapabilities?: readonly Capability[];
}

const sameCapability = (want: Capability, got: Capability): boolean => {
  if (capabilityCode(want) !== capabilityCode(got)) return false;
  if (want.kind === 'multiprotocol' && got.kind === 'multiprotocol') return want.afi === got.afi && want.safi === got.safi;
  return true;
};

/** Returns the NOTIFICATION to send if the peer's OPEN is unacceptable, else undefined. */
export function checkOpen(open: OpenMessage, expect: OpenExpectations): BgpDecodeError | undefined {
  if (expect.peerAsn !== undefined && open.asn !== expect.peerAsn) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(open.myAs);
    return new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, `peer AS ${open.asn}, expected ${expect.peerAsn}`, data);
  }
  if (expect.localBgpId !== undefined && open.bgpId === expect.localBgpId && expect.localAsn !== undefined && open.asn === expect.localAsn) {
    return new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, 'internal peer uses our BGP Identifier');
  }
  const missing = (expect.requiredCapabilities ?? []).filter((want) => !open.capabilities.some((got) => sameCapability(want, got)));
  if (missing.length > 0) {
    // RFC 5492 §5: the data lists the capabilities we need, as we would advertise them.
    const w = new BufferWriter(64);
    for (const c of missing) writeCapability(w, c);
    return new BgpDecodeError(
      ErrorCode.OpenMessage,
      OpenSubcode.UnsupportedCapability,
      `peer lacks required capabilities ${missing.map(capabilityCode).join(', ')}`,
      w.flush(),
    );
  }
  return undefined;
}
