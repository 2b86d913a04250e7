// FRR configuration (one file per daemon: zebra.conf, bgpd.conf, bfdd.conf) rendered from the lab's
// BgpRouterConfig. Pure: startup writes these files; announce/withdraw send the same lines via vtysh.
import { familyOf, normalizePrefix } from './address.ts';
import { communityValue, formatCommunityValue, normalizeLargeCommunity } from './community.ts';
import { timersOf, type AddressFamily, type Announcement, type BgpRouterConfig } from './router.ts';

export interface FrrConfigFiles {
  readonly zebra: string;
  readonly bgpd: string;
  /** Present when some neighbor or listen range uses BFD (bfdd must run). */
  readonly bfdd?: string;
}

export const BFD_PROFILE = 'lab';

/** Whether this configuration needs bfdd. */
export function frrNeedsBfd(config: BgpRouterConfig): boolean {
  return [...(config.neighbors ?? []), ...(config.listenRanges ?? [])].some((n) => n.bfd);
}

export function renderFrrConfig(config: BgpRouterConfig, hostname: string): FrrConfigFiles {
  validate(config);
  const header = [`hostname ${hostname}`, 'log stdout informational', 'log timestamp precision 3', '!'];
  const t = timersOf(config);
  const maxPaths = config.maxPaths ?? 8;
  const bfdLine = config.bfd ? `bfd profile ${BFD_PROFILE}` : 'bfd';
  const bgp: string[] = [...header];
  for (const a of config.announcements ?? []) bgp.push(...announcementRouteMap(a), '!');
  bgp.push(`router bgp ${config.asn}`);
  bgp.push(
    ` bgp router-id ${config.routerId}`,
    // FRR 8 drops eBGP routes without an explicit policy unless told otherwise.
    ' no bgp ebgp-requires-policy',
    // Originate announcements even without a matching route in the RIB.
    ' no bgp network import-check',
    ' no bgp default ipv4-unicast',
    ` timers bgp ${t.keepalive} ${t.hold}`,
  );
  if (maxPaths > 1) bgp.push(' bgp bestpath as-path multipath-relax');
  if (config.gracefulRestart) bgp.push(' bgp graceful-restart');

  const activate: Record<AddressFamily, string[]> = { ipv4: [], ipv6: [] };
  (config.listenRanges ?? []).forEach((r, i) => {
    const group = `RANGE${i + 1}`;
    bgp.push(` neighbor ${group} peer-group`, ` neighbor ${group} remote-as ${r.asn ?? 'external'}`, ` neighbor ${group} timers connect ${t.connectRetry}`);
    if (r.password) bgp.push(` neighbor ${group} password ${r.password}`);
    if (r.bfd) bgp.push(` neighbor ${group} ${bfdLine}`);
    bgp.push(` bgp listen range ${normalizePrefix(r.prefix)} peer-group ${group}`);
    for (const f of r.families ?? [familyOf(r.prefix)]) activate[f].push(group);
  });
  for (const n of config.neighbors ?? []) {
    const a = n.address;
    bgp.push(` neighbor ${a} remote-as ${n.asn}`, ` neighbor ${a} timers connect ${t.connectRetry}`);
    if (n.password) bgp.push(` neighbor ${a} password ${n.password}`);
    if (n.passive) bgp.push(` neighbor ${a} passive`);
    if (n.ebgpMultihop) bgp.push(` neighbor ${a} ebgp-multihop ${n.ebgpMultihop}`);
    if (n.bfd) bgp.push(` neighbor ${a} ${bfdLine}`);
    for (const f of n.families ?? [familyOf(a)]) activate[f].push(a);
  }
  for (const family of ['ipv4', 'ipv6'] as const) {
    bgp.push(` address-family ${family} unicast`);
    if (maxPaths > 1) bgp.push(`  maximum-paths ${maxPaths}`);
    for (const a of config.announcements ?? []) if (familyOf(a.prefix) === family) bgp.push(`  ${networkLine(a)}`);
    for (const peer of activate[family]) bgp.push(`  neighbor ${peer} activate`);
    bgp.push(' exit-address-family');
  }
  bgp.push('exit', '!', 'end', '');

  const files: { zebra: string; bgpd: string; bfdd?: string } = { zebra: [...header, 'end', ''].join('\n'), bgpd: bgp.join('\n') };
  if (frrNeedsBfd(config)) {
    const bfd = [...header, 'bfd'];
    if (config.bfd) {
      bfd.push(
        ` profile ${BFD_PROFILE}`,
        `  receive-interval ${config.bfd.receiveIntervalMs ?? 300}`,
        `  transmit-interval ${config.bfd.transmitIntervalMs ?? 300}`,
        `  detect-multiplier ${config.bfd.detectMultiplier ?? 3}`,
        ' exit',
      );
    }
    bfd.push('exit', '!', 'end', '');
    files.bfdd = bfd.join('\n');
  }
  return files;
}

export function routeMapName(prefix: string): string {
  return `ANN-${normalizePrefix(prefix).replace(/[^0-9a-zA-Z]+/g, '_')}`;
}

/** The route-map that gives an announcement its attributes (lines at configuration level). */
export function announcementRouteMap(a: Announcement): string[] {
  const lines = [`route-map ${routeMapName(a.prefix)} permit 10`, ` set origin ${a.origin ?? 'igp'}`];
  if (a.communities?.length) lines.push(` set community ${a.communities.map((c) => formatCommunityValue(communityValue(c))).join(' ')}`);
  if (a.largeCommunities?.length) lines.push(` set large-community ${a.largeCommunities.map(normalizeLargeCommunity).join(' ')}`);
  if (a.localPref !== undefined) lines.push(` set local-preference ${a.localPref}`);
  if (a.med !== undefined) lines.push(` set metric ${a.med}`);
  lines.push('exit');
  return lines;
}

/** The `network` line (inside `address-family <family> unicast`). */
export function networkLine(a: Announcement): string {
  return `network ${normalizePrefix(a.prefix)} route-map ${routeMapName(a.prefix)}`;
}

/** vtysh commands that originate an announcement at runtime (replacing one for the same prefix if `replacing`). */
export function announceCommands(asn: number, a: Announcement, replacing: boolean): string[] {
  const family = familyOf(a.prefix);
  return [
    'configure terminal',
    ...(replacing ? withdrawLines(asn, a.prefix) : []),
    ...announcementRouteMap(a),
    `router bgp ${asn}`,
    `address-family ${family} unicast`,
    networkLine(a),
    'end',
  ];
}

/** vtysh commands that stop originating a prefix. */
export function withdrawCommands(asn: number, prefix: string): string[] {
  return ['configure terminal', ...withdrawLines(asn, prefix), 'end'];
}

function withdrawLines(asn: number, prefix: string): string[] {
  return [
    `router bgp ${asn}`,
    `address-family ${familyOf(prefix)} unicast`,
    `no network ${normalizePrefix(prefix)}`,
    'exit-address-family',
    'exit',
    `no route-map ${routeMapName(prefix)}`,
  ];
}

function validate(config: BgpRouterConfig): void {
  const words = [config.routerId, ...(config.neighbors ?? []).flatMap((n) => [n.address, n.password ?? '']), ...(config.listenRanges ?? []).map((r) => r.password ?? '')];
  for (const w of words) if (/[\s!#]/.test(w)) throw new Error(`FRR config: "${w}" must not contain spaces, "!" or "#"`);
}
