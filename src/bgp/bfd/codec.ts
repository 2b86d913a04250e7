// BFD Control packets (RFC 5880 §4.1): pure encode and decode, no sockets, no session state.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//   |                       My Discriminator                        |
//   |                      Your Discriminator                       |
//   |                    Desired Min TX Interval                    |
//   |                   Required Min RX Interval                    |
//   |                 Required Min Echo RX Interval                 |
//   |   Auth Type   |   Auth Len    |    Authentication Data...     |   (only when A is set)
//
// decodeControl applies the reception checks of RFC 5880 §6.8.6 that need no session (version, lengths,
// Detect Mult, Multipoint, My/Your Discriminator) and never throws: bad input comes back as a
// BfdDecodeError whose `reason` says which check failed. Authentication is not supported: a packet with the
// A bit is checked for a well-formed authentication section and then rejected ('authentication-unsupported'),
// which is what §6.8.6 prescribes for a session with bfd.AuthType zero.
import type { BfdState } from './handle.ts';

export const BFD_VERSION = 1;
/** Length of a Control packet without authentication section. */
export const CONTROL_PACKET_LENGTH = 24;
/** Smallest Length when the A bit is set (RFC 5880 §6.8.6). */
export const MIN_AUTH_PACKET_LENGTH = 26;

/** State field values (RFC 5880 §4.1). */
export const stateCode: Readonly<Record<BfdState, number>> = { AdminDown: 0, Down: 1, Init: 2, Up: 3 };
const stateByCode: readonly BfdState[] = ['AdminDown', 'Down', 'Init', 'Up'];

/** Diagnostic codes (RFC 5880 §4.1). */
export const Diagnostic = {
  None: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;

const diagnosticNames: readonly string[] = [
  'No Diagnostic',
  'Control Detection Time Expired',
  'Echo Function Failed',
  'Neighbor Signaled Session Down',
  'Forwarding Plane Reset',
  'Path Down',
  'Concatenated Path Down',
  'Administratively Down',
  'Reverse Concatenated Path Down',
];

/** Readable name of a diagnostic code: `Control Detection Time Expired`, or `Diagnostic 17` for a reserved one. */
export function diagnosticName(code: number): string {
  return diagnosticNames[code] ?? `Diagnostic ${code}`;
}

/** A decoded BFD Control packet without authentication. Intervals are in microseconds, as on the wire. */
export interface ControlPacket {
  /** 0–31. */
  readonly diagnostic: number;
  readonly state: BfdState;
  readonly poll: boolean;
  readonly final: boolean;
  /** C: the transmitting system's BFD does not share fate with its control plane. */
  readonly controlPlaneIndependent: boolean;
  readonly demand: boolean;
  /** 1–255. */
  readonly detectMult: number;
  /** Non-zero 32-bit unsigned. */
  readonly myDiscriminator: number;
  /** 32-bit unsigned; 0 only in Down or AdminDown. */
  readonly yourDiscriminator: number;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly requiredMinEchoRxUs: number;
}

export type BfdDecodeReason =
  | 'truncated'
  | 'bad-version'
  | 'bad-length'
  | 'length-exceeds-payload'
  | 'zero-detect-mult'
  | 'multipoint'
  | 'zero-my-discriminator'
  | 'zero-your-discriminator'
  | 'bad-auth-section'
  | 'authentication-unsupported';

/** Why a received datagram is not an acceptable Control packet. Returned, never thrown. */
export class BfdDecodeError extends Error {
  override readonly name = 'BfdDecodeError';
  constructor(
    readonly reason: BfdDecodeReason,
    message: string,
  ) {
    super(message);
  }
}

export type DecodeResult = { readonly ok: true; readonly packet: ControlPacket } | { readonly ok: false; readonly error: BfdDecodeError };

const fail = (reason: BfdDecodeReason, message: string): DecodeResult => ({ ok: false, error: new BfdDecodeError(reason, message) });

const FLAG_P = 0x20;
const FLAG_F = 0x10;
const FLAG_C = 0x08;
const FLAG_A = 0x04;
const FLAG_D = 0x02;
const FLAG_M = 0x01;

/** Decodes one UDP payload. Bytes after Length are ignored (RFC 5880 only requires Length ≤ payload). */
export function decodeControl(bytes: Uint8Array): DecodeResult {
  if (bytes.length === 0) return fail('truncated', 'empty datagram');
  const version = bytes[0]! >> 5;
  if (version !== BFD_VERSION) return fail('bad-version', `version ${version}, expected ${BFD_VERSION}`);
  if (bytes.length < CONTROL_PACKET_LENGTH) return fail('truncated', `${bytes.length} bytes, a Control packet has at least ${CONTROL_PACKET_LENGTH}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = bytes[1]!;
  const auth = (flags & FLAG_A) !== 0;
  const length = bytes[3]!;
  const minLength = auth ? MIN_AUTH_PACKET_LENGTH : CONTROL_PACKET_LENGTH;
  if (length < minLength) return fail('bad-length', `Length ${length} is below the minimum ${minLength}${auth ? ' (A bit set)' : ''}`);
  if (length > bytes.length) return fail('length-exceeds-payload', `Length ${length} exceeds the ${bytes.length}-byte payload`);
  const detectMult = bytes[2]!;
  if (detectMult === 0) return fail('zero-detect-mult', 'Detect Mult is zero');
  if ((flags & FLAG_M) !== 0) return fail('multipoint', 'Multipoint (M) bit is set');
  const myDiscriminator = view.getUint32(4);
  if (myDiscriminator === 0) return fail('zero-my-discriminator', 'My Discriminator is zero');
  const yourDiscriminator = view.getUint32(8);
  const state = stateByCode[flags >> 6]!;
  if (yourDiscriminator === 0 && state !== 'Down' && state !== 'AdminDown') {
    return fail('zero-your-discriminator', `Your Discriminator is zero in state ${state}`);
  }
  if (auth) {
    const authType = bytes[24]!;
    const authLen = bytes[25]!;
    if (authLen < 2 || CONTROL_PACKET_LENGTH + authLen > length) {
      return fail('bad-auth-section', `Auth Len ${authLen} does not fit a packet of Length ${length}`);
    }
    return fail('authentication-unsupported', `authentication type ${authType} received, but no authentication is configured`);
  }
  return {
    ok: true,
    packet: {
      diagnostic: bytes[0]! & 0x1f,
      state,
      poll: (flags & FLAG_P) !== 0,
      final: (flags & FLAG_F) !== 0,
      controlPlaneIndependent: (flags & FLAG_C) !== 0,
      demand: (flags & FLAG_D) !== 0,
      detectMult,
      myDiscriminator,
      yourDiscriminator,
      desiredMinTxUs: view.getUint32(12),
      requiredMinRxUs: view.getUint32(16),
      requiredMinEchoRxUs: view.getUint32(20),
    },
  };
}

const checkUint = (name: string, value: number, max: number): void => {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} ${value} is not an integer in 0..${max}`);
};

/**
 * Encodes a 24-byte Control packet (version 1, A and M clear). Field values out of range are a
 * programming error and throw a RangeError; so do P and F together (RFC 5880 §6.8.7 forbids it).
 */
export function encodeControl(p: ControlPacket): Buffer {
  checkUint('diagnostic', p.diagnostic, 31);
  checkUint('detectMult', p.detectMult, 255);
  if (p.detectMult === 0) throw new RangeError('detectMult must not be zero');
  for (const key of ['myDiscriminator', 'yourDiscriminator', 'desiredMinTxUs', 'requiredMinRxUs', 'requiredMinEchoRxUs'] as const) {
    checkUint(key, p[key], 0xffffffff);
  }
  if (p.myDiscriminator === 0) throw new RangeError('myDiscriminator must not be zero');
  if (p.poll && p.final) throw new RangeError('Poll and Final must not both be set');
  const buf = Buffer.alloc(CONTROL_PACKET_LENGTH);
  buf[0] = (BFD_VERSION << 5) | p.diagnostic;
  buf[1] =
    (stateCode[p.state] << 6) |
    (p.poll ? FLAG_P : 0) |
    (p.final ? FLAG_F : 0) |
    (p.controlPlaneIndependent ? FLAG_C : 0) |
    (p.demand ? FLAG_D : 0);
  buf[2] = p.detectMult;
  buf[3] = CONTROL_PACKET_LENGTH;
  buf.writeUInt32BE(p.myDiscriminator, 4);
  buf.writeUInt32BE(p.yourDiscriminator, 8);
  buf.writeUInt32BE(p.desiredMinTxUs, 12);
  buf.writeUInt32BE(p.requiredMinRxUs, 16);
  buf.writeUInt32BE(p.requiredMinEchoRxUs, 20);
  return buf;
}
