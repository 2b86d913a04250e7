// BIRD 2 configuration rendered from the lab's BgpRouterConfig. Pure.
//
// Names the parser relies on: static neighbors are protocols `nbr<N>`, listen ranges `range<N>` whose
// dynamic sessions are named `dyn<N>_<M>`, announcements live in static protocols `ann4`/`ann6`.
// eBGP in BIRD needs explicit filters: every BGP channel imports all and exports only the announcements.
// Routes reach the kernel through `protocol kernel` with `merge paths` (ECMP); only BGP-learned routes.
import { familyOf, normalizePrefix } from './address.ts';
import { communityValue, largeCommunityParts } from './community.ts';
import { timersOf, type AddressFamily, type Announcement, type BgpRouterConfig } from './router.ts';

export const BIRD_STATIC = { ipv4: 'ann4', ipv6: 'ann6' } as const;

export function renderBirdConfig(config: BgpRouterConfig): string {
  validate(config);
  const t = timersOf(config);
  const maxPaths = config.maxPaths ?? 8;
  const out: string[] = [`router id ${config.routerId};`, 'log stderr all;', '', 'protocol device { scan time 10; }', ''];
  if (config.installRoutes ?? true) {
    for (const family of ['ipv4', 'ipv6'] as const) {
      out.push(
        `protocol kernel kernel${family === 'ipv4' ? 4 : 6} {`,
        `  ${family} { import none; export where source = RTS_BGP; };`,
        ...(maxPaths > 1 ? [`  merge paths on limit ${maxPaths};`] : []),
        '}',
      );
    }
    out.push('');
  }
  const anyBfd = [...(config.neighbors ?? []), ...(config.listenRanges ?? [])].some((n) => n.bfd);
  if (anyBfd) {
    const b = config.bfd ?? {};
    out.push(
      'protocol bfd {',
      '  interface "*" {',
      `    min rx interval ${b.receiveIntervalMs ?? 300} ms;`,
      `    min tx interval ${b.transmitIntervalMs ?? 300} ms;`,
      `    multiplier ${b.detectMultiplier ?? 3};`,
      '  };',
      '}',
      '',
    );
  }
  for (const family of ['ipv4', 'ipv6'] as const) {
    out.push(`protocol static ${BIRD_STATIC[family]} {`, `  ${family};`);
    for (const a of config.announcements ?? []) if (familyOf(a.prefix) === family) out.push(`  ${staticRoute(a)}`);
    out.push('}', '');
  }
  out.push(
    'template bgp lab_peer {',
    `  local${config.port ? ` port ${config.port}` : ''} as ${config.asn};`,
    `  hold time ${t.hold};`,
    `  keepalive time ${t.keepalive};`,
    `  connect retry time ${t.connectRetry};`,
    '  connect delay time 1;',
    '  error wait time 1, 5;',
    ...(config.gracefulRestart ? ['  graceful restart on;'] : []), // default: aware (helper)
    '}',
    '',
  );
  const channels = (families: readonly AddressFamily[]): string[] =>
    families.map((f) => `  ${f} { import all; export where proto = "${BIRD_STATIC[f]}"; next hop self; };`);
  (config.neighbors ?? []).forEach((n, i) => {
    out.push(`protocol bgp nbr${i + 1} from lab_peer {`, `  neighbor ${n.address} as ${n.asn};`);
    if (n.password) out.push(`  password "${n.password}";`);
    if (n.passive) out.push('  passive on;');
    if (n.bfd) out.push('  bfd on;');
    if (n.ebgpMultihop) out.push(`  multihop ${n.ebgpMultihop};`);
    out.push(...channels(n.families ?? [familyOf(n.address)]), '}', '');
  });
  (config.listenRanges ?? []).forEach((r, i) => {
    out.push(
      `protocol bgp range${i + 1} from lab_peer {`,
      `  neighbor range ${normalizePrefix(r.prefix)} ${r.asn === undefined ? 'external' : `as ${r.asn}`};`,
      `  dynamic name "dyn${i + 1}_";`,
    );
    if (r.password) out.push(`  password "${r.password}";`);
    if (r.bfd) out.push('  bfd on;');
    out.push(...channels(r.families ?? [familyOf(r.prefix)]), '}', '');
  });
  return out.join('\n');
}

/** A static route carrying the announcement's BGP attributes. */
export function staticRoute(a: Announcement): string {
  const attrs = [`bgp_origin = ORIGIN_${(a.origin ?? 'igp').toUpperCase()};`];
  for (const c of a.communities ?? []) {
    const v = communityValue(c);
    attrs.push(`bgp_community.add((${Math.floor(v / 0x10000)},${v % 0x10000}));`);
  }
  for (const l of a.largeCommunities ?? []) attrs.push(`bgp_large_community.add((${largeCommunityParts(l).join(',')}));`);
  if (a.localPref !== undefined) attrs.push(`bgp_local_pref = ${a.localPref};`);
  if (a.med !== undefined) attrs.push(`bgp_med = ${a.med};`);
  return `route ${normalizePrefix(a.prefix)} blackhole { ${attrs.join(' ')} };`;
}

function validate(config: BgpRouterConfig): void {
  for (const n of config.neighbors ?? []) {
    if (n.ebgpMultihop && n.bfd) throw new Error(`BIRD config: neighbor ${n.address}: multihop BGP with BFD needs a local address, which the lab does not set`);
  }
  for (const n of [...(config.neighbors ?? []), ...(config.listenRanges ?? [])]) {
    if (n.password !== undefined && /["\\\n]/.test(n.password)) throw new Error('BIRD config: a password must not contain quotes, backslashes or newlines');
  }
}
