// Capabilities Advertisement (RFC 5492): the TLVs inside OPEN's Capabilities optional parameter.
// Multiprotocol (RFC 4760), Route Refresh (RFC 2918), Graceful Restart (RFC 4724, RFC 8538's N bit) and
// 4-octet AS (RFC 6793) are interpreted; any other capability is kept as raw bytes.
import type { IPFamily } from '../../net/address.ts';
import type { BufferWriter } from './buffer-writer.ts';
import { BgpDecodeError, BgpEncodeError, checkUint, ErrorCode, OpenSubcode } from './errors.ts';
import {
  Afi,
  CapabilityCode,
  Safi,
  type AfiSafi,
  type Capability,
  type FourOctetAsCapability,
  type GracefulRestartCapability,
  type GracefulRestartFamily,
  type MultiprotocolCapability,
} from './messages.ts';
import { afiOf } from './nlri.ts';

const GR_RESTARTING = 0x8;
const GR_NOTIFICATION = 0x4;
const GR_FORWARDING = 0x80;

export const multiprotocolCapability = (family: IPFamily): MultiprotocolCapability => ({
  kind: 'multiprotocol',
  afi: afiOf(family),
  safi: Safi.Unicast,
});

export const routeRefreshCapability = (): Capability => ({ kind: 'route-refresh' });

export const fourOctetAsCapability = (asn: number): FourOctetAsCapability => ({ kind: 'four-octet-as', asn });

export const capabilityCode = (c: Capability): number => {
  switch (c.kind) {
    case 'multiprotocol':
      return CapabilityCode.Multiprotocol;
    case 'route-refresh':
      return CapabilityCode.RouteRefresh;
    case 'graceful-restart':
      return CapabilityCode.GracefulRestart;
    case 'four-octet-as':
      return CapabilityCode.FourOctetAs;
    case 'unknown':
      return c.code;
  }
};

const malformed = (what: string): BgpDecodeError =>
  new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.Unspecific, `malformed capability: ${what}`);

/** Appends the capabilities in `buf[start, end)` (one Capabilities parameter's value) to `out`. */
export function decodeCapabilities(buf: Buffer, start: number, end: number, out: Capability[]): void {
  let p = start;
  while (p < end) {
    if (end - p < 2) throw malformed('truncated capability header');
    const code = buf[p]!;
    const len = buf[p + 1]!;
    const v = p + 2;
    if (v + len > end) throw malformed(`capability ${code} length ${len} runs past the parameter`);
    out.push(decodeCapability(buf, code, v, len));
    p = v + len;
  }
}

function decodeCapability(buf: Buffer, code: number, v: number, len: number): Capability {
  switch (code) {
    case CapabilityCode.Multiprotocol:
      if (len !== 4) throw malformed(`multiprotocol capability length ${len}, want 4`);
      return { kind: 'multiprotocol', afi: buf.readUInt16BE(v), safi: buf[v + 3]! };
    case CapabilityCode.RouteRefresh:
      if (len !== 0) throw malformed(`route refresh capability length ${len}, want 0`);
      return { kind: 'route-refresh' };
    case CapabilityCode.FourOctetAs: {
      if (len !== 4) throw malformed(`4-octet AS capability length ${len}, want 4`);
      const asn = buf.readUInt32BE(v);
      if (asn === 0) throw new BgpDecodeError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, 'AS 0 in the 4-octet AS capability');
      return { kind: 'four-octet-as', asn };
    }
    case CapabilityCode.GracefulRestart: {
      if (len < 2 || (len - 2) % 4 !== 0) throw malformed(`graceful restart capability length ${len}`);
      const head = buf.readUInt16BE(v);
      const flags = head >> 12;
      const families: GracefulRestartFamily[] = [];
      for (let p = v + 2; p < v + len; p += 4) {
        families.push({ afi: buf.readUInt16BE(p), safi: buf[p + 2]!, forwardingPreserved: (buf[p + 3]! & GR_FORWARDING) !== 0 });
      }
      return {
        kind: 'graceful-restart',
        restarting: (flags & GR_RESTARTING) !== 0,
        notification: (flags & GR_NOTIFICATION) !== 0,
        restartTime: head & 0x0fff,
        families,
      };
    }
    default:
      return { kind: 'unknown', code, value: Buffer.from(buf.subarray(v, v + len)) };
  }
}

/** Writes one capability TLV (code, length, value). */
export function writeCapability(w: BufferWriter, c: Capability): void {
  switch (c.kind) {
    case 'multiprotocol':
      checkUint(c.afi, 16, 'AFI');
      checkUint(c.safi, 8, 'SAFI');
      w.u8(CapabilityCode.Multiprotocol).u8(4).u16(c.afi).u8(0).u8(c.safi);
      return;
    case 'route-refresh':
      w.u8(CapabilityCode.RouteRefresh).u8(0);
      return;
    case 'four-octet-as':
      checkUint(c.asn, 32, 'ASN');
      w.u8(CapabilityCode.FourOctetAs).u8(4).u32(c.asn);
      return;
    case 'graceful-restart': {
      checkUint(c.restartTime, 12, 'graceful restart time');
      const len = 2 + 4 * c.families.length;
      if (len > 255) throw new BgpEncodeError('graceful restart capability lists too many families');
      const flags = (c.restarting ? GR_RESTARTING : 0) | (c.notification ? GR_NOTIFICATION : 0);
      w.u8(CapabilityCode.GracefulRestart).u8(len).u16((flags << 12) | c.restartTime);
      for (const f of c.families) {
        checkUint(f.afi, 16, 'AFI');
        checkUint(f.safi, 8, 'SAFI');
        w.u16(f.afi).u8(f.safi).u8(f.forwardingPreserved ? GR_FORWARDING : 0);
      }
      return;
    }
    case 'unknown':
      checkUint(c.code, 8, 'capability code');
      if (c.value.length > 255) throw new BgpEncodeError(`capability ${c.code} value longer than 255 bytes`);
      w.u8(c.code).u8(c.value.length).bytes(c.value);
      return;
  }
}

// ---------------------------------------------------------------------------------------------------------

export interface NegotiatedCapabilities {
  /** Both sides sent the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet ASNs. */
  readonly fourOctetAs: boolean;
  readonly routeRefresh: boolean;
  /** Families both sides advertised (IPv4 unicast implied for a side that sent no multiprotocol capability). */
  readonly families: readonly AfiSafi[];
  /** The peer's graceful restart capability, if it sent one. */
  readonly peerGracefulRestart: GracefulRestartCapability | undefined;
}

const IPV4_UNICAST: AfiSafi = { afi: Afi.IPv4, safi: Safi.Unicast };

function advertisedFamilies(caps: readonly Capability[]): AfiSafi[] {
  const mp = caps.filter((c): c is MultiprotocolCapability => c.kind === 'multiprotocol');
  return mp.length === 0 ? [IPV4_UNICAST] : mp.map((c) => ({ afi: c.afi, safi: c.safi }));
}

/** What a session may use once both OPENs are known (RFC 5492 §3: a capability counts when both sent it). */
export function negotiateCapabilities(local: readonly Capability[], remote: readonly Capability[]): NegotiatedCapabilities {
  const has = (caps: readonly Capability[], kind: Capability['kind']): boolean => caps.some((c) => c.kind === kind);
  const remoteFamilies = advertisedFamilies(remote);
  const families = advertisedFamilies(local).filter(
    (f, i, all) =>
      remoteFamilies.some((r) => r.afi === f.afi && r.safi === f.safi) &&
      all.findIndex((g) => g.afi === f.afi && g.safi === f.safi) === i,
  );
  return {
    fourOctetAs: has(local, 'four-octet-as') && has(remote, 'four-octet-as'),
    routeRefresh: has(local, 'route-refresh') && has(remote, 'route-refresh'),
    families,
    peerGracefulRestart: remote.find((c): c is GracefulRestartCapability => c.kind === 'graceful-restart'),
  };
}
