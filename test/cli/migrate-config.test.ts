// `ironlb migrate-config` as a user runs it: a legacy ConfigMap file in, CRD YAML out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/parse.ts';
import { sources } from '../../src/config/fixtures.ts';
import { configFingerprint } from '../../src/k8s/config-watcher.ts';

const legacy = `peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
  hold-time: 30s
bgp-communities:
  vip: 64500:100
address-pools:
- name: web
  protocol: bgp
  addresses:
  - 192.168.10.0/24
  bgp-advertisements:
  - aggregation-length: 32
    communities: [vip]
- name: lan
  protocol: layer2
  addresses:
  - 192.168.20.10-192.168.20.50
  auto-assign: false
`;

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, ['bin/ironlb.js', 'migrate-config', ...args], { encoding: 'utf8', input });
}


describe('ironlb migrate-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-migrate-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, legacy);

  it('prints CRDs that parse to the same configuration as the ConfigMap', () => {
    const r = run(['--file', file]);
    assert.equal(r.status, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string });
    const byKind = (k: string) => docs.filter((d) => d.kind === k);
    assert.deepEqual(new Set(docs.map((d) => d.kind)), new Set(['IPAddressPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer', 'Community']));
    const fromCRDs = parseConfig(
      sources({
        ipAddressPools: byKind('IPAddressPool'),
        l2Advertisements: byKind('L2Advertisement'),
        bgpAdvertisements: byKind('BGPAdvertisement'),
        bgpPeers: byKind('BGPPeer'),
        communities: byKind('Community'),
      }),
    );
    const fromLegacy = parseConfig(
      sources({ legacyConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config', namespace: 'metallb-system' }, data: { config: legacy } } }),
    );
    assert.ok(fromCRDs.ok && fromLegacy.ok);
    if (fromCRDs.ok && fromLegacy.ok) assert.equal(configFingerprint(fromCRDs.config), configFingerprint(fromLegacy.config));
  });

  it('reads a whole ConfigMap manifest from stdin', () => {
    const manifest = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: metallb-system\ndata:\n  config: |\n${legacy.replace(/^/gm, '    ')}`;
    const r = run(['--file', '-'], manifest);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /kind: IPAddressPool/);
  });

  it('answers garbage with an error naming the ConfigMap and exits non-zero', () => {
    writeFileSync(file, 'address-pools:\n- name: x\n  protocol: layer9\n  addresses: [10.0.0.0/33]\n');
    const r = run(['--file', file]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ConfigMap metallb-system\/config/);
    assert.match(r.stderr, /layer9/);
    assert.equal(r.stdout, '');
  });

  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
