// The validating webhook with the real kube-apiserver calling it: IronLB installed from the chart, the
// controller running as its ServiceAccount with the chart's arguments, creating its own certificates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseConfig } from '../../src/config/parse.ts';
import { formatConfigError } from '../../src/config/model.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { serviceHosts } from '../../src/webhook/cert-manager.ts';
import { ConfigWebhook } from '../../src/webhook/webhook.ts';
import { createCertificateAuthority, createServingCertificate, splitPemBundle } from '../../src/webhook/x509.ts';
import { waitFor } from '../harness/cluster.ts';
import { apiMessage, kubectl, kubectlPath, serviceAccountKubeconfig } from './cluster-ops.ts';
import { TestInstallation, obj } from './installation.ts';

const decode = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('utf8');

/** The parser's messages for these pools alone (what the webhook must say). */
function parserMessages(namespace: string, pools: unknown[]): string[] {
  const r = parseConfig({ namespace, ipAddressPools: pools, l2Advertisements: [], bgpAdvertisements: [], bgpPeers: [], communities: [], bfdProfiles: [], legacyConfigMap: undefined, secrets: [], nodes: [] });
  return r.ok ? [] : r.errors.map(formatConfigError);
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return apiMessage(e);
  }
  throw new Error('the request was accepted');
}

describe('validating webhook (real API server calling it)', () => {
  let inst: TestInstallation;
  let ns: string;

  const secretData = async (): Promise<Record<string, string>> => {
    const s = await inst.core.readNamespacedSecret({ name: inst.webhookSecretName, namespace: ns });
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, decode(v)]));
  };
  /** Waits until the API server reaches the webhook (a dry-run create of a valid pool succeeds). */
  const webhookAnswers = () =>
    waitFor(
      async () => {
        await inst.create(obj('IPAddressPool', 'probe', { addresses: ['10.69.0.1/32'] }), { dryRun: true });
        return true;
      },
      { timeoutMs: 20_000, what: 'the API server to reach the webhook' },
    );

  before(async () => {
    inst = await TestInstallation.prepare('webhook');
    ns = inst.namespace;
    // Written before IronLB is installed: a configuration that is already broken.
    await inst.create(obj('IPAddressPool', 'pre-broken', { addresses: ['not-an-address'] }));
    await inst.install();
    await inst.startController();
    await webhookAnswers();
  });
  after(async () => {
    await inst?.cleanup();
  });

  test('the controller creates its certificates, stores them in its Secret and writes the CA bundle', async () => {
    const data = await secretData();
    assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    assert.equal(decode(await inst.caBundle()), data['ca.crt']);
    const leaf = new X509Certificate(data['tls.crt']!);
    assert.ok(leaf.checkIssued(new X509Certificate(data['ca.crt']!)));
    for (const host of serviceHosts(`${inst.fullname}-webhook-service`, ns)) assert.ok(leaf.checkHost(host), host);
    assert.ok(leaf.checkIP('127.0.0.1'));
    const memberlist = await inst.core.readNamespacedSecret({ name: `${inst.fullname}-memberlist`, namespace: ns });
    assert.equal(Buffer.from(decode(memberlist.data?.secretkey), 'base64').length, 128, 'the memberlist key was filled in');
  });

  test('valid configuration is accepted', async () => {
    await inst.create(obj('IPAddressPool', 'a', { addresses: ['10.60.0.0/24'] }));
    await inst.create(obj('L2Advertisement', 'a-l2', { ipAddressPools: ['a'] }));
    await inst.create(obj('BFDProfile', 'fast', { receiveInterval: 300 }));
    await inst.create(obj('BGPPeer', 'tor', { myASN: 64500, peerASN: 64501, peerAddress: '192.0.2.1', bfdProfile: 'fast', passwordSecret: { name: 'tor-password' } }, { version: 'v1beta1' }));
    await inst.create(obj('Community', 'aliases', { communities: [{ name: 'no-export', value: '65535:65281' }] }));
    await inst.create(obj('BGPAdvertisement', 'a-bgp', { ipAddressPools: ['a'], communities: ['no-export'], peers: ['tor'] }));
  });

  test('invalid configuration is rejected with the config parser\'s messages, dry run included', async () => {
    const bad = obj('IPAddressPool', 'bad', { addresses: ['10.60.1.0/24', '10.60.1.300/32'] }, { namespace: ns });
    const [expected] = parserMessages(ns, [bad]);
    assert.equal(expected, `IPAddressPool ${ns}/bad: addresses[1] "10.60.1.300/32" is not an IP, range or CIDR`);
    const msg = await rejection(inst.create(bad));
    assert.match(msg, /^admission webhook "config\.ironlb\.metallb\.io" denied the request: /);
    assert.ok(msg.endsWith(`denied the request: ${expected}`), msg);
    assert.ok((await rejection(inst.create(bad, { dryRun: true }))).endsWith(expected!));

    const overlapping = obj('IPAddressPool', 'c', { addresses: ['10.60.0.128/25'] }, { namespace: ns });
    const a = obj('IPAddressPool', 'a', { addresses: ['10.60.0.0/24'] }, { namespace: ns });
    const overlapMessages = parserMessages(ns, [a, overlapping]);
    assert.ok(overlapMessages.length > 0);
    const msg2 = await rejection(inst.create(overlapping));
    for (const m of overlapMessages) assert.ok(msg2.includes(m), `${msg2} includes ${m}`);

    const msg3 = await rejection(inst.create(obj('L2Advertisement', 'ghost', { ipAddressPools: ['nope'] })));
    assert.ok(msg3.endsWith(`L2Advertisement ${ns}/ghost: ipAddressPools[0] "nope" is not a known IPAddressPool`), msg3);
  });

  test('configuration objects outside the install namespace are rejected', async () => {
    const msg = await rejection(inst.create(obj('IPAddressPool', 'elsewhere', { addresses: ['10.61.0.0/24'] }, { namespace: inst.otherNamespace })));
    assert.ok(
      msg.endsWith(
        `IPAddressPool ${inst.otherNamespace}/elsewhere: IronLB reads its configuration only from namespace "${ns}"; ` +
          `an object in namespace "${inst.otherNamespace}" would be ignored (create it in "${ns}")`,
      ),
      msg,
    );
  });

  test('an update that breaks, and a delete that leaves a reference dangling, are rejected', async () => {
    const patch = inst.custom.patchNamespacedCustomObject(
      { group: 'metallb.io', version: 'v1beta1', namespace: ns, plural: 'ipaddresspools', name: 'a', body: [{ op: 'replace', path: '/spec/addresses', value: ['10.60.0.0/33'] }] },
    );
    assert.match(await rejection(patch), /IPAddressPool .*\/a: addresses\[0\] "10\.60\.0\.0\/33"/);
    const del = await rejection(inst.remove('IPAddressPool', 'a'));
    assert.ok(del.includes(`ipAddressPools[0] "a" is not a known IPAddressPool`), del);
    // Deleting what nothing needs is fine, and so is fixing what was broken before the webhook came.
    await inst.create(obj('IPAddressPool', 'spare', { addresses: ['10.60.9.0/24'] }));
    await inst.remove('IPAddressPool', 'spare');
  });

  test('kubectl apply shows the rejection, and warns when the configuration stays invalid', { skip: kubectlPath() ? false : 'kubectl is not installed' }, async () => {
    const file = join(inst.dir, 'pool.yaml');
    writeFileSync(file, JSON.stringify(obj('IPAddressPool', 'via-kubectl', { addresses: ['10.62.0.0/24', 'bogus'] }, { namespace: ns })));
    const bad = await kubectl(inst.kubeconfigPath, ['apply', '-f', file]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^The request is invalid: error when creating ".*pool\.yaml": admission webhook "config\.ironlb\.metallb\.io" denied the request: /);
    assert.ok(bad.stderr.includes(`denied the request: IPAddressPool ${ns}/via-kubectl: addresses[1] "bogus" is not an IP, range or CIDR`), bad.stderr);
    writeFileSync(file, JSON.stringify(obj('IPAddressPool', 'via-kubectl', { addresses: ['10.62.0.0/24'] }, { namespace: ns })));
    const good = await kubectl(inst.kubeconfigPath, ['apply', '-f', file]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stderr, /Warning: the configuration is still invalid, as it was before this change: IPAddressPool .*\/pre-broken: addresses\[0\] "not-an-address"/);
    const dry = await kubectl(inst.kubeconfigPath, ['apply', '--dry-run=server', '-f', file]);
    assert.equal(dry.code, 0, dry.stderr);
  });

  test('a restart reuses the stored certificate and CA bundle', async () => {
    const before = await secretData();
    const bundle = await inst.caBundle();
    await inst.stopController();
    await inst.startController();
    assert.deepEqual(await secretData(), before);
    assert.equal(await inst.caBundle(), bundle);
    await webhookAnswers();
  });

  test('an expiring certificate is replaced at start, the old CA kept in the bundle meanwhile', async () => {
    await inst.stopController();
    const now = Date.now();
    const ca = createCertificateAuthority({ commonName: 'old', notBefore: new Date(now - 3600_000), notAfter: new Date(now + 86_400_000) });
    const hosts = [...serviceHosts(`${inst.fullname}-webhook-service`, ns), '127.0.0.1'];
    const leaf = createServingCertificate(ca, { commonName: 'old', hosts, notBefore: new Date(now - 3600_000), notAfter: new Date(now + 86_400_000) });
    const enc = (s: string) => Buffer.from(s).toString('base64');
    await inst.core.patchNamespacedSecret({
      name: inst.webhookSecretName,
      namespace: ns,
      body: [{ op: 'replace', path: '/data', value: { 'ca.crt': enc(ca.certPem), 'ca.key': enc(ca.keyPem), 'tls.crt': enc(leaf.certPem), 'tls.key': enc(leaf.keyPem) } }],
    });
    await inst.startController();
    const data = await secretData();
    assert.notEqual(data['tls.crt'], leaf.certPem);
    assert.notEqual(data['ca.crt'], ca.certPem);
    assert.equal(data['previous-ca.crt'], ca.certPem);
    assert.ok(new Date(new X509Certificate(data['tls.crt']!).validTo).getTime() > now + 300 * 86_400_000, 'a new certificate for about a year');
    assert.deepEqual(splitPemBundle(decode(await inst.caBundle())), [data['ca.crt'], ca.certPem]);
    await webhookAnswers();
  });

  test('certificates rotate while serving, and the API server never loses the webhook', async () => {
    await inst.stopController();
    // Start from an empty Secret, so the short lifetimes below apply from the first certificate on.
    await inst.core.patchNamespacedSecret({ name: inst.webhookSecretName, namespace: ns, body: [{ op: 'replace', path: '/data', value: {} }] });
    const kc = new KubeConfig();
    kc.loadFromFile(await serviceAccountKubeconfig(inst.kc, ns, inst.controllerServiceAccount, inst.dir));
    // Lifetimes in seconds: the serving certificate is replaced about every 8 s, the CA after 15 s.
    const webhook = new ConfigWebhook(kc, {
      namespace: ns,
      port: inst.webhookPort,
      host: '127.0.0.1',
      secretName: inst.webhookSecretName,
      serviceName: `${inst.fullname}-webhook-service`,
      configurationName: inst.webhookConfigurationName,
      extraHosts: ['127.0.0.1'],
      log: silentLogger(),
      checkIntervalMs: 250,
      caPropagationDelayMs: 2000,
      policy: { caValidityMs: 60_000, caRenewBeforeMs: 45_000, certValidityMs: 30_000, certRenewBeforeMs: 22_000, backdateMs: 3600_000 },
    });
    try {
      await webhook.start();
      const first = webhook.servedCertificates()!;
      const seen = { certs: new Set<string>([first.cert]), cas: new Set<string>([first.caCert]) };
      let calls = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && (seen.certs.size < 3 || seen.cas.size < 2)) {
        // Every call must pass, during each switch too.
        await inst.create(obj('IPAddressPool', 'probe', { addresses: ['10.69.0.1/32'] }), { dryRun: true });
        calls++;
        const served = webhook.servedCertificates()!;
        seen.certs.add(served.cert);
        seen.cas.add(served.caCert);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(seen.certs.size >= 3, `serving certificate replaced at least twice (saw ${seen.certs.size})`);
      assert.ok(seen.cas.size >= 2, `CA replaced (saw ${seen.cas.size})`);
      assert.ok(calls > 20);
    } finally {
      await webhook.stop();
    }
  });
});
