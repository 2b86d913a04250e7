// The controller allocating against a real kube-apiserver: status, annotations, events, pool counters,
// sharing, release, pending retries, malformed input.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../harness/cluster.ts';
import { ControllerFixture, mergePatch, sleep } from './fixture.ts';

describe('controller allocation (real API server)', () => {
  let f: ControllerFixture;

  before(async () => {
    f = await ControllerFixture.create('alloc');
    await f.createPool('small', ['10.40.0.0/30'], {}, { tier: 'small' }); // 4 addresses
    await f.createPool('requested-only', ['10.40.1.10-10.40.1.20'], { autoAssign: false });
    await f.createPool('dual', ['10.40.2.0/29', 'fd40:2::/125'], { autoAssign: false });
    await f.startInProcess();
  });
  after(async () => {
    await f?.cleanup();
  });

  it('assigns the lowest free address with ipMode VIP, the pool annotation and an IPAllocated event', async () => {
    await f.createService('first');
    const [ip] = await f.waitForIPs('first');
    assert.equal(ip, '10.40.0.0');
    const svc = await f.getService('first');
    assert.equal(svc.status?.loadBalancer?.ingress?.[0]?.ipMode, 'VIP');
    await waitFor(async () => (await f.getService('first')).metadata?.annotations?.['metallb.io/ip-allocated-from-pool'] === 'small' || undefined, {
      what: 'pool annotation',
    });
    const ev = await f.waitForEvent('first', 'IPAllocated', '10.40.0.0');
    assert.equal(ev.type, 'Normal');
    assert.match(ev.message, /from pool "small"/);
  });

  it('writes exact pool status counters', async () => {
    const status = await waitFor(async () => {
      const s = (await f.getPool('small')).status;
      return s && s.assignedIPv4 === 1 ? s : undefined;
    }, { what: 'small pool status with assignedIPv4=1' });
    assert.equal(status.availableIPv4, 3);
    assert.equal(status.assignedIPv6, 0);
  });

  it('fills the pool, then reports AllocationFailed with counts, and retries when an address frees up', async () => {
    await f.createService('second');
    await f.createService('third');
    await f.createService('fourth');
    await f.waitForIPs('fourth');
    await f.createService('fifth');
    const ev = await f.waitForEvent('fifth', 'AllocationFailed', 'no free address');
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /4 of 4/);
    assert.deepEqual(await f.ingressIPs('fifth'), []);
    const freed = (await f.ingressIPs('second'))[0];
    await f.core.deleteNamespacedService({ name: 'second', namespace: f.svcNs });
    const [got] = await f.waitForIPs('fifth');
    assert.equal(got, freed, 'the pending service gets the freed address');
  });

  it('honours a requested IP from an autoAssign=false pool, and rejects one outside every pool', async () => {
    await f.createService('wants-ip', { annotations: { 'metallb.io/loadBalancerIPs': '10.40.1.15' } });
    assert.deepEqual(await f.waitForIPs('wants-ip'), ['10.40.1.15']);
    await f.createService('wants-outside', { annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.7' } });
    const ev = await f.waitForEvent('wants-outside', 'AllocationFailed', '192.0.2.7');
    assert.match(ev.message, /pool/);
    assert.deepEqual(await f.ingressIPs('wants-outside'), []);
  });

  it('honours spec.loadBalancerIP, and rejects it combined with the annotation', async () => {
    await f.createService('spec-ip', { loadBalancerIP: '10.40.1.16' });
    assert.deepEqual(await f.waitForIPs('spec-ip'), ['10.40.1.16']);
    await f.createService('both-ip', { loadBalancerIP: '10.40.1.17', annotations: { 'metallb.io/loadBalancerIPs': '10.40.1.18' } });
    await f.waitForEvent('both-ip', 'AllocationFailed', 'both set');
  });

  it('answers malformed loadBalancerIPs annotations with a clear event', async () => {
    await f.createService('bad-notip', { annotations: { 'metallb.io/loadBalancerIPs': '10.40.1.999' } });
    await f.waitForEvent('bad-notip', 'AllocationFailed', '"10.40.1.999" is not an IP address');
    await f.createService('bad-three', { annotations: { 'metallb.io/loadBalancerIPs': '10.40.1.11,10.40.1.12,10.40.1.13' } });
    await f.waitForEvent('bad-three', 'AllocationFailed', 'more than one IPv4');
    await f.createService('bad-two-v4', { annotations: { 'metallb.io/loadBalancerIPs': '10.40.1.11, 10.40.1.12' } });
    await f.waitForEvent('bad-two-v4', 'AllocationFailed', 'at most one per family');
    for (const n of ['bad-notip', 'bad-three', 'bad-two-v4']) assert.deepEqual(await f.ingressIPs(n), []);
  });

  it('keeps the IP of a working service whose annotation turns malformed', async () => {
    const before = await f.ingressIPs('wants-ip');
    await f.core.patchNamespacedService(
      { name: 'wants-ip', namespace: f.svcNs, body: { metadata: { annotations: { 'metallb.io/loadBalancerIPs': 'nonsense' } } } },
      mergePatch,
    );
    await f.waitForEvent('wants-ip', 'AllocationFailed', 'keeping 10.40.1.15');
    assert.deepEqual(await f.ingressIPs('wants-ip'), before);
  });

  it('shares an IP between services with the same key and distinct ports; refuses colliding ports', async () => {
    const ann = { 'metallb.io/allow-shared-ip': 'web', 'metallb.io/address-pool': 'requested-only' };
    await f.createService('share-a', { annotations: { ...ann, 'metallb.io/loadBalancerIPs': '10.40.1.19' }, ports: [{ port: 80 }] });
    await f.createService('share-b', { annotations: { ...ann, 'metallb.io/loadBalancerIPs': '10.40.1.19' }, ports: [{ port: 443 }] });
    assert.deepEqual(await f.waitForIPs('share-a'), ['10.40.1.19']);
    assert.deepEqual(await f.waitForIPs('share-b'), ['10.40.1.19']);
    await f.createService('share-c', { annotations: { ...ann, 'metallb.io/loadBalancerIPs': '10.40.1.19' }, ports: [{ port: 443 }] });
    const ev = await f.waitForEvent('share-c', 'AllocationFailed', '10.40.1.19');
    assert.match(ev.message, /443/);
  });

  it('gives RequireDualStack both families from one pool', async () => {
    await f.createService('dual', {
      ipFamilyPolicy: 'RequireDualStack',
      ipFamilies: ['IPv4', 'IPv6'],
      annotations: { 'metallb.io/address-pool': 'dual' },
    });
    const ips = await f.waitForIPs('dual', 2);
    assert.deepEqual(ips, ['10.40.2.0', 'fd40:2::']);
  });

  it('reads the deprecated metallb.universe.tf annotations with a Warning event', async () => {
    await f.createService('old-prefix', { annotations: { 'metallb.universe.tf/loadBalancerIPs': '10.40.1.14' } });
    assert.deepEqual(await f.waitForIPs('old-prefix'), ['10.40.1.14']);
    await f.waitForEvent('old-prefix', 'deprecatedAnnotation', 'metallb.universe.tf/loadBalancerIPs');
  });

  it('ignores services of another loadBalancerClass, and leaves the status their controller wrote alone', async () => {
    await f.createService('other-class', { loadBalancerClass: 'example.com/other' });
    await sleep(700);
    assert.deepEqual(await f.ingressIPs('other-class'), []);
    // Another controller (another --lb-class) gives it an IP; ours must not clear it.
    await f.core.patchNamespacedServiceStatus(
      { name: 'other-class', namespace: f.svcNs, body: { status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } } } },
      mergePatch,
    );
    await f.core.patchNamespacedService({ name: 'other-class', namespace: f.svcNs, body: { metadata: { labels: { touched: 'yes' } } } }, mergePatch);
    await sleep(700);
    assert.deepEqual(await f.ingressIPs('other-class'), ['198.51.100.7']);
  });

  it('releases the IP when the type changes away from LoadBalancer', async () => {
    const [ip] = await f.ingressIPs('first');
    await f.core.patchNamespacedService(
      { name: 'first', namespace: f.svcNs, body: { spec: { type: 'ClusterIP', loadBalancerClass: null } } },
      mergePatch,
    );
    await waitFor(async () => ((await f.ingressIPs('first')).length === 0 ? true : undefined), { what: 'status cleared' });
    await f.createService('after-release');
    assert.deepEqual(await f.waitForIPs('after-release'), [ip]);
  });

  it('moves services to another pool when their pool is deleted, or reports AllocationFailed', async () => {
    await f.createPool('spare', ['10.40.3.0/29']);
    const moved = await f.ingressIPs('third');
    assert.ok(moved[0]?.startsWith('10.40.0.'));
    await f.deletePool('small');
    const [now] = await waitFor(async () => {
      const ips = await f.ingressIPs('third');
      return ips[0]?.startsWith('10.40.3.') ? ips : undefined;
    }, { what: 'service third moved to pool spare' });
    assert.ok(now);
    await f.waitForEvent('third', 'ClearAssignment', moved[0]!);
  });
});
