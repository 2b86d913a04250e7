import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bfd, bgpAdv, configMap, l2, messages, node, ns, parse, peer, pool, sources } from '../config/fixtures.ts';
import type { ConfigSources } from '../config/sources.ts';
import { decodeAdmissionReview, encodeAdmissionResponse } from './admission.ts';
import { type ConfigChange, reviewConfigChange, withChange } from './validate.ts';

const create = (object: { kind: string; metadata: { name: string; namespace?: string } }): ConfigChange => ({
  operation: 'CREATE',
  kind: object.kind,
  namespace: object.metadata.namespace ?? ns,
  name: object.metadata.name,
  object,
});
const update = (object: { kind: string; metadata: { name: string; namespace?: string } }): ConfigChange => ({ ...create(object), operation: 'UPDATE' });
const remove = (kind: string, name: string, namespace = ns): ConfigChange => ({ operation: 'DELETE', kind, namespace, name });

const base = (): ConfigSources =>
  sources({
    ipAddressPools: [pool('default', { addresses: ['10.0.0.0/24'] }), pool('spare', { addresses: ['10.0.1.0/24'] })],
    l2Advertisements: [l2('default-l2', { ipAddressPools: ['default'] })],
    bgpPeers: [peer('tor', { myASN: 64500, peerASN: 64501, peerAddress: '192.0.2.1', bfdProfile: 'fast' })],
    bfdProfiles: [bfd('fast', { receiveInterval: 100 })],
    nodes: [node('n1', {}, [['InternalIP', '192.168.0.11']])],
  });

describe('webhook: reviewConfigChange', () => {
  test('a valid new object is allowed', () => {
    const v = reviewConfigChange(create(pool('more', { addresses: ['10.0.2.0/24'] })), base());
    assert.deepEqual(v, { allowed: true, errors: [], warnings: [] });
  });

  test('an invalid object is rejected with exactly the config parser\'s messages', () => {
    const bad = pool('bad', { addresses: ['10.0.3.0/24', '10.0.0.300/32'] });
    const v = reviewConfigChange(create(bad), base());
    assert.equal(v.allowed, false);
    const parserSays = messages(parse({ ...base(), ipAddressPools: [...base().ipAddressPools, bad] }));
    assert.deepEqual(v.message!.split('\n'), parserSays);
    assert.match(v.message!, /^IPAddressPool metallb-system\/bad: addresses\[1\] "10\.0\.0\.300\/32" is not an IP, range or CIDR$/);
  });

  test('cross-object rules: overlap with another pool, a node address, a name used by the legacy ConfigMap', () => {
    const overlap = reviewConfigChange(create(pool('dup', { addresses: ['10.0.0.128/25'] })), base());
    assert.equal(overlap.allowed, false);
    assert.match(overlap.message!, /overlaps/);
    const nodeIP = reviewConfigChange(create(pool('hijack', { addresses: ['192.168.0.0/24'] })), base());
    assert.equal(nodeIP.allowed, false);
    assert.match(nodeIP.message!, /192\.168\.0\.11/);
    const legacy = { ...base(), legacyConfigMap: configMap('address-pools:\n- name: old\n  protocol: layer2\n  addresses: [10.9.0.0/24]\n') };
    assert.equal(reviewConfigChange(create(pool('other', { addresses: ['10.8.0.0/24'] })), legacy).allowed, true);
    // Migrating from the ConfigMap to CRDs: the same names are allowed, with a warning saying how to finish.
    const clash = reviewConfigChange(create(pool('old', { addresses: ['10.9.0.0/24'] })), legacy);
    assert.equal(clash.allowed, true);
    assert.deepEqual(clash.warnings, [
      'ConfigMap metallb-system/config: address-pools[0] name "old" is also used by IPAddressPool metallb-system/old: delete the legacy ConfigMap to finish moving to CRDs (until then the last good configuration stays in use)',
    ]);
    const overlap2 = reviewConfigChange(create(pool('new', { addresses: ['10.9.0.0/25'] })), legacy);
    assert.equal(overlap2.allowed, false, 'overlapping the ConfigMap pool under another name is an error');
  });

  test('references: an advertisement naming an unknown pool is rejected; a known one is fine', () => {
    const v = reviewConfigChange(create(l2('ghost', { ipAddressPools: ['nope'] })), base());
    assert.equal(v.allowed, false);
    assert.equal(v.message, 'L2Advertisement metallb-system/ghost: ipAddressPools[0] "nope" is not a known IPAddressPool');
    assert.equal(reviewConfigChange(create(bgpAdv('ok', { ipAddressPools: ['spare'], peers: ['tor'] })), base()).allowed, true);
  });

  test('objects outside the install namespace are rejected on create and update, and may be deleted', () => {
    const elsewhere = pool('p', { addresses: ['10.0.5.0/24'] }, { namespace: 'default' });
    for (const change of [create(elsewhere), update(elsewhere)]) {
      const v = reviewConfigChange(change, base());
      assert.equal(v.allowed, false);
      assert.equal(
        v.message,
        'IPAddressPool default/p: IronLB reads its configuration only from namespace "metallb-system"; an object in namespace "default" would be ignored (create it in "metallb-system")',
      );
    }
    assert.equal(reviewConfigChange(remove('IPAddressPool', 'p', 'default'), base()).allowed, true);
  });

  test('updates: a fix is allowed while another object is already broken; breaking a valid one is not', () => {
    const broken = sources({ ...base(), ipAddressPools: [...base().ipAddressPools, pool('legacy-bad', { addresses: ['nonsense'] })] });
    const fix = reviewConfigChange(update(pool('spare', { addresses: ['10.0.7.0/24'] })), broken);
    assert.equal(fix.allowed, true);
    assert.equal(fix.warnings.length, 1);
    assert.match(fix.warnings[0]!, /still invalid, as it was before this change: IPAddressPool metallb-system\/legacy-bad: addresses\[0\] "nonsense"/);
    const fixTheBroken = reviewConfigChange(update(pool('legacy-bad', { addresses: ['10.0.8.0/24'] })), broken);
    assert.deepEqual(fixTheBroken, { allowed: true, errors: [], warnings: [] });
    const breaking = reviewConfigChange(update(pool('spare', { addresses: ['10.0.0.0/16'] })), base());
    assert.equal(breaking.allowed, false);
    assert.match(breaking.message!, /overlaps/);
  });

  test('deletes: refused while something still needs the object, unless the namespace is going away', () => {
    const usedPool = reviewConfigChange(remove('IPAddressPool', 'default'), base());
    assert.equal(usedPool.allowed, false);
    assert.equal(usedPool.message, 'L2Advertisement metallb-system/default-l2: ipAddressPools[0] "default" is not a known IPAddressPool');
    const usedBfd = reviewConfigChange(remove('BFDProfile', 'fast'), base());
    assert.equal(usedBfd.allowed, false);
    assert.equal(usedBfd.message, 'BGPPeer metallb-system/tor: bfdProfile "fast" is not a known BFDProfile');
    assert.equal(reviewConfigChange(remove('IPAddressPool', 'spare'), base()).allowed, true);
    assert.equal(reviewConfigChange(remove('IPAddressPool', 'default'), base(), { namespaceTerminating: true }).allowed, true);
  });

  test('a passwordSecret is taken to exist: the webhook reads no Secrets', () => {
    const v = reviewConfigChange(create(peer('auth', { myASN: 64500, peerASN: 64502, peerAddress: '192.0.2.2', passwordSecret: { name: 'tor-auth' } })), base());
    assert.deepEqual(v, { allowed: true, errors: [], warnings: [] });
    const both = reviewConfigChange(create(peer('both', { myASN: 64500, peerASN: 64502, peerAddress: '192.0.2.3', password: 'x', passwordSecret: { name: 'y' } })), base());
    assert.equal(both.allowed, false);
    assert.match(both.message!, /passwordSecret cannot be set together with password/);
  });

  test('BGPPeer v1beta1 objects are validated too; kinds that are not configuration pass', () => {
    const v1 = peer('old', { myASN: 64500, peerASN: 64503, peerAddress: '192.0.2.4', holdTime: '1s' }, { apiVersion: 'metallb.io/v1beta1' });
    const v = reviewConfigChange(create(v1), base());
    assert.equal(v.allowed, false);
    assert.match(v.message!, /^BGPPeer metallb-system\/old: holdTime/);
    assert.equal(reviewConfigChange({ operation: 'CREATE', kind: 'ServiceL2Status', namespace: 'x', name: 'y', object: {} }, base()).allowed, true);
  });

  test('withChange replaces by name, adds, and removes', () => {
    const src = base();
    assert.deepEqual(withChange(src, remove('IPAddressPool', 'spare')).ipAddressPools.length, 1);
    assert.deepEqual(withChange(src, create(pool('x', { addresses: ['10.1.0.0/24'] }))).ipAddressPools.length, 3);
    assert.deepEqual(withChange(src, update(pool('spare', { addresses: ['10.1.0.0/24'] }))).ipAddressPools.length, 2);
  });
});

describe('webhook: AdmissionReview', () => {
  const review = (request: unknown) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });

  test('decodes a request', () => {
    const object = pool('a', { addresses: ['10.0.0.0/24'] });
    const r = decodeAdmissionReview(review({ uid: 'u1', kind: { group: 'metallb.io', version: 'v1beta1', kind: 'IPAddressPool' }, operation: 'CREATE', namespace: ns, name: 'a', object, dryRun: true }));
    assert.deepEqual(r, { uid: 'u1', dryRun: true, change: { operation: 'CREATE', kind: 'IPAddressPool', namespace: ns, name: 'a', object } });
    const del = decodeAdmissionReview(review({ uid: 'u2', kind: { kind: 'IPAddressPool' }, operation: 'DELETE', namespace: ns, name: 'a', object: null }));
    assert.equal(typeof del === 'object' && del.change.object, undefined);
  });

  test('says what is wrong with a malformed review', () => {
    assert.equal(decodeAdmissionReview(null), 'the body is not a JSON object');
    assert.match(decodeAdmissionReview({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1' }) as string, /apiVersion must be/);
    assert.equal(decodeAdmissionReview(review({ kind: { kind: 'X' }, operation: 'CREATE' })), 'request.uid is missing');
    assert.match(decodeAdmissionReview(review({ uid: 'u', kind: { kind: 'X' }, operation: 'PATCH' })) as string, /operation "PATCH" is unknown/);
  });

  test('encodes allowed and denied responses', () => {
    assert.deepEqual(encodeAdmissionResponse('u', { allowed: true, warnings: [] }), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } });
    assert.deepEqual(encodeAdmissionResponse('u', { allowed: false, message: 'no', warnings: ['w'] }), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: false, status: { status: 'Failure', message: 'no', reason: 'Invalid', code: 422 }, warnings: ['w'] },
    });
  });
});
