// Layer2 mode end to end, driven by the API server: one whole lab (startLab: kube-apiserver + etcd, the
// ironlb controller, and per node the real `ironlb speaker` and a backend that puts every LB IP on lo with
// arp_ignore=1 and serves HTTP with its node name), Services and EndpointSlices written through the API,
// and every check made from outside with real packets from the client namespace: arping, ndisc6, curl,
// the client's neighbour table; plus the ServiceL2Status objects and each speaker's own /metrics.
//
// The tests run in order on one lab and each leaves it as it found it (links up, speakers running with
// the right key). Nothing here asserts how fast anything happens; bench/l2-failover.ts measures that.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { labNamespace } from '../../src/lab/lab.ts';
import { sleep, until } from '../../src/lab/scenario.ts';
import { nodeIPv4 } from '../../src/lab/network/standard-lab.ts';
import { L2Lab, l2LabSkipReason, POOL, type ProbeRecord } from './layer2-lab.ts';

const skip = l2LabSkipReason();
const WEB = 'web';
const LOCAL_NS = 'lab-local';
const LOCAL = 'local-web';
/** In the pool, never allocated here (the tests create two services: .200 and .201). */
const UNUSED4 = '10.99.0.218';
const UNUSED6 = 'fd99::218';
/** In the pool, put on a node's lo by hand, announced by nobody. */
const ON_LO4 = '10.99.0.217';
const ON_LO6 = 'fd99::217';

describe('Layer2 speakers in a whole lab (API server, controller, speakers, backends)', { skip, timeout: 400_000 }, () => {
  let l2: L2Lab;
  let vip4 = '';
  let vip6 = '';
  const web = () => ({ namespace: labNamespace, name: WEB, ip: vip4 });
  const log = (line: string) => console.log(`  [layer2] ${line}`);
  const now = () => performance.timeOrigin + performance.now();
  /** Answers from a node other than `node` to requests sent after `since` (when `node` answered). */
  const pulledBack = (records: readonly ProbeRecord[], node: string, since: number) => records.filter((r) => r.ok && r.sent > since && r.node !== node);

  before(async () => {
    const t0 = Date.now();
    l2 = await L2Lab.start(3);
    await l2.configurePool();
    ({ v4: vip4, v6: vip6 } = await l2.service(WEB));
    await l2.waitForSteadyState(web());
    log(`lab with 3 nodes and Service lab/${WEB} (${vip4}, ${vip6}) ready in ${Date.now() - t0} ms`);
  });

  after(async () => {
    await l2?.stop();
  });

  const announcerOf = () => l2.waitForAnnouncer(labNamespace, WEB);

  it('ARP and NDP answers carry the MAC of the node ServiceL2Status names, whose speaker reports the service', async () => {
    const node = await announcerOf();
    const mac = l2.mac(node);
    const arp = await until('ARP replies to arping', async () => {
      const r = await l2.arping(vip4);
      return r.length > 0 ? r : undefined;
    });
    assert.deepEqual([...new Set(arp)], [mac], `ARP replies for ${vip4} from ${arp.join(', ')}; elected ${node} has ${mac}`);
    const nd = await until('an NDP answer to ndisc6', () => l2.ndisc6(vip6));
    assert.equal(nd, mac, `NDP answer for ${vip6} from ${nd}; elected ${node} has ${mac}`);

    const m = await l2.metrics(node);
    assert.ok(m, `metrics of ${node}`);
    assert.ok(m.announced().has(`${labNamespace}/${WEB}`), `metallb_speaker_announced on ${node}:\n${m.text.split('\n').filter((l) => l.startsWith('metallb_speaker_announced')).join('\n')}`);
    for (const ip of [vip4, vip6]) assert.match(m.text, new RegExp(`metallb_speaker_announced\\{[^}]*ip="${ip.replace(/\./g, '\\.')}"[^}]*\\} 1`));
    for (const other of l2.nodes.filter((n) => n !== node)) {
      const om = await l2.metrics(other);
      assert.ok(om && !om.announced().has(`${labNamespace}/${WEB}`), `${other} must not report ${WEB} as announced`);
    }
    assert.equal(await l2.httpGet(vip4), node, 'curl from the client is answered by the elected node');
    log(`${WEB}: elected ${node} (${mac}); ARP and NDP answered with that MAC`);
  });

  it('negative controls: a pool IP without a service, and a VIP on a node\'s lo that nobody announces, get no ARP/NDP answer', async () => {
    for (const n of l2.nodes) {
      assert.equal(l2.topology.mustExec(n, ['sysctl', '-n', 'net.ipv4.conf.all.arp_ignore']).trim(), '1', `${n}: arp_ignore`);
    }
    // The backends put every service IP on every node's lo, yet only one node answered above; here an IP
    // that is in the pool but belongs to no service is answered by nobody.
    // An address on node1's lo that no speaker announces: the kernel must not answer for it either.
    const host = l2.nodes[0]!;
    l2.topology.mustExec(host, ['ip', 'addr', 'add', `${ON_LO4}/32`, 'dev', 'lo']);
    l2.topology.mustExec(host, ['ip', 'addr', 'add', `${ON_LO6}/128`, 'dev', 'lo']);
    try {
      const [arpUnused, ndUnused, arpLo, ndLo] = await Promise.all([l2.arping(UNUSED4), l2.ndisc6(UNUSED6), l2.arping(ON_LO4), l2.ndisc6(ON_LO6)]);
      assert.deepEqual(arpUnused, [], `ARP for ${UNUSED4} (no service)`);
      assert.equal(ndUnused, undefined, `NDP for ${UNUSED6} (no service)`);
      assert.deepEqual(arpLo, [], `ARP for ${ON_LO4} (on ${host}'s lo, not announced)`);
      assert.equal(ndLo, undefined, `NDP for ${ON_LO6} (on ${host}'s lo, not announced)`);
      // Positive control: the address is live on that node (a static neighbour entry on the client
      // reaches it), so the silence above is arp_ignore plus no announcement, not a dead address.
      l2.topology.mustExec('client', ['ip', 'neigh', 'replace', ON_LO4, 'lladdr', l2.mac(host), 'dev', 'eth0', 'nud', 'permanent']);
      assert.equal(await l2.httpGet(ON_LO4), host, `${ON_LO4} is served by ${host} when the client is told its MAC`);
    } finally {
      l2.topology.exec('client', ['ip', 'neigh', 'del', ON_LO4, 'dev', 'eth0']);
      l2.topology.exec(host, ['ip', 'addr', 'del', `${ON_LO4}/32`, 'dev', 'lo']);
      l2.topology.exec(host, ['ip', 'addr', 'del', `${ON_LO6}/128`, 'dev', 'lo']);
    }
  });

  it('externalTrafficPolicy Local: only the node with the endpoint announces; moving the endpoint moves the announcement', async () => {
    const [, second, third] = l2.nodes as [string, string, string];
    const discovery = l2.ctx.kc.makeApiClient(DiscoveryV1Api);
    await l2.ctx.core.createNamespace({ body: { metadata: { name: LOCAL_NS } } });
    await l2.ctx.core.createNamespacedService({
      namespace: LOCAL_NS,
      body: {
        metadata: { name: LOCAL, namespace: LOCAL_NS, annotations: { 'metallb.io/address-pool': POOL } },
        spec: {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          ipFamilyPolicy: 'SingleStack',
          ipFamilies: ['IPv4'],
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
          selector: { app: LOCAL },
        },
      },
    });
    // No backend watches this namespace: the EndpointSlice is ours, with one endpoint on `second`.
    const slice = (node: string, i: number) => ({
      metadata: { name: `${LOCAL}-ep`, namespace: LOCAL_NS, labels: { 'kubernetes.io/service-name': LOCAL, 'endpointslice.kubernetes.io/managed-by': 'test.ironlb.io' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [nodeIPv4(i)], nodeName: node, conditions: { ready: true, serving: true, terminating: false } }],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    });
    await discovery.createNamespacedEndpointSlice({ namespace: LOCAL_NS, body: slice(second, 2) });
    const { v4: ip } = await l2.waitForIPs(LOCAL_NS, LOCAL);
    // kube-proxy would put the IP on every node; the lab backends only do that for their own namespace.
    for (const n of l2.nodes) l2.topology.mustExec(n, ['ip', 'addr', 'replace', `${ip}/32`, 'dev', 'lo']);
    try {
      assert.equal(await l2.waitForAnnouncer(LOCAL_NS, LOCAL), second, `ServiceL2Status of ${LOCAL}`);
      const arp = await until('ARP replies', async () => {
        const r = await l2.arping(ip);
        return r.length > 0 ? r : undefined;
      });
      assert.deepEqual([...new Set(arp)], [l2.mac(second)], `ARP for ${ip}: ${arp.join(', ')}; ${second} is ${l2.mac(second)}`);
      assert.equal(await l2.httpGet(ip), second);
      assert.equal(l2.neighbour(ip), l2.mac(second), "client's neighbour entry");
      for (const n of l2.nodes) {
        const m = await l2.metrics(n);
        assert.equal(m?.announced().has(`${LOCAL_NS}/${LOCAL}`), n === second, `${n} announces ${LOCAL}: ${n === second}`);
      }

      // The endpoint moves to `third`.
      const current = await discovery.readNamespacedEndpointSlice({ name: `${LOCAL}-ep`, namespace: LOCAL_NS });
      const moved = slice(third, 3);
      await discovery.replaceNamespacedEndpointSlice({
        name: `${LOCAL}-ep`,
        namespace: LOCAL_NS,
        body: { ...moved, metadata: { ...moved.metadata, resourceVersion: current.metadata?.resourceVersion } },
      });
      assert.equal(await l2.waitForAnnouncer(LOCAL_NS, LOCAL, { is: third }), third);
      // Gratuitous ARP from the new node moves the client's entry without the client asking.
      const entry = await until(`the client's neighbour entry for ${ip} to move to ${third}`, () => (l2.neighbour(ip) === l2.mac(third) ? l2.mac(third) : undefined));
      assert.equal(entry, l2.mac(third));
      assert.equal(await until(`an answer from ${third}`, async () => ((await l2.httpGet(ip)) === third ? third : undefined)), third);
      await until(`${second} to stop announcing ${LOCAL}`, async () => (await l2.metrics(second))?.announced().has(`${LOCAL_NS}/${LOCAL}`) === false);
      // `second` keeps answering ARP requests for a moment (make-before-break), then only `third` does.
      let lastArp: string[] = [];
      await until(`ARP for ${ip} answered by ${third} alone (last: ${lastArp.join(', ')})`, async () => {
        lastArp = [...new Set(await l2.arping(ip))];
        return lastArp.length === 1 && lastArp[0] === l2.mac(third);
      });
      log(`${LOCAL} (Local, ${ip}): ${second} → ${third} with its endpoint; the client's neighbour entry followed`);
    } finally {
      await l2.ctx.core.deleteNamespacedService({ name: LOCAL, namespace: LOCAL_NS }).catch(() => undefined);
      for (const n of l2.nodes) l2.topology.exec(n, ['ip', 'addr', 'del', `${ip}/32`, 'dev', 'lo']);
    }
  });

  it('failover: when the announcing node is cut off, another node takes over and the client\'s neighbour entry moves to it; when it returns it takes the service back cleanly', async () => {
    const old = await announcerOf();
    assert.equal(await l2.httpGet(vip4), old);
    assert.equal(l2.neighbour(vip4), l2.mac(old));
    const probe = l2.startProbe(vip4, { intervalMs: 20, timeoutMs: 1000 });
    try {
      await probe.ready;
      await until('the probe to be answered', () => probe.records.some((r) => r.ok && r.node === old), 30_000, 50);
      const tCut = now();
      l2.topology.linkDown(old);
      let tUp = 0;
      let tTaken = 0;
      try {
        const took = await until(`an answer from a node other than ${old}`, () => probe.records.find((r) => r.ok && r.sent > tCut && r.node !== old), 60_000, 50).catch(
          (err: Error) => assert.fail(`${err.message}\n${l2.speakerLogs()}`),
        );
        const taker = took.node!;
        tTaken = took.sent;
        assert.equal(l2.neighbour(vip4), l2.mac(taker), `client's neighbour entry for ${vip4} after failover`);
        assert.equal(await l2.waitForAnnouncer(labNamespace, WEB, { is: taker }), taker, 'ServiceL2Status follows');
        const v6 = await until('an NDP answer', () => l2.ndisc6(vip6));
        assert.equal(v6, l2.mac(taker), 'IPv6 moved with IPv4');
        log(`link of ${old} down: ${taker} took over (${l2.mac(taker)})`);
      } finally {
        tUp = now();
        l2.topology.linkUp(old);
      }
      const back = await l2.waitForSteadyState(web());
      // The node that comes back takes the service over again (same election); the one handing it back
      // keeps answering requests for a moment but must not pull the client back to itself.
      const first = await until(`an answer from ${back} after the link came back`, () => probe.records.find((r) => r.ok && r.sent > tUp && r.node === back), 60_000, 50);
      await until('2.5 s of requests after that', () => probe.records.some((r) => r.sent > first.sent + 2500), 30_000, 50);
      const pulled = pulledBack(probe.records, back, first.sent);
      const lost = probe.records.filter((r) => !r.ok && r.sent > tCut && r.sent < tTaken).length;
      log(`${lost} requests (every 20 ms) lost while ${old} was cut off; link up again: steady, ${back} announces; ${pulled.length} later answers from another node`);
      assert.deepEqual(pulled, [], `once ${back} answered again, no other node may answer (the client was pulled back)`);
    } finally {
      await probe.stop();
    }
  });

  it('partition rule: a node cut off from every other speaker fences itself (isolated, announces nothing); the others elect a new node; it rejoins when the link returns', async () => {
    const cut = await announcerOf();
    const svc = `${labNamespace}/${WEB}`;
    l2.topology.linkDown(cut);
    try {
      const fenced = await until(`${cut} to report itself isolated and stop announcing`, async () => {
        const m = await l2.metrics(cut);
        return m && m.gauge('ironlb_membership_isolated_bool') === 1 && !m.announced().has(svc) ? m : undefined;
      }, 60_000, 200).catch((err: Error) => assert.fail(`${err.message}\n${l2.speakerLogs()}`));
      assert.equal(fenced.announced().size, 0, `${cut} announces nothing while isolated`);
      const next = await l2.waitForAnnouncer(labNamespace, WEB, { except: cut });
      assert.notEqual(next, cut);
      assert.equal(await until(`an answer from ${next}`, async () => ((await l2.httpGet(vip4, 1)) === next ? next : undefined)), next);
      for (const n of l2.nodes.filter((x) => x !== cut)) {
        const m = await l2.metrics(n);
        assert.equal(m?.gauge('ironlb_membership_isolated_bool'), 0, `${n} is not isolated`);
      }
      // The cut node still reaches the API server (the lab bridges it in over a unix socket, not eth0):
      // it withdrew its ServiceL2Status too, so exactly one node claims the service.
      assert.deepEqual(await l2.l2StatusNodes(labNamespace, WEB), [next]);
      log(`link of ${cut} down: it fenced itself (isolated=1, announces nothing); ${next} took over`);
    } finally {
      l2.topology.linkUp(cut);
    }
    await until(`${cut} to rejoin`, async () => {
      const m = await l2.metrics(cut);
      return m?.gauge('ironlb_membership_isolated_bool') === 0 && m.gauge('ironlb_membership_members_alive') === l2.nodes.length;
    }, 60_000, 200);
    const back = await l2.waitForSteadyState(web());
    log(`link of ${cut} up again: it rejoined; ${back} announces`);
  });

  it('planned handover: SIGTERM to the announcing speaker moves the service to another node while a client keeps asking', async () => {
    const old = await announcerOf();
    const proc = l2.speaker(old);
    assert.ok(proc, `${old}'s speaker process`);
    const probe = l2.startProbe(vip4, { intervalMs: 20, timeoutMs: 1000 });
    try {
      await probe.ready;
      await until('the probe to be answered', () => probe.records.some((r) => r.ok && r.node === old), 30_000, 50);
      const tTerm = now();
      const exit = await proc.stop({ signal: 'SIGTERM', timeoutMs: 30_000 });
      assert.deepEqual(exit, { code: 0, signal: null }, `${old}'s speaker exits cleanly on SIGTERM:\n${proc.tail()}`);
      const first = await until(`the probe to be answered by a node other than ${old}`, () => probe.records.find((r) => r.ok && r.sent > tTerm && r.node !== old), 60_000, 50);
      const taker = first.node!;
      await until('2.5 s of requests after the switch', () => probe.records.some((r) => r.sent > first.sent + 2500), 30_000, 50);
      const records = probe.records.filter((r) => r.sent > tTerm);
      const lost = records.filter((r) => !r.ok);
      const pulled = pulledBack(probe.records, taker, first.sent);
      log(
        `SIGTERM to ${old}'s speaker (pid ${proc.pid}): ${taker} answered from ${Math.round(first.done - tTerm)} ms on; ` +
          `${records.length} requests since SIGTERM: ${lost.length} lost` +
          (lost.length ? ` (${lost.map((r) => r.err).join(', ')})` : '') +
          `, ${pulled.length} answered by ${old} again after ${taker} had answered`,
      );
      assert.notEqual(taker, old);
      assert.deepEqual(pulled, [], `once ${taker} answered, ${old} (handing over) must not pull the client back`);
      assert.equal(l2.neighbour(vip4), l2.mac(taker), "the client's neighbour entry moved");
      assert.equal(await l2.waitForAnnouncer(labNamespace, WEB, { is: taker }), taker);
    } finally {
      await probe.stop();
    }
  });

  it('wrong membership key: a speaker with another key is never admitted, stays fenced and announces nothing; the service stays answered', async () => {
    // The previous test left one speaker stopped; if it did not run, stop the announcer's now.
    let odd = l2.nodes.find((n) => !l2.speaker(n));
    if (!odd) {
      odd = await announcerOf();
      await l2.speaker(odd)!.stop({ timeoutMs: 30_000 });
    }
    const good = l2.nodes.filter((n) => n !== odd);
    const answering = await l2.waitForSteadyState(web(), good);
    assert.ok(good.includes(answering));
    const wrong = l2.startSpeaker(odd, { memberlistKey: 'not-the-lab-key' });
    try {
      await l2.waitForSpeakerReady(odd);
      // Watch for a while: the odd speaker stays unjoined (fenced), the others never count it.
      let fencedSeen = false;
      for (let i = 0; i < 8; i++) {
        const m = await l2.metrics(odd);
        if (m?.gauge('ironlb_membership_isolated_bool') !== undefined) {
          fencedSeen = true;
          assert.equal(m.gauge('ironlb_membership_isolated_bool'), 1, `${odd} (wrong key) must be isolated:\n${wrong.tail()}`);
          assert.equal(m.announced().size, 0, `${odd} (wrong key) must announce nothing`);
          assert.equal(m.gauge('ironlb_membership_members_alive'), 1, `${odd} sees only itself`);
        }
        for (const n of good) {
          const gm = await l2.metrics(n);
          assert.equal(gm?.gauge('ironlb_membership_members_alive'), good.length, `${n} must not admit ${odd}`);
          assert.equal(gm?.gauge('ironlb_membership_isolated_bool'), 0, `${n} is not isolated`);
        }
        assert.deepEqual(await l2.l2StatusNodes(labNamespace, WEB), [answering]);
        assert.equal(await l2.httpGet(vip4), answering, 'the service stays answered by a correctly keyed node');
        await sleep(750);
      }
      assert.ok(fencedSeen, `${odd}'s speaker never reported its membership state`);
      const arp = await l2.arping(vip4);
      assert.ok(arp.length > 0 && arp.every((m) => m === l2.mac(answering)), `ARP for ${vip4}: ${arp.join(', ')}; only ${answering} may answer`);
      log(`${odd} with a wrong key: isolated, announces nothing; ${good.join(', ')} see ${good.length} members; ${answering} keeps answering`);
    } finally {
      await wrong.stop({ timeoutMs: 30_000 });
      // Leave the lab as it was: every speaker with the right key.
      l2.startSpeaker(odd);
    }
    await l2.waitForSpeakerReady(odd);
    const back = await l2.waitForSteadyState(web());
    log(`${odd} restarted with the right key: joined; ${back} announces`);
  });
});
