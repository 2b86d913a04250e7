// Restart stability, with the real `ironlb controller` process: killed with SIGKILL, pending services
// created and the configuration changed while it is down, restarted → every assigned IP unchanged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../harness/cluster.ts';
import { freePort } from '../../src/lab/control-plane.ts';
import { ControllerFixture, sleep } from './fixture.ts';


describe('controller restart stability (real API server, real process)', () => {
  let f: ControllerFixture;

  before(async () => {
    f = await ControllerFixture.create('restart');
  });
  after(async () => {
    await f?.cleanup();
  });

  it('keeps every assigned IP across a kill and a changed configuration', async () => {
    await f.createPool('a', ['10.42.0.0/28']);
    await f.createPool('b', ['10.42.1.0/28']);
    f.startProcess(['--metrics-port', '0']);
    // Create in an order, then delete some, so the assignment is not simply "lowest first by name".
    for (let i = 0; i < 12; i++) await f.createService(`svc-${i}`, i % 3 === 0 ? { annotations: { 'metallb.io/address-pool': 'b' } } : {});
    const before = new Map<string, string[]>();
    for (let i = 0; i < 12; i++) before.set(`svc-${i}`, await f.waitForIPs(`svc-${i}`, 1, 60_000)); // the process may start slowly on a loaded machine
    for (const i of [2, 4]) {
      await f.core.deleteNamespacedService({ name: `svc-${i}`, namespace: f.svcNs });
      before.delete(`svc-${i}`);
    }
    assert.ok([...before.values()].some((ips) => ips[0] === '10.42.0.0'), 'some service holds 10.42.0.0');
    await sleep(300);

    await f.killProcess();
    // While it is down: new services arrive (they would take the freed lowest addresses), and a pool is
    // added that sorts first and would hand out different addresses to a naive re-allocation.
    for (let i = 0; i < 4; i++) await f.createService(`pending-${i}`);
    await f.createPool('0-first', ['10.42.2.0/28']);
    await f.patchPool('a', { avoidBuggyIPs: true }); // 10.42.0.0 is now "buggy", so that one IP must move

    const metricsPort = await freePort();
    f.startProcess(['--metrics-port', String(metricsPort), '--metrics-host', '127.0.0.1']);
    for (let i = 0; i < 4; i++) await f.waitForIPs(`pending-${i}`, 1, 60_000);
    for (const [name, ips] of before) {
      const now = await f.ingressIPs(name);
      if (ips[0] === '10.42.0.0') {
        assert.notDeepEqual(now, ips, `${name}: an IP the new config forbids is reallocated`);
        continue;
      }
      assert.deepEqual(now, ips, `${name} kept its IP`);
    }
    const pendingIPs = await Promise.all([0, 1, 2, 3].map((i) => f.ingressIPs(`pending-${i}`)));
    const taken = new Set([...before.values()].flat());
    for (const ips of pendingIPs) assert.ok(!taken.has(ips[0]!) || ips[0] === '10.42.0.0', `pending got a fresh IP, not ${ips[0]}`);
    await waitFor(async () => ((await f.configState())?.result === 'Valid' ? true : undefined), { what: 'ConfigurationState Valid' });

    // The metrics endpoint users alert on, with MetalLB's names, and the probes.
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return /metallb_allocator_addresses_in_use_total\{pool="a"\} [1-9]/.test(text) ? text : undefined;
    }, { what: 'pool metrics' });
    assert.match(metrics, /metallb_allocator_addresses_total\{pool="a"\} 15/); // avoidBuggyIPs took 10.42.0.0 out
    assert.match(metrics, /metallb_allocator_ipv4_addresses_total\{pool="0-first"\} 16/);
    assert.match(metrics, /metallb_k8s_client_config_loaded_bool 1/);
    assert.match(metrics, /metallb_k8s_client_config_stale_bool 0/);
  });
});
