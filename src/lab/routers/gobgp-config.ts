// GoBGP (gobgpd 3.x) TOML configuration rendered from the lab's BgpRouterConfig, and the `gobgp global
// rib add` arguments for announcements (gobgpd's config file has no static routes). Pure.
import { familyOf, normalizePrefix } from './address.ts';
import { communityValue, formatCommunityValue, normalizeLargeCommunity } from './community.ts';
import { timersOf, type AddressFamily, type Announcement, type BgpRouterConfig } from './router.ts';

const AFI_SAFI: Readonly<Record<AddressFamily, string>> = { ipv4: 'ipv4-unicast', ipv6: 'ipv6-unicast' };

const q = (s: string): string => JSON.stringify(s); // TOML basic strings escape like JSON

export function renderGobgpConfig(config: BgpRouterConfig): string {
  const t = timersOf(config);
  const maxPaths = config.maxPaths ?? 8;
  const out: string[] = [
    '[global.config]',
    `  as = ${config.asn}`,
    `  router-id = ${q(config.routerId)}`,
    `  port = ${config.port ?? 179}`,
  ];
  if (maxPaths > 1) out.push('[global.use-multiple-paths.config]', '  enabled = true');
  const common = (section: string, families: readonly AddressFamily[]): string[] => {
    const lines = [
      `  [${section}.timers.config]`,
      `    connect-retry = ${t.connectRetry}`,
      `    hold-time = ${t.hold}`,
      `    keepalive-interval = ${t.keepalive}`,
    ];
    if (config.gracefulRestart) lines.push(`  [${section}.graceful-restart.config]`, '    enabled = true', '    restart-time = 120');
    for (const f of families) {
      lines.push(`  [[${section}.afi-safis]]`, `    [${section}.afi-safis.config]`, `      afi-safi-name = ${q(AFI_SAFI[f])}`);
      if (config.gracefulRestart) lines.push(`    [${section}.afi-safis.mp-graceful-restart.config]`, '      enabled = true');
    }
    return lines;
  };
  for (const n of config.neighbors ?? []) {
    if (n.bfd) throw new Error('GoBGP has no BFD: drop bfd for neighbor ' + n.address);
    out.push('', '[[neighbors]]', '  [neighbors.config]', `    neighbor-address = ${q(n.address)}`, `    peer-as = ${n.asn}`);
    if (n.password) out.push(`    auth-password = ${q(n.password)}`);
    if (n.passive) out.push('  [neighbors.transport.config]', '    passive-mode = true');
    if (n.ebgpMultihop) out.push('  [neighbors.ebgp-multihop.config]', '    enabled = true', `    multihop-ttl = ${n.ebgpMultihop}`);
    out.push(...common('neighbors', n.families ?? [familyOf(n.address)]));
  }
  (config.listenRanges ?? []).forEach((r, i) => {
    if (r.bfd) throw new Error('GoBGP has no BFD: drop bfd for listen range ' + r.prefix);
    if (r.asn === undefined) throw new Error(`GoBGP needs the peers' ASN for listen range ${r.prefix}`);
    const group = `range${i + 1}`;
    out.push('', '[[peer-groups]]', '  [peer-groups.config]', `    peer-group-name = ${q(group)}`, `    peer-as = ${r.asn}`);
    if (r.password) out.push(`    auth-password = ${q(r.password)}`);
    out.push(...common('peer-groups', r.families ?? [familyOf(r.prefix)]));
    out.push('', '[[dynamic-neighbors]]', '  [dynamic-neighbors.config]', `    prefix = ${q(normalizePrefix(r.prefix))}`, `    peer-group = ${q(group)}`);
  });
  return `${out.join('\n')}\n`;
}

/** Arguments after `gobgp -p PORT` that originate the announcement. */
export function gobgpAddArgs(a: Announcement): string[] {
  const prefix = normalizePrefix(a.prefix);
  const args = ['global', 'rib', 'add', prefix, 'origin', a.origin ?? 'igp'];
  if (a.communities?.length) args.push('community', a.communities.map((c) => formatCommunityValue(communityValue(c))).join(','));
  if (a.largeCommunities?.length) args.push('large-community', a.largeCommunities.map(normalizeLargeCommunity).join(','));
  if (a.med !== undefined) args.push('med', String(a.med));
  if (a.localPref !== undefined) args.push('local-pref', String(a.localPref));
  args.push('-a', familyOf(prefix));
  return args;
}

export function gobgpDelArgs(prefix: string): string[] {
  const p = normalizePrefix(prefix);
  return ['global', 'rib', 'del', p, '-a', familyOf(p)];
}
