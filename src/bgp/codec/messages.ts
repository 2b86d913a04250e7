// The BGP-4 messages as plain data (RFC 4271 §4), with the capabilities and path attributes they carry.
// The parser produces these; the serializer takes them (or the slimmer inputs it declares).
import type { CIDR, IPAddress } from '../../net/address.ts';
import type { Community } from '../../config/model.ts';

export const HEADER_LENGTH = 19;
/** RFC 4271 maximum; RFC 8654 extended messages raise it to 65535. */
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;
export const BGP_VERSION = 4;
/** RFC 6793: the 2-octet stand-in for a 4-octet AS number. */
export const AS_TRANS = 23456;

export const MessageType = {
  Open: 1,
  Update: 2,
  Notification: 3,
  Keepalive: 4,
  RouteRefresh: 5,
} as const;

export const Afi = { IPv4: 1, IPv6: 2 } as const;
export const Safi = { Unicast: 1 } as const;

/** An address family as the wire names it (any AFI/SAFI a peer may mention, not only the ones we parse). */
export interface AfiSafi {
  readonly afi: number;
  readonly safi: number;
}

/** A route's destination: network address and prefix length. Host bits are ignored when encoding. */
export type Prefix = CIDR;

// ---------------------------------------------------------------------------------------------------------
// Capabilities (RFC 5492)

export const CapabilityCode = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  GracefulRestart: 64,
  FourOctetAs: 65,
} as const;

export interface MultiprotocolCapability {
  readonly kind: 'multiprotocol';
  readonly afi: number;
  readonly safi: number;
}

export interface RouteRefreshCapability {
  readonly kind: 'route-refresh';
}

export interface FourOctetAsCapability {
  readonly kind: 'four-octet-as';
  readonly asn: number;
}

export interface GracefulRestartFamily extends AfiSafi {
  /** F bit: forwarding state for this family was preserved across the restart. */
  readonly forwardingPreserved: boolean;
}

/** RFC 4724, with RFC 8538's N bit. */
export interface GracefulRestartCapability {
  readonly kind: 'graceful-restart';
  /** R bit: the sender has restarted. */
  readonly restarting: boolean;
  /** N bit (RFC 8538): the sender supports graceful restart for NOTIFICATION messages. */
  readonly notification: boolean;
  /** Seconds, 0–4095. */
  readonly restartTime: number;
  readonly families: readonly GracefulRestartFamily[];
}

/** Any capability this codec does not interpret, kept byte for byte. */
export interface UnknownCapability {
  readonly kind: 'unknown';
  readonly code: number;
  readonly value: Buffer;
}

export type Capability =
  | MultiprotocolCapability
  | RouteRefreshCapability
  | FourOctetAsCapability
  | GracefulRestartCapability
  | UnknownCapability;

// ---------------------------------------------------------------------------------------------------------
// Path attributes (RFC 4271 §5, RFC 1997, RFC 4760, RFC 6793, RFC 8092)

export const AttributeType = {
  Origin: 1,
  AsPath: 2,
  NextHop: 3,
  MultiExitDisc: 4,
  LocalPref: 5,
  AtomicAggregate: 6,
  Aggregator: 7,
  Communities: 8,
  MpReachNlri: 14,
  MpUnreachNlri: 15,
  As4Path: 17,
  As4Aggregator: 18,
  LargeCommunity: 32,
} as const;

export const AttributeFlag = {
  Optional: 0x80,
  Transitive: 0x40,
  Partial: 0x20,
  ExtendedLength: 0x10,
} as const;

export type Origin = 'igp' | 'egp' | 'incomplete';

export type AsPathSegmentType = 'set' | 'sequence' | 'confed-sequence' | 'confed-set';

export interface AsPathSegment {
  readonly type: AsPathSegmentType;
  readonly asns: readonly number[];
}

export interface Aggregator {
  readonly asn: number;
  /** IPv4. */
  readonly address: IPAddress;
}

export type LargeCommunity = Extract<Community, { readonly kind: 'large' }>;

/** Next hop of MP_REACH_NLRI: a global address, plus an IPv6 link-local one in the 32-byte form. */
export interface MpNextHop {
  readonly global: IPAddress;
  readonly linkLocal?: IPAddress;
}

/** MP_REACH_NLRI for a family this codec parses (IPv4 or IPv6 unicast); other families stay raw. */
export interface MpReach extends AfiSafi {
  readonly nextHop: MpNextHop;
  readonly nlri: readonly Prefix[];
}

export interface MpUnreach extends AfiSafi {
  readonly withdrawn: readonly Prefix[];
}

/** An attribute this codec does not interpret, kept as received (flags without the extended-length bit). */
export interface RawAttribute {
  readonly type: number;
  /** Optional, Transitive and Partial bits as received. */
  readonly flags: number;
  readonly value: Buffer;
}

export interface PathAttributes {
  readonly origin?: Origin;
  readonly asPath?: readonly AsPathSegment[];
  /** NEXT_HOP attribute (IPv4); IPv6 next hops travel in `mpReach`. */
  readonly nextHop?: IPAddress;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: Aggregator;
  /** RFC 1997 communities as 32-bit values (`asn << 16 | value`). */
  readonly communities?: readonly number[];
  readonly as4Path?: readonly AsPathSegment[];
  readonly as4Aggregator?: Aggregator;
  readonly mpReach?: MpReach;
  readonly mpUnreach?: MpUnreach;
  readonly largeCommunities?: readonly LargeCommunity[];
  /** Unrecognized optional attributes, in the order received. */
  readonly unknown?: readonly RawAttribute[];
}

// ---------------------------------------------------------------------------------------------------------
// Messages

export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** The 2-octet My Autonomous System field as sent (AS_TRANS when the real ASN needs 4 octets). */
  readonly myAs: number;
  /** The sender's ASN: from the 4-octet AS capability when present, else `myAs`. */
  readonly asn: number;
  /** Seconds; 0 or ≥ 3. */
  readonly holdTime: number;
  /** BGP Identifier as an unsigned 32-bit number. */
  readonly bgpId: number;
  readonly capabilities: readonly Capability[];
}

/**
 * How RFC 7606 says to handle a malformed attribute short of resetting the session:
 * - `treat-as-withdraw`: every prefix the UPDATE announces is to be handled as withdrawn;
 * - `attribute-discard`: the attribute was dropped (it is absent from `attributes`), the rest stands.
 */
export type UpdateErrorAction = 'treat-as-withdraw' | 'attribute-discard';

export interface UpdateProblem {
  readonly action: UpdateErrorAction;
  /** The UPDATE Message Error subcode RFC 4271 would have sent (for logs and strict mode). */
  readonly subcode: number;
  /** The offending attribute's type code, when the problem is one attribute. */
  readonly attributeType: number | undefined;
  readonly reason: string;
  /** RFC 4271 NOTIFICATION data for the problem (usually the whole attribute). */
  readonly data: Buffer;
}

export interface UpdateMessage {
  readonly type: 'update';
  /** IPv4 Withdrawn Routes field. */
  readonly withdrawn: readonly Prefix[];
  readonly attributes: PathAttributes;
  /** IPv4 NLRI field. */
  readonly nlri: readonly Prefix[];
  /** RFC 7606: handle every announced prefix (NLRI field and MP_REACH_NLRI) as withdrawn. */
  readonly treatAsWithdraw: boolean;
  /** Malformed attributes handled without a session reset; empty for a clean UPDATE. */
  readonly problems: readonly UpdateProblem[];
}

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
  /** RFC 8203/9003 shutdown communication (Cease / Administrative Shutdown or Reset), when well formed. */
  readonly shutdownCommunication?: string;
}

export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

/** RFC 2918; `subtype` is RFC 7313's (0 normal request, 1 BoRR, 2 EoRR). */
export interface RouteRefreshMessage extends AfiSafi {
  readonly type: 'route-refresh';
  readonly subtype: number;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;
