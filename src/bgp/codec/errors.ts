// BGP error codes and subcodes (RFC 4271 §4.5 and §6, RFC 4486, RFC 5492, RFC 6608, RFC 7313, RFC 8538,
// RFC 9234, RFC 9384), the typed decode error every malformed message turns into, and readable names.

export const ErrorCode = {
  MessageHeader: 1,
  OpenMessage: 2,
  UpdateMessage: 3,
  HoldTimerExpired: 4,
  FiniteStateMachine: 5,
  Cease: 6,
  RouteRefreshMessage: 7,
} as const;

export const HeaderSubcode = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3,
} as const;

export const OpenSubcode = {
  Unspecific: 0,
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6,
  UnsupportedCapability: 7,
  RoleMismatch: 11,
} as const;

export const UpdateSubcode = {
  Unspecific: 0,
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOrigin: 6,
  InvalidNextHop: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;

export const FsmSubcode = {
  Unspecific: 0,
  UnexpectedMessageInOpenSent: 1,
  UnexpectedMessageInOpenConfirm: 2,
  UnexpectedMessageInEstablished: 3,
} as const;

export const CeaseSubcode = {
  MaximumPrefixesReached: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  HardReset: 9,
  BfdDown: 10,
} as const;

export const RouteRefreshSubcode = {
  InvalidMessageLength: 1,
} as const;

const codeNames: Readonly<Record<number, string>> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

const subcodeNames: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  1: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  2: {
    1: 'Unsupported Version Number',
    2: 'Bad Peer AS',
    3: 'Bad BGP Identifier',
    4: 'Unsupported Optional Parameter',
    5: 'Authentication Failure',
    6: 'Unacceptable Hold Time',
    7: 'Unsupported Capability',
    11: 'Role Mismatch',
  },
  3: {
    1: 'Malformed Attribute List',
    2: 'Unrecognized Well-known Attribute',
    3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error',
    5: 'Attribute Length Error',
    6: 'Invalid ORIGIN Attribute',
    7: 'AS Routing Loop',
    8: 'Invalid NEXT_HOP Attribute',
    9: 'Optional Attribute Error',
    10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  5: {
    1: 'Receive Unexpected Message in OpenSent State',
    2: 'Receive Unexpected Message in OpenConfirm State',
    3: 'Receive Unexpected Message in Established State',
  },
  6: {
    1: 'Maximum Number of Prefixes Reached',
    2: 'Administrative Shutdown',
    3: 'Peer De-configured',
    4: 'Administrative Reset',
    5: 'Connection Rejected',
    6: 'Other Configuration Change',
    7: 'Connection Collision Resolution',
    8: 'Out of Resources',
    9: 'Hard Reset',
    10: 'BFD Down',
  },
  7: { 1: 'Invalid Message Length' },
};

export const errorCodeName = (code: number): string => codeNames[code] ?? 'unknown';

export function errorSubcodeName(code: number, subcode: number): string {
  if (subcode === 0) return 'Unspecific';
  return subcodeNames[code]?.[subcode] ?? 'unknown';
}

/** `code 2 (OPEN Message Error) subcode 2 (Bad Peer AS)`. */
export const describeErrorCode = (code: number, subcode: number): string =>
  `code ${code} (${errorCodeName(code)}) subcode ${subcode} (${errorSubcodeName(code, subcode)})`;

/**
 * A received message that the session must answer with a NOTIFICATION and a reset: the code, subcode and
 * data are exactly what to send. Decoding throws (or, from the stream parser, returns) nothing else.
 */
export class BgpDecodeError extends Error {
  override readonly name = 'BgpDecodeError';
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
  /** Why, for logs; the peer only ever sees code, subcode and data. */
  readonly reason: string;

  constructor(code: number, subcode: number, reason: string, data: Uint8Array = EMPTY) {
    super(`${describeErrorCode(code, subcode)}: ${reason}`);
    this.code = code;
    this.subcode = subcode;
    this.reason = reason;
    this.data = Buffer.from(data);
  }
}

/** A programming error on the sending side: a value that cannot be put on the wire (ASN out of range, too big). */
export class BgpEncodeError extends Error {
  override readonly name = 'BgpEncodeError';
}

/** Throws BgpEncodeError unless `v` is an integer that fits in `bits` unsigned bits. */
export function checkUint(v: number, bits: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new BgpEncodeError(`${what} ${v} does not fit in ${bits} bits`);
}

const EMPTY = new Uint8Array(0);

/**
 * A NOTIFICATION as one line: `code 6 (Cease) subcode 2 (Administrative Shutdown): "maintenance"`, or with
 * the data in hex when there is no shutdown communication.
 */
export function describeNotification(n: {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  readonly shutdownCommunication?: string;
}): string {
  const head = describeErrorCode(n.code, n.subcode);
  if (n.shutdownCommunication !== undefined) return `${head}: ${JSON.stringify(n.shutdownCommunication)}`;
  if (n.data.length === 0) return head;
  const shown = Buffer.from(n.data.subarray(0, 64)).toString('hex');
  return `${head}, data ${shown}${n.data.length > 64 ? '…' : ''}`;
}
