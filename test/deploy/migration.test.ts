// Switching from MetalLB to IronLB, as deploy/MIGRATION.md tells a user to: MetalLB's configuration and
// Services holding the IPs MetalLB gave them already exist; MetalLB's pods are gone; IronLB is installed
// (from the chart, its controller running as its ServiceAccount, its webhook live). Every Service keeps
// its IP, new Services get free ones, and the configuration is accepted: by the controller (Valid) and
// by the webhook (re-applying every object). For MetalLB <= 0.12, the legacy ConfigMap is read as it is,
// then moved to CRDs with `ironlb migrate-config` without any Service losing its IP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import { waitFor } from '../harness/cluster.ts';
import { apply } from './cluster-ops.ts';
import { TestInstallation, obj } from './installation.ts';
import { type KObj, loadDocs, repoRoot } from './manifests.ts';

const execFileAsync = promisify(execFile);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface OldService {
  name: string;
  ips: string[];
  annotations?: Record<string, string>;
  ports?: number[];
  loadBalancerIP?: string;
  ipFamilies?: string[];
}

/** Creates a LoadBalancer Service and writes the status MetalLB had written (no ipMode: older MetalLB). */
async function serviceAsMetalLBLeftIt(inst: TestInstallation, namespace: string, s: OldService): Promise<void> {
  await inst.core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: s.name, annotations: s.annotations },
      spec: {
        type: 'LoadBalancer',
        loadBalancerClass: inst.lbClass,
        ports: (s.ports ?? [80]).map((port) => ({ port, name: `p${port}`, protocol: 'TCP' })),
        selector: { app: s.name },
        ...(s.loadBalancerIP ? { loadBalancerIP: s.loadBalancerIP } : {}),
        ...(s.ipFamilies ? { ipFamilies: s.ipFamilies, ipFamilyPolicy: 'SingleStack' } : {}),
      },
    },
  });
  if (s.ips.length > 0) {
    await inst.core.patchNamespacedServiceStatus({ name: s.name, namespace, body: { status: { loadBalancer: { ingress: s.ips.map((ip) => ({ ip })) } } } }, mergePatch);
  }
}

const ipsOf = (s: V1Service): string[] => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');

async function currentIPs(inst: TestInstallation, namespace: string, names: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of names) out[name] = ipsOf(await inst.core.readNamespacedService({ name, namespace }));
  return out;
}

async function configState(inst: TestInstallation): Promise<{ result?: string; errorSummary?: string } | undefined> {
  try {
    const o = (await inst.custom.getNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: inst.namespace, plural: 'configurationstates', name: 'controller' })) as {
      status?: { result?: string; errorSummary?: string };
    };
    return o.status;
  } catch {
    return undefined;
  }
}

describe('migration from MetalLB (CRD configuration, MetalLB >= 0.13)', () => {
  let inst: TestInstallation;
  let svcNs: string;
  let config: KObj[];
  const old: OldService[] = [
    { name: 'web', ips: ['198.51.100.37'], annotations: { 'metallb.io/ip-allocated-from-pool': 'production' } },
    { name: 'api', ips: ['198.51.100.12'] },
    { name: 'legacy', ips: ['198.51.100.70'], annotations: { 'metallb.universe.tf/address-pool': 'staging' } },
    { name: 'pinned', ips: ['198.51.100.50'], loadBalancerIP: '198.51.100.50' },
    { name: 'shared-a', ips: ['198.51.100.40'], annotations: { 'metallb.universe.tf/allow-shared-ip': 'key-1' }, ports: [80] },
    { name: 'shared-b', ips: ['198.51.100.40'], annotations: { 'metallb.universe.tf/allow-shared-ip': 'key-1' }, ports: [443] },
    { name: 'six', ips: ['2001:db8:42::17'], ipFamilies: ['IPv6'] },
  ];

  before(async () => {
    inst = await TestInstallation.prepare('migrate');
    svcNs = inst.otherNamespace;
    const ns = inst.namespace;
    // MetalLB's configuration, as its documentation writes it.
    config = [
      obj('IPAddressPool', 'production', { addresses: ['198.51.100.0/26'] }, { namespace: ns }),
      obj('IPAddressPool', 'staging', { addresses: ['198.51.100.64-198.51.100.95'], autoAssign: false }, { namespace: ns }),
      obj('IPAddressPool', 'v6', { addresses: ['2001:db8:42::/120'] }, { namespace: ns }),
      obj('L2Advertisement', 'l2', { ipAddressPools: ['production', 'v6'] }, { namespace: ns }),
      obj('BFDProfile', 'fast', { receiveInterval: 300, transmitInterval: 300 }, { namespace: ns }),
      obj('Community', 'communities', { communities: [{ name: 'no-export', value: '65535:65281' }] }, { namespace: ns }),
      obj('BGPPeer', 'tor', { myASN: 64512, peerASN: 64513, peerAddress: '10.0.0.1', password: 'swordfish', bfdProfile: 'fast', holdTime: '90s' }, { namespace: ns, version: 'v1beta1' }),
      obj('BGPAdvertisement', 'bgp', { ipAddressPools: ['staging'], communities: ['no-export'], localPref: 100, aggregationLength: 32 }, { namespace: ns }),
    ];
    for (const o of config) await inst.create(o);
    for (const s of old) await serviceAsMetalLBLeftIt(inst, svcNs, s);
    await serviceAsMetalLBLeftIt(inst, svcNs, { name: 'pending', ips: [] });
    // MetalLB is gone; IronLB is installed into its namespace and started.
    await inst.install();
    await inst.startController();
  });
  after(async () => {
    await inst?.cleanup();
  });

  test('every Service keeps its IP; a waiting one gets a free address', async () => {
    const pending = await waitFor(async () => ipsOf(await inst.core.readNamespacedService({ name: 'pending', namespace: svcNs }))[0], {
      timeoutMs: 20_000,
      what: `the pending Service to get an IP (${inst.controllerLog.slice(-1500)})`,
    });
    const now = await currentIPs(inst, svcNs, old.map((s) => s.name));
    assert.deepEqual(now, Object.fromEntries(old.map((s) => [s.name, s.ips])));
    assert.ok(!old.some((s) => s.ips.includes(pending)), `${pending} was free`);
    assert.ok(pending.startsWith('198.51.100.'), pending);
  });

  test('the controller accepts the configuration and counts the addresses in use', async () => {
    await waitFor(async () => ((await configState(inst))?.result === 'Valid' ? true : undefined), { what: 'ConfigurationState Valid' });
    const production = await waitFor(
      async () => {
        const p = (await inst.custom.getNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: inst.namespace, plural: 'ipaddresspools', name: 'production' })) as {
          status?: { assignedIPv4?: number };
        };
        // web, api, pinned, the shared address, and the one just given to "pending".
        return p.status?.assignedIPv4 === 5 ? p : undefined;
      },
      { what: 'pool production to count 5 addresses in use' },
    );
    assert.ok(production);
    const events = await inst.core.listNamespacedEvent({ namespace: svcNs, fieldSelector: 'involvedObject.name=legacy' });
    assert.ok(events.items.some((e) => e.reason === 'deprecatedAnnotation'), 'the old annotation is read, with a warning');
  });

  test('the webhook accepts the same configuration, applied again', async () => {
    assert.deepEqual(await apply(inst.kc, config, { dryRun: false, fieldManager: 'kubectl' }), []);
    assert.deepEqual(await apply(inst.kc, config, { dryRun: true }), []);
    const after = await currentIPs(inst, svcNs, old.map((s) => s.name));
    assert.deepEqual(after, Object.fromEntries(old.map((s) => [s.name, s.ips])));
  });
});

describe('migration from MetalLB <= 0.12 (legacy ConfigMap), then to CRDs', () => {
  let inst: TestInstallation;
  let svcNs: string;
  const old: OldService[] = [
    { name: 'one', ips: ['198.51.100.130'], annotations: { 'metallb.universe.tf/address-pool': 'default' } },
    { name: 'two', ips: ['198.51.100.165'], annotations: { 'metallb.universe.tf/address-pool': 'bgp-pool' } },
    { name: 'three', ips: ['198.51.100.129'] },
  ];
  const legacyConfig = [
    'peers:',
    '- peer-address: 10.0.0.1',
    '  peer-asn: 64501',
    '  my-asn: 64500',
    '  password: swordfish',
    'bgp-communities:',
    '  no-export: 65535:65281',
    'address-pools:',
    '- name: default',
    '  protocol: layer2',
    '  addresses:',
    '  - 198.51.100.128/27',
    '- name: bgp-pool',
    '  protocol: bgp',
    '  addresses:',
    '  - 198.51.100.160-198.51.100.175',
    '  bgp-advertisements:',
    '  - aggregation-length: 32',
    '    communities: [no-export]',
    '',
  ].join('\n');

  before(async () => {
    inst = await TestInstallation.prepare('migrate-legacy');
    svcNs = inst.otherNamespace;
    await inst.core.createNamespacedConfigMap({ namespace: inst.namespace, body: { metadata: { name: 'config' }, data: { config: legacyConfig } } });
    for (const s of old) await serviceAsMetalLBLeftIt(inst, svcNs, s);
    await inst.install();
    await inst.startController();
  });
  after(async () => {
    await inst?.cleanup();
  });

  test('IronLB reads the ConfigMap as it is: every Service keeps its IP', async () => {
    await waitFor(async () => ((await configState(inst))?.result === 'Valid' ? true : undefined), { what: 'ConfigurationState Valid' });
    await serviceAsMetalLBLeftIt(inst, svcNs, { name: 'new', ips: [] });
    const fresh = await waitFor(async () => ipsOf(await inst.core.readNamespacedService({ name: 'new', namespace: svcNs }))[0], { timeoutMs: 20_000, what: 'a new Service to get an IP' });
    assert.ok(!old.some((s) => s.ips.includes(fresh)));
    assert.deepEqual(await currentIPs(inst, svcNs, old.map((s) => s.name)), Object.fromEntries(old.map((s) => [s.name, s.ips])));
  });

  test('ironlb migrate-config, the CRDs applied through the webhook, the ConfigMap deleted: no IP moves', async () => {
    const { stdout } = await execFileAsync(process.execPath, [`${repoRoot}bin/ironlb.js`, 'migrate-config', '--kubeconfig', inst.kubeconfigPath, '--namespace', inst.namespace]);
    const crds = loadDocs(stdout, 'migrate-config');
    assert.ok(crds.some((o) => o.kind === 'IPAddressPool' && o.metadata.name === 'default'));
    // The CRDs use the ConfigMap's names: the webhook lets them in (with a warning) until the ConfigMap goes.
    for (const o of crds) await inst.create(o);
    await inst.core.deleteNamespacedConfigMap({ name: 'config', namespace: inst.namespace });
    await waitFor(
      async () => {
        const s = await configState(inst);
        return s?.result === 'Valid' ? true : undefined;
      },
      { what: 'ConfigurationState Valid on the CRDs alone' },
    );
    await serviceAsMetalLBLeftIt(inst, svcNs, { name: 'after', ips: [] });
    await waitFor(async () => ipsOf(await inst.core.readNamespacedService({ name: 'after', namespace: svcNs }))[0], { timeoutMs: 20_000, what: 'a Service created after the move to get an IP' });
    assert.deepEqual(await currentIPs(inst, svcNs, old.map((s) => s.name)), Object.fromEntries(old.map((s) => [s.name, s.ips])));
  });
});
