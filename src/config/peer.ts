// BGPPeer (v1beta1 and v1beta2 shapes: v1beta2 only adds fields): ASNs, addresses, timers, password or
// password Secret, BFD profile, node selectors; and the check that no two peers make the same session
// from the same node.
import { formatIP, parseIP } from '../net/address.ts';
import { parseGoDuration } from './duration.ts';
import type { BFDProfile, BGPPeer, LabelSelector } from './model.ts';
import type { NodeInfo } from './node.ts';
import { type Problems, describe } from './problems.ts';
import { FieldReader, type JsonObject, isObject, own, show } from './reader.ts';
import { selectorMatches } from './selector.ts';
import { readSelectors, selectorKey } from './selector-reader.ts';
import type { SourceObject } from './sources.ts';

export const peerDefaults = { port: 179, holdTimeSeconds: 90 } as const;
export const maxASN = 4294967295;
export const basicAuthSecretType = 'kubernetes.io/basic-auth';

export interface PeerContext {
  readonly namespace: string;
  /** Undefined: this component cannot read Secrets; skip resolving passwordSecret. */
  readonly secrets: ReadonlyMap<string, JsonObject> | undefined;
  readonly bfdProfiles: ReadonlyMap<string, BFDProfile>;
}

export interface PeerDraft {
  readonly source: SourceObject;
  readonly peer: BGPPeer;
}

/** The peer, or undefined when a field it cannot do without (ASN, address) is missing or wrong. */
export function readPeer(source: SourceObject, problems: Problems, ctx: PeerContext): PeerDraft | undefined {
  const r = new FieldReader(source.origin, problems);
  const s = source.spec;

  const myASN = r.integer(own(s, 'myASN'), 'myASN', 1, maxASN);
  r.required(own(s, 'myASN'), 'myASN');
  const dynRaw = r.string(own(s, 'dynamicASN'), 'dynamicASN');
  let dynamicASN: 'internal' | 'external' | undefined;
  if (dynRaw !== undefined && dynRaw !== '') {
    if (dynRaw === 'internal' || dynRaw === 'external') dynamicASN = dynRaw;
    else r.error('dynamicASN', `${show(dynRaw)} is not one of internal, external`);
  }
  const dynGiven = dynRaw !== undefined && dynRaw !== '';
  // As in MetalLB, peerASN 0 next to dynamicASN is Go's zero value: not set.
  const asnRaw = own(s, 'peerASN');
  const asnGiven = asnRaw !== undefined && asnRaw !== null && !(asnRaw === 0 && dynGiven);
  const peerASN = asnGiven ? r.integer(asnRaw, 'peerASN', 1, maxASN) : undefined;
  if (asnGiven && dynGiven) r.error('dynamicASN', 'cannot be set together with peerASN: set exactly one of them');
  else if (!asnGiven && !dynGiven) r.error('peerASN', 'is required (or set dynamicASN to internal or external)');
  const ebgpMultiHop = r.boolean(own(s, 'ebgpMultiHop'), 'ebgpMultiHop') ?? false;
  const iBGP = (peerASN !== undefined && peerASN === myASN) || dynamicASN === 'internal';
  if (ebgpMultiHop && iBGP) r.error('ebgpMultiHop', 'cannot be set for an iBGP peer (the peer ASN equals myASN)');

  const iface = r.string(own(s, 'interface'), 'interface');
  if (iface !== undefined && iface !== '') {
    r.error('interface', 'unnumbered BGP (peering over an interface) is not supported; set peerAddress instead');
  }
  const addrText = r.string(own(s, 'peerAddress'), 'peerAddress');
  const peerIP = addrText === undefined ? undefined : parseIP(addrText);
  if (addrText === undefined || addrText === '') {
    if (iface === undefined || iface === '') r.error('peerAddress', 'is required');
  } else if (!peerIP) r.error('peerAddress', `${show(addrText)} is not an IP address`);

  const srcText = r.string(own(s, 'sourceAddress'), 'sourceAddress');
  let sourceAddress: string | undefined;
  if (srcText !== undefined && srcText !== '') {
    const ip = parseIP(srcText);
    if (!ip) r.error('sourceAddress', `${show(srcText)} is not an IP address`);
    else if (peerIP && ip.family !== peerIP.family) {
      r.error('sourceAddress', `${formatIP(ip)} is ${ip.family} but peerAddress ${formatIP(peerIP)} is ${peerIP.family}`);
    } else sourceAddress = formatIP(ip);
  }

  const peerPort = r.integer(own(s, 'peerPort'), 'peerPort', 1, 65535) ?? peerDefaults.port;
  const timers = readTimers(r, own(s, 'holdTime'), own(s, 'keepaliveTime'));
  const connectTimeSeconds = readConnectTime(r, own(s, 'connectTime'));

  const ridText = r.string(own(s, 'routerID'), 'routerID');
  let routerID: string | undefined;
  if (ridText !== undefined && ridText !== '') {
    const ip = parseIP(ridText);
    if (!ip || ip.family !== 'IPv4') r.error('routerID', `${show(ridText)} is not an IPv4 address`);
    else routerID = formatIP(ip);
  }

  const nodeSelectors = readSelectors(r, own(s, 'nodeSelectors'), 'nodeSelectors');
  const password = readPassword(r, s, ctx);

  const bfdName = r.string(own(s, 'bfdProfile'), 'bfdProfile');
  let bfdProfile: string | undefined;
  if (bfdName !== undefined && bfdName !== '') {
    if (!ctx.bfdProfiles.has(bfdName)) r.error('bfdProfile', `${show(bfdName)} is not a known BFDProfile`);
    bfdProfile = bfdName;
  }

  const vrfText = r.string(own(s, 'vrf'), 'vrf');
  if (vrfText !== undefined && /[\r\n]/.test(vrfText)) r.error('vrf', 'must not contain a line break');
  const vrf = vrfText === undefined || vrfText === '' ? undefined : vrfText;
  const enableGracefulRestart = r.boolean(own(s, 'enableGracefulRestart'), 'enableGracefulRestart') ?? false;
  // Accepted for compatibility; IronLB's speaker always negotiates both families (MP-BGP).
  r.boolean(own(s, 'disableMP'), 'disableMP');
  r.boolean(own(s, 'dualStackAddressFamily'), 'dualStackAddressFamily');

  if (myASN === undefined || (peerASN === undefined && dynamicASN === undefined) || !peerIP) return undefined;
  return {
    source,
    peer: {
      name: source.name,
      myASN,
      peerASN: dynamicASN === undefined ? peerASN : undefined,
      dynamicASN,
      peerAddress: formatIP(peerIP),
      peerFamily: peerIP.family,
      sourceAddress,
      peerPort,
      holdTimeSeconds: timers.hold,
      keepaliveTimeSeconds: timers.keepalive,
      connectTimeSeconds,
      routerID,
      nodeSelectors,
      password,
      bfdProfile,
      ebgpMultiHop,
      vrf,
      enableGracefulRestart,
    },
  };
}

function readDuration(r: FieldReader, v: unknown, path: string): number | undefined {
  const text = r.string(v, path);
  if (text === undefined) return undefined;
  const seconds = parseGoDuration(text);
  if (seconds === undefined) {
    r.error(path, `${show(text)} is not a duration such as "90s", "1m30s" or "3m"`);
    return undefined;
  }
  if (seconds < 0) {
    r.error(path, `${show(text)} must not be negative`);
    return undefined;
  }
  return seconds;
}

/**
 * MetalLB's rules: hold time 0 (no keepalives) or at least 3 s, default 90 s; keepalive at most the hold
 * time, default a third of it; a keepalive time alone implies a hold time of three times it.
 */
function readTimers(r: FieldReader, holdRaw: unknown, keepaliveRaw: unknown): { hold: number; keepalive: number } {
  const holdGiven = readDuration(r, holdRaw, 'holdTime');
  const keepGiven = readDuration(r, keepaliveRaw, 'keepaliveTime');
  const hold = holdGiven ?? (keepGiven !== undefined ? keepGiven * 3 : peerDefaults.holdTimeSeconds);
  const keepalive = keepGiven ?? hold / 3;
  const holdField = holdGiven !== undefined ? 'holdTime' : 'keepaliveTime';
  const holdWhole = Math.floor(hold);
  const given = (raw: unknown) => show(String(raw));
  const implied = `${Number(hold.toFixed(3))}s`;
  if (holdWhole !== 0 && holdWhole < 3) {
    r.error(
      holdField,
      holdGiven !== undefined
        ? `must be 0 or at least 3s, got ${given(holdRaw)}`
        : `implies a holdTime of ${implied} (three keepalives); the holdTime must be 0 or at least 3s`,
    );
  } else if (holdWhole > 65535) {
    r.error(holdField, `must be at most 65535s (18h12m15s), got ${holdGiven !== undefined ? given(holdRaw) : implied}`);
  } else if (keepalive > hold) {
    r.error('keepaliveTime', `${given(keepaliveRaw)} is longer than holdTime ${given(holdRaw)}`);
  }
  return { hold: holdWhole, keepalive: Math.floor(keepalive) };
}

function readConnectTime(r: FieldReader, v: unknown): number | undefined {
  const seconds = readDuration(r, v, 'connectTime');
  if (seconds === undefined) return undefined;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 65535) {
    r.error('connectTime', `must be a whole number of seconds between 1s and 65535s, got ${show(v)}`);
    return undefined;
  }
  return seconds;
}

/** `password`, or the `password` key of the basic-auth Secret named by `passwordSecret`. */
function readPassword(r: FieldReader, s: JsonObject, ctx: PeerContext): string | undefined {
  const password = r.string(own(s, 'password'), 'password');
  if (password !== undefined && /[\r\n]/.test(password)) r.error('password', 'must not contain a line break');
  const ref = r.object(own(s, 'passwordSecret'), 'passwordSecret');
  if (ref === undefined) return password === '' ? undefined : password;
  const name = r.string(own(ref, 'name'), 'passwordSecret.name');
  const namespace = r.string(own(ref, 'namespace'), 'passwordSecret.namespace');
  if (name === undefined || name === '') {
    // An empty reference ({} or name "") is what Go's zero value serializes to: no Secret.
    if (namespace !== undefined && namespace !== '') r.error('passwordSecret.name', 'is required');
    return password === '' ? undefined : password;
  }
  if (password !== undefined && password !== '') {
    r.error('passwordSecret', 'cannot be set together with password: use one of them');
    return undefined;
  }
  if (namespace !== undefined && namespace !== '' && namespace !== ctx.namespace) {
    r.error('passwordSecret.namespace', `${show(namespace)} must be the install namespace ${show(ctx.namespace)}`);
    return undefined;
  }
  if (ctx.secrets === undefined) return undefined;
  const secretName = `Secret ${ctx.namespace}/${name}`;
  const secret = ctx.secrets.get(name);
  if (!secret) {
    r.error('passwordSecret.name', `${secretName} does not exist`);
    return undefined;
  }
  const type = own(secret, 'type');
  if (type !== basicAuthSecretType) {
    r.error('passwordSecret.name', `${secretName} has type ${show(type)}; it must be ${basicAuthSecretType}`);
    return undefined;
  }
  const data = own(secret, 'data');
  const encoded = isObject(data) ? own(data, 'password') : undefined;
  if (typeof encoded !== 'string') {
    r.error('passwordSecret.name', `${secretName} has no "password" key`);
    return undefined;
  }
  const decoded = decodeBase64(encoded);
  if (decoded === undefined) {
    r.error('passwordSecret.name', `${secretName} key "password" is not valid base64`);
    return undefined;
  }
  if (/[\r\n]/.test(decoded)) {
    r.error('passwordSecret.name', `${secretName} key "password" must not contain a line break`);
    return undefined;
  }
  return decoded;
}

function decodeBase64(text: string): string | undefined {
  const s = text.replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}

/**
 * Two peers with the same address, port and VRF would make two sessions to one router from one node.
 * They may coexist only on disjoint nodes: an empty selector list means every node, identical lists
 * overlap, and otherwise a known node matching both is an overlap.
 */
export function checkDuplicatePeers(peers: readonly PeerDraft[], nodes: readonly NodeInfo[], problems: Problems): void {
  const byKey = new Map<string, PeerDraft[]>();
  for (const p of peers) {
    const key = `${p.peer.peerAddress}|${p.peer.peerPort}|${p.peer.vrf ?? ''}`;
    const list = byKey.get(key) ?? [];
    for (const prev of list) {
      const shared = overlap(prev.peer.nodeSelectors, p.peer.nodeSelectors, nodes);
      if (shared === undefined) continue;
      const vrf = p.peer.vrf === undefined ? '' : ` in vrf ${show(p.peer.vrf)}`;
      problems.error(
        p.source.origin,
        'peerAddress',
        `${p.peer.peerAddress} port ${p.peer.peerPort}${vrf} is also the peer of ${describe(prev.source.origin)} on ${shared}`,
      );
      break;
    }
    list.push(p);
    byKey.set(key, list);
  }
}

/** A description of nodes both selector lists select, or undefined if they are disjoint. */
export function overlap(a: readonly LabelSelector[], b: readonly LabelSelector[], nodes: readonly NodeInfo[]): string | undefined {
  if (a.length === 0 || b.length === 0) return 'every node';
  const keys = (l: readonly LabelSelector[]) => l.map(selectorKey).sort().join('|');
  if (keys(a) === keys(b)) return 'the same nodes';
  const shared = nodes.filter(
    (n) => a.some((s) => selectorMatches(s, n.labels)) && b.some((s) => selectorMatches(s, n.labels)),
  );
  if (shared.length === 0) return undefined;
  return `Node ${shared.map((n) => n.name).join(', ')}`;
}
