// Live configuration against a real kube-apiserver: changes apply within a second, invalid configuration
// is reported and never applied, the legacy ConfigMap works.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../harness/cluster.ts';
import { ControllerFixture, sleep } from './fixture.ts';

describe('controller configuration (real API server)', () => {
  let f: ControllerFixture;

  before(async () => {
    f = await ControllerFixture.create('cfg');
    await f.startInProcess();
  });
  after(async () => {
    await f?.cleanup();
  });

  it('allocates nothing without configuration, then as soon as a pool appears (no restart)', async () => {
    await f.createService('early');
    await f.waitForEvent('early', 'AllocationFailed', '');
    await f.createPool('live', ['10.41.0.10-10.41.0.19']);
    assert.deepEqual(await f.waitForIPs('early'), ['10.41.0.10']);
    await waitFor(async () => ((await f.configState())?.result === 'Valid' ? true : undefined), { what: 'ConfigurationState Valid' });
    assert.equal((await f.metrics.configLoaded.get()).values[0]?.value, 1);
  });

  it('rejects an invalid pool by name and field, keeps serving the last good configuration', async () => {
    await f.createPool('broken', ['10.41.1.300/32']);
    const state = await waitFor(async () => {
      const s = await f.configState();
      return s?.result === 'Invalid' ? s : undefined;
    }, { what: 'ConfigurationState Invalid' });
    assert.match(state.errorSummary ?? '', /IPAddressPool [\w-]+\/broken: addresses\[0\] "10\.41\.1\.300\/32"/);
    const ev = await f.waitForEvent('broken', 'InvalidConfiguration', 'addresses[0]', f.configNs);
    assert.equal(ev.type, 'Warning');
    assert.equal((await f.metrics.configStale.get()).values[0]?.value, 1);
    // The last good configuration keeps serving new services.
    await f.createService('during-invalid');
    assert.deepEqual(await f.waitForIPs('during-invalid'), ['10.41.0.11']);
    assert.deepEqual(await f.ingressIPs('early'), ['10.41.0.10']);
    await f.deletePool('broken');
    await waitFor(async () => ((await f.configState())?.result === 'Valid' ? true : undefined), { what: 'ConfigurationState Valid again' });
    assert.equal((await f.metrics.configStale.get()).values[0]?.value, 0);
  });

  it('rejects overlapping pools, naming both', async () => {
    await f.createPool('overlap', ['10.41.0.15/32']);
    const state = await waitFor(async () => {
      const s = await f.configState();
      return s?.result === 'Invalid' ? s : undefined;
    }, { what: 'ConfigurationState Invalid' });
    assert.match(state.errorSummary ?? '', /overlap/);
    assert.match(state.errorSummary ?? '', /live/);
    await f.deletePool('overlap');
    await waitFor(async () => ((await f.configState())?.result === 'Valid' ? true : undefined), { what: 'Valid again' });
  });

  it('reads the legacy ConfigMap, and answers garbage YAML with a clear error while nothing else changes', async () => {
    await f.core.createNamespacedConfigMap({
      namespace: f.configNs,
      body: {
        metadata: { name: 'config', namespace: f.configNs },
        data: { config: 'address-pools:\n- name: legacy\n  protocol: layer2\n  addresses:\n  - 10.41.2.0/29\n' },
      },
    });
    await f.createService('from-legacy', { annotations: { 'metallb.io/address-pool': 'legacy' } });
    assert.deepEqual(await f.waitForIPs('from-legacy'), ['10.41.2.0']);

    await f.core.replaceNamespacedConfigMap({
      name: 'config',
      namespace: f.configNs,
      body: { metadata: { name: 'config', namespace: f.configNs }, data: { config: 'address-pools: [\n  - name: : :\n' } },
    });
    const state = await waitFor(async () => {
      const s = await f.configState();
      return s?.result === 'Invalid' ? s : undefined;
    }, { what: 'ConfigurationState Invalid after garbage YAML' });
    assert.match(state.errorSummary ?? '', /ConfigMap [\w-]+\/config/);
    await f.waitForEvent('config', 'InvalidConfiguration', 'ConfigMap', f.configNs);
    await sleep(300);
    assert.deepEqual(await f.ingressIPs('from-legacy'), ['10.41.2.0'], 'existing IPs unchanged');
    assert.deepEqual(await f.ingressIPs('early'), ['10.41.0.10']);
    await f.createService('legacy-still-served', { annotations: { 'metallb.io/address-pool': 'legacy' } });
    assert.deepEqual(await f.waitForIPs('legacy-still-served'), ['10.41.2.1'], 'the last good legacy pool still serves');
  });

  it('rejects a pool that contains a node address', async () => {
    await f.core.deleteNamespacedConfigMap({ name: 'config', namespace: f.configNs });
    await waitFor(async () => ((await f.configState())?.result === 'Valid' ? true : undefined), { what: 'Valid after removing garbage' });
    const nodeName = `${f.configNs}-node`;
    await f.core.createNode({ body: { metadata: { name: nodeName } } });
    try {
      await f.core.replaceNodeStatus({
        name: nodeName,
        body: { metadata: { name: nodeName }, status: { addresses: [{ type: 'InternalIP', address: '10.41.9.5' }] } },
      });
      await f.createPool('hijack', ['10.41.9.0/24']);
      const state = await waitFor(async () => {
        const s = await f.configState();
        return s?.result === 'Invalid' ? s : undefined;
      }, { what: 'Invalid because of a node address' });
      assert.match(state.errorSummary ?? '', /10\.41\.9\.5/);
      assert.match(state.errorSummary ?? '', new RegExp(nodeName));
      await f.deletePool('hijack');
    } finally {
      await f.core.deleteNode({ name: nodeName }).catch(() => undefined);
    }
  });

  it('keeps every IP when the configuration loses all its pools (e.g. CRDs uninstalled), and carries on when they return', async () => {
    const before = await f.ingressIPs('early');
    await f.deletePool('live');
    await f.waitForEvent('early', 'AllocationFailed', `has no address pools; keeping ${before[0]}`);
    await sleep(500);
    assert.deepEqual(await f.ingressIPs('early'), before);
    await f.createPool('live', ['10.41.0.10-10.41.0.19']);
    await f.createService('after-pools-return');
    const [fresh] = await f.waitForIPs('after-pools-return');
    assert.notEqual(fresh, before[0]);
    assert.deepEqual(await f.ingressIPs('early'), before, 'the kept IP is still the service\'s');
  });
});
