// The three renderers from one BgpRouterConfig: the lines tests depend on, and each daemon's own
// check mode accepting the result (bird -p, gobgpd --dry-run, FRR -C) when the daemon is installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { haveExecutable } from '../../../src/lab/network/command.ts';
import { renderBirdConfig, staticRoute } from '../../../src/lab/routers/bird-config.ts';
import { announceCommands, renderFrrConfig, withdrawCommands } from '../../../src/lab/routers/frr-config.ts';
import { configErrors } from '../../../src/lab/routers/frr.ts';
import { gobgpAddArgs, gobgpDelArgs, renderGobgpConfig } from '../../../src/lab/routers/gobgp-config.ts';
import type { BgpRouterConfig } from '../../../src/lab/routers/router.ts';

const full: BgpRouterConfig = {
  asn: 64500,
  routerId: '10.99.0.1',
  gracefulRestart: true,
  bfd: { receiveIntervalMs: 100, transmitIntervalMs: 100, detectMultiplier: 3 },
  neighbors: [
    { address: '10.99.0.11', asn: 64512, password: 's3cret', passive: true, bfd: true },
    { address: 'fd99::11', asn: 64512, ebgpMultihop: 2 },
  ],
  listenRanges: [
    { prefix: '10.99.0.0/24', asn: 64512, bfd: true },
    { prefix: 'fd99::/64', asn: 64512 },
  ],
  announcements: [
    { prefix: '10.0.0.5', communities: ['64512:100', 'no-export'], largeCommunities: ['64512:1:2'], med: 5, localPref: 200, origin: 'egp' },
    { prefix: 'fd00::5/128' },
  ],
};
const noBfd: BgpRouterConfig = {
  ...full,
  bfd: undefined,
  neighbors: full.neighbors!.map((n) => ({ ...n, bfd: false })),
  listenRanges: full.listenRanges!.map((r) => ({ ...r, bfd: false })),
};

const scratch = mkdtempSync(join(tmpdir(), 'ironlb-router-config-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const lines = (text: string): string[] => text.split('\n').map((l) => l.trim());

describe('FRR config', () => {
  const files = renderFrrConfig(full, 'router');

  it('has what FRR 8 needs for lab sessions', () => {
    const bgpd = lines(files.bgpd);
    for (const want of [
      'router bgp 64500',
      'bgp router-id 10.99.0.1',
      'no bgp ebgp-requires-policy',
      'no bgp default ipv4-unicast',
      'timers bgp 3 9',
      'bgp bestpath as-path multipath-relax',
      'bgp graceful-restart',
      'maximum-paths 8',
      'neighbor RANGE1 peer-group',
      'bgp listen range 10.99.0.0/24 peer-group RANGE1',
      'neighbor RANGE1 bfd profile lab',
      'neighbor 10.99.0.11 remote-as 64512',
      'neighbor 10.99.0.11 timers connect 1',
      'neighbor 10.99.0.11 password s3cret',
      'neighbor 10.99.0.11 passive',
      'neighbor fd99::11 ebgp-multihop 2',
      'network 10.0.0.5/32 route-map ANN-10_0_0_5_32',
      'set community 64512:100 65535:65281',
      'set large-community 64512:1:2',
      'set origin egp',
      'set metric 5',
      'set local-preference 200',
    ]) {
      assert.ok(bgpd.includes(want), `bgpd.conf has "${want}"`);
    }
    // Each neighbor is activated in its own family only.
    const v6 = files.bgpd.slice(files.bgpd.indexOf('address-family ipv6 unicast'));
    assert.ok(lines(v6).includes('neighbor fd99::11 activate'));
    assert.ok(!lines(v6).includes('neighbor 10.99.0.11 activate'));
    assert.match(files.bfdd ?? '', /profile lab\n\s+receive-interval 100\n\s+transmit-interval 100\n\s+detect-multiplier 3/);
    assert.equal(renderFrrConfig(noBfd, 'router').bfdd, undefined, 'no bfdd without BFD neighbors');
  });

  it('runtime announce/withdraw commands', () => {
    const a = full.announcements![0]!;
    assert.deepEqual(announceCommands(64500, a, false).slice(0, 2), ['configure terminal', 'route-map ANN-10_0_0_5_32 permit 10']);
    const replace = announceCommands(64500, a, true);
    assert.ok(replace.indexOf('no network 10.0.0.5/32') < replace.indexOf('network 10.0.0.5/32 route-map ANN-10_0_0_5_32'));
    assert.deepEqual(withdrawCommands(64500, 'fd00::5/128'), [
      'configure terminal',
      'router bgp 64500',
      'address-family ipv6 unicast',
      'no network fd00::5/128',
      'exit-address-family',
      'exit',
      'no route-map ANN-fd00_5_128',
      'end',
    ]);
  });

  it('refuses words that would break the config', () => {
    assert.throws(() => renderFrrConfig({ ...full, neighbors: [{ address: '10.0.0.1', asn: 1, password: 'a b' }] }, 'r'), /must not contain spaces/);
  });

  const frrReason = process.getuid?.() !== 0 ? 'FRR dry runs need root' : !existsSync('/usr/lib/frr/bgpd') ? 'FRR is not installed' : undefined;
  it('bgpd and bfdd accept it (-C dry run)', { skip: frrReason }, () => {
    const dir = mkdtempSync(join(scratch, 'frr-'));
    const frr = { uid: Number(spawnSync('id', ['-u', 'frr']).stdout), gid: Number(spawnSync('id', ['-g', 'frr']).stdout) };
    chownSync(dir, frr.uid, frr.gid);
    for (const daemon of ['bgpd', 'bfdd'] as const) {
      const file = join(dir, `${daemon}.conf`);
      writeFileSync(file, files[daemon]!);
      chownSync(file, frr.uid, frr.gid);
      const r = spawnSync(`/usr/lib/frr/${daemon}`, ['-C', '-f', file, '-u', 'frr', '-g', 'frr', '--vty_socket', dir, '-i', join(dir, `${daemon}.pid`)], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      // Even a dry run leaves /var/tmp/frr/<daemon>.<pid> behind.
      if (r.pid) rmSync(`/var/tmp/frr/${daemon}.${r.pid}`, { recursive: true, force: true });
      assert.equal(r.status, 0, `${daemon} -C: ${r.stdout}${r.stderr}`);
      // The dry run exits 0 even for bad lines; it only reports them ("No such command on config line N").
      assert.deepEqual(configErrors(r.stdout + r.stderr), [], `${daemon} accepts every line`);
    }
  });
});

describe('BIRD config', () => {
  it('names protocols as the parser expects, filters eBGP explicitly, merges ECMP paths into the kernel', () => {
    const text = renderBirdConfig(full);
    for (const want of [
      'router id 10.99.0.1;',
      'merge paths on limit 8;',
      'ipv4 { import none; export where source = RTS_BGP; };',
      'protocol static ann4 {',
      'protocol bgp nbr1 from lab_peer {',
      'neighbor range 10.99.0.0/24 as 64512;',
      'dynamic name "dyn1_";',
      'password "s3cret";',
      'passive on;',
      'bfd on;',
      'multihop 2;',
      'graceful restart on;',
      'connect retry time 1;',
      'ipv4 { import all; export where proto = "ann4"; next hop self; };',
    ]) {
      assert.ok(lines(text).includes(want), `bird.conf has "${want}"`);
    }
    assert.equal(
      staticRoute(full.announcements![0]!),
      'route 10.0.0.5/32 blackhole { bgp_origin = ORIGIN_EGP; bgp_community.add((64512,100)); bgp_community.add((65535,65281)); bgp_large_community.add((64512,1,2)); bgp_local_pref = 200; bgp_med = 5; };',
    );
    assert.doesNotMatch(renderBirdConfig({ ...full, installRoutes: false }), /protocol kernel/);
    assert.match(renderBirdConfig({ ...full, listenRanges: [{ prefix: '10.99.0.0/24' }] }), /neighbor range 10\.99\.0\.0\/24 external;/);
  });

  it('refuses what BIRD would reject later', () => {
    assert.throws(() => renderBirdConfig({ ...full, neighbors: [{ address: '10.0.0.1', asn: 1, bfd: true, ebgpMultihop: 2 }] }), /multihop BGP with BFD/);
    assert.throws(() => renderBirdConfig({ ...full, neighbors: [{ address: '10.0.0.1', asn: 1, password: 'a"b' }] }), /quotes/);
  });

  it('bird -p accepts it', { skip: haveExecutable('bird') ? undefined : 'bird is not installed' }, () => {
    for (const [name, config] of [
      ['full', full],
      ['no announcements', { asn: 1, routerId: '1.1.1.1' }],
    ] as const) {
      const file = join(scratch, `bird-${name.replace(' ', '-')}.conf`);
      writeFileSync(file, renderBirdConfig(config));
      const r = spawnSync('bird', ['-p', '-c', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    }
  });
});

describe('GoBGP config', () => {
  it('renders neighbors, dynamic neighbors and what GoBGP cannot do', () => {
    const text = renderGobgpConfig(noBfd);
    for (const want of [
      'as = 64500',
      'router-id = "10.99.0.1"',
      '[global.use-multiple-paths.config]',
      'neighbor-address = "10.99.0.11"',
      'auth-password = "s3cret"',
      'passive-mode = true',
      'connect-retry = 1',
      'hold-time = 9',
      'keepalive-interval = 3',
      'afi-safi-name = "ipv6-unicast"',
      '[[peer-groups]]',
      '[[dynamic-neighbors]]',
      'prefix = "10.99.0.0/24"',
      'peer-group = "range1"',
      'multihop-ttl = 2',
    ]) {
      assert.ok(lines(text).includes(want), `gobgpd.toml has "${want}"`);
    }
    assert.throws(() => renderGobgpConfig(full), /GoBGP has no BFD/);
    assert.throws(() => renderGobgpConfig({ ...noBfd, listenRanges: [{ prefix: '10.0.0.0/8' }] }), /needs the peers' ASN/);
  });

  it('announcements through the CLI default to origin igp', () => {
    assert.deepEqual(gobgpAddArgs({ prefix: '10.0.0.5', communities: ['64512:100', 'no-export'], largeCommunities: ['64512:1:2'], med: 5 }), [
      'global', 'rib', 'add', '10.0.0.5/32', 'origin', 'igp', 'community', '64512:100,65535:65281', 'large-community', '64512:1:2', 'med', '5', '-a', 'ipv4',
    ]);
    assert.deepEqual(gobgpDelArgs('fd00::5/128'), ['global', 'rib', 'del', 'fd00::5/128', '-a', 'ipv6']);
  });

  it('gobgpd --dry-run accepts it', { skip: haveExecutable('gobgpd') ? undefined : 'gobgpd is not installed' }, () => {
    const file = join(scratch, 'gobgpd.toml');
    writeFileSync(file, renderGobgpConfig(noBfd));
    const r = spawnSync('gobgpd', ['-f', file, '-t', 'toml', '--dry-run'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
