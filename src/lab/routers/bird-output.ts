// Parsers for BIRD 2's text output (it has no JSON): `birdc show protocols all` and
// `birdc show route all`. Pure functions over the text.
import { normalizeAddress, normalizePrefix } from './address.ts';
import { formatCommunityValue } from './community.ts';
import { originOf, rfcState, routeFromPaths } from './answers.ts';
import type { AddressFamily, BgpPath, BgpRoute, BgpSession } from './router.ts';

/** The lines after birdc's "BIRD x.y.z ready." banner. */
function body(text: string): string[] {
  return text.split('\n').filter((l) => !/^BIRD [\d.]+ ready\.$/.test(l.trim()));
}

export interface BirdProtocol {
  readonly name: string;
  readonly session: BgpSession;
}

/**
 * `show protocols all`: one entry per BGP protocol with a neighbor address (range protocols, which only
 * listen, are skipped). Prefixes are each channel's "imported" count.
 */
export function parseBirdProtocols(text: string, dynamicPrefix = 'dyn'): BirdProtocol[] {
  const protocols: BirdProtocol[] = [];
  let block: { name: string; proto: string; lines: string[] } | undefined;
  const flush = (): void => {
    if (!block || block.proto !== 'BGP') return;
    let peer: string | undefined;
    let state = 'unknown';
    let remoteAs: number | undefined;
    let family: AddressFamily | undefined;
    const prefixesByFamily: Partial<Record<AddressFamily, number>> = {};
    for (const line of block.lines) {
      const [, key = '', value = ''] = /^\s*([^:]+):\s*(.*)$/.exec(line) ?? [];
      const channel = /^\s*Channel (ipv4|ipv6)\s*$/.exec(line);
      if (channel) family = channel[1] as AddressFamily;
      else if (key === 'BGP state') state = value.trim();
      else if (key === 'Neighbor address') peer = normalizeAddress(value.trim().split(/[\s%]/)[0]!);
      else if (key === 'Neighbor AS') remoteAs = Number(value.trim());
      else if (key === 'Routes' && family) prefixesByFamily[family] = Number(/(\d+) imported/.exec(value)?.[1] ?? 0);
    }
    if (!peer) return;
    const rfc = rfcState(state);
    protocols.push({
      name: block.name,
      session: {
        peer,
        ...(remoteAs !== undefined && Number.isFinite(remoteAs) && { remoteAs }),
        state: rfc,
        established: rfc === 'Established',
        prefixesReceived: Object.values(prefixesByFamily).reduce((a, b) => a + (b ?? 0), 0),
        prefixesByFamily,
        dynamic: block.name.startsWith(dynamicPrefix),
      },
    });
  };
  for (const line of body(text)) {
    const head = /^(\S+)\s+(\S+)\s+\S+\s+\S+\s+\S+/.exec(line);
    if (head && !line.startsWith('Name ')) {
      flush();
      block = { name: head[1]!, proto: head[2]!, lines: [] };
    } else if (block) {
      block.lines.push(line);
    }
  }
  flush();
  return protocols;
}

/** Sessions by peer address. */
export function birdSessions(protocols: readonly BirdProtocol[]): Map<string, BgpSession> {
  return new Map(protocols.map((p) => [p.session.peer, p.session]));
}

interface PathDraft {
  proto: string;
  best: boolean;
  type: string;
  attrs: Map<string, string>;
}

export interface BirdRouteContext {
  /** Protocol name → peer address (from parseBirdProtocols), so paths name their peer, not the protocol. */
  readonly protocols?: readonly BirdProtocol[];
  /** Static protocols holding the router's own announcements (default ann4, ann6). */
  readonly localProtocols?: readonly string[];
}

/**
 * `show route all`: BGP paths and the router's own announcements. Other routes (device, kernel) are
 * ignored. BIRD keeps one path per peer and marks the best with "*"; it does not mark multipath members.
 */
export function parseBirdRoutes(text: string, context: BirdRouteContext = {}): Map<string, BgpRoute> {
  const localProtocols = context.localProtocols ?? ['ann4', 'ann6'];
  const peers = new Map((context.protocols ?? []).map((p) => [p.name, p.session.peer]));
  const byPrefix = new Map<string, BgpPath[]>();
  let prefix: string | undefined;
  let path: PathDraft | undefined;
  const flush = (): void => {
    if (!path || !prefix) return;
    const isBgp = path.type.startsWith('BGP');
    const isLocal = localProtocols.includes(path.proto);
    if (isBgp || isLocal) {
      const list = byPrefix.get(prefix) ?? [];
      list.push(toPath(path, isLocal && !isBgp, peers));
      byPrefix.set(prefix, list);
    }
    path = undefined;
  };
  for (const line of body(text)) {
    if (/^Table \S+:/.test(line) || line.trim() === '') {
      flush();
      if (line.startsWith('Table ')) prefix = undefined;
      continue;
    }
    // "NET  TYPE [PROTO TIME (from X)] * (PREF) [AS…]"; further paths of the same net start with blanks.
    const head = /^(\S+)?\s+(?:\S+\s+)?\[(\S+)\s[^\]]*\](\s+\*)?\s+\((\d+)/.exec(line);
    if (head && !line.startsWith('\t')) {
      flush();
      if (head[1]) prefix = normalizePrefix(head[1]);
      path = { proto: head[2]!, best: head[3] !== undefined, type: '', attrs: new Map() };
      continue;
    }
    if (!path) continue;
    const attr = /^\s+([A-Za-z][\w.]*):\s*(.*)$/.exec(line);
    if (attr) {
      if (attr[1] === 'Type') path.type = attr[2]!.trim();
      else path.attrs.set(attr[1]!, attr[2]!.trim());
    }
  }
  flush();
  return new Map([...byPrefix].map(([p, paths]) => [p, routeFromPaths(p, paths)]));
}

function toPath(d: PathDraft, local: boolean, peers: ReadonlyMap<string, string>): BgpPath {
  const a = d.attrs;
  const hops = (a.get('BGP.next_hop') ?? '').split(/\s+/).filter(Boolean).map(normalizeAddress);
  const global = hops.find((h) => !h.startsWith('fe80:'));
  const linkLocal = hops.find((h) => h.startsWith('fe80:'));
  const asPath = (a.get('BGP.as_path') ?? '').match(/\d+/g)?.map(Number) ?? [];
  const origin = originOf(a.get('BGP.origin'));
  const localPref = a.get('BGP.local_pref');
  const med = a.get('BGP.med');
  const communities = [...(a.get('BGP.community') ?? '').matchAll(/\((\d+),\s*(\d+)\)/g)].map((m) =>
    formatCommunityValue(Number(m[1]) * 0x10000 + Number(m[2])),
  );
  const large = [...(a.get('BGP.large_community') ?? '').matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}:${m[3]}`);
  return {
    ...(!local && { peer: peers.get(d.proto) ?? d.proto }),
    local,
    ...(global && { nexthop: global }),
    ...(linkLocal && { nexthopLinkLocal: linkLocal }),
    best: d.best,
    multipath: false,
    asPath,
    ...(origin && { origin }),
    ...(localPref !== undefined && { localPref: Number(localPref) }),
    ...(med !== undefined && { med: Number(med) }),
    communities,
    largeCommunities: large,
  };
}
