// Real frames through the native addon: a responder (packet-socket.test-responder.ts, built on the
// layer2 codecs) runs in one network namespace; arping and ndisc6 ask from another across a veth pair.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createNetnsPair, netnsSkipReason, type NetnsPair, type ScriptProcess } from './netns.test-support.ts';
import { bpfProgram, neighborSolicitationFilter, PacketSocket } from '../../src/net/packet-socket.ts';

const VIP4 = '10.99.0.100';
const VIP6 = 'fd99::100';
const RESPONDER = 'test/net/packet-socket.test-responder.ts';

describe('bpfProgram', () => {
  it('lays out struct sock_filter entries in host byte order', () => {
    const program = bpfProgram([[0x28, 1, 2, 12]]);
    assert.equal(program.length, 8);
    assert.deepEqual([program[2], program[3]], [1, 2]);
    assert.equal(neighborSolicitationFilter().length, 8 * 8);
  });
});

describe('PacketSocket without the addon or a namespace', { skip: netnsSkipReason() }, () => {
  it('reports a missing interface as ENODEV', () => {
    assert.throws(() => PacketSocket.open('ironlb-none0', 0x0806), { code: 'ENODEV' });
  });
});

describe('PacketSocket on a veth pair between two network namespaces', { skip: netnsSkipReason(['arping', 'ndisc6']) }, () => {
  let pair: NetnsPair;
  let responder: ScriptProcess;
  const stats = async (): Promise<{ errors: string[]; dropped: string[]; ndpFrames: number; ndpNotSolicitation: number; arpReplies: number }> => {
    responder.send('stats');
    return (await responder.next('stats')) as never;
  };
  const arping = (count: number, deadline?: number) =>
    pair.exec(pair.b.ns, ['arping', '-c', String(count), ...(deadline ? ['-w', String(deadline)] : []), '-I', pair.b.ifname, VIP4]);
  const ndisc6 = () => pair.exec(pair.b.ns, ['ndisc6', '-1', '-r', '2', '-w', '700', VIP6, pair.b.ifname]);
  const neighbour = (ip: string): string | undefined => {
    const out = pair.exec(pair.b.ns, ['ip', '-j', 'neigh', 'show', ip, 'dev', pair.b.ifname]).stdout;
    return (JSON.parse(out || '[]') as { lladdr?: string }[])[0]?.lladdr;
  };
  const macPattern = (): RegExp => new RegExp(pair.a.mac, 'i');

  before(() => {
    pair = createNetnsPair('l2');
  });
  after(() => pair?.cleanup());

  it('without a responder nobody answers for the VIPs (negative control)', () => {
    const arp = arping(2);
    assert.equal(arp.status, 1, arp.stdout);
    assert.doesNotMatch(arp.stdout, /reply from/i);
    const nd = ndisc6();
    assert.notEqual(nd.status, 0, nd.stdout);
    assert.match(nd.stdout, /No response/);
  });

  it('starts a responder in the other namespace', async () => {
    responder = pair.spawnScript(pair.a.ns, RESPONDER, ['--interface', pair.a.ifname, '--ipv4', VIP4, '--ipv6', VIP6]);
    const ready = await responder.next('ready');
    assert.equal(ready.mac, pair.a.mac);
    assert.equal(ready.group, '33:33:ff:00:01:00');
  });

  it('answers ARP requests for the VIP with its MAC', () => {
    const r = arping(2);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const replies = r.stdout.match(/Unicast reply from 10\.99\.0\.100 \[([0-9A-F:]+)\]/gi) ?? [];
    assert.equal(replies.length, 2, r.stdout);
    assert.match(replies[0]!, macPattern());
    // The asking side's kernel resolves the VIP through the responder too (arping does not fill the
    // neighbour table; a ping makes the kernel ask). Nobody answers the ping itself.
    const ping = pair.exec(pair.b.ns, ['ping', '-c', '1', '-W', '1', VIP4]);
    assert.equal(ping.status, 1);
    assert.equal(neighbour(VIP4), pair.a.mac);
  });

  it('answers Neighbor Solicitations for the VIP with its MAC', () => {
    const r = ndisc6();
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Target link-layer address: ${pair.a.mac}`, 'i'));
    // The asking side's kernel resolves the VIP through the responder too.
    const ping = pair.exec(pair.b.ns, ['ping', '-6', '-c', '1', '-W', '1', VIP6]);
    assert.equal(ping.status, 1);
    assert.equal(neighbour(VIP6), pair.a.mac);
  });

  it('joins and leaves the solicited-node multicast MAC on the interface', async () => {
    const groups = (): string => pair.exec(pair.a.ns, ['ip', 'maddr', 'show', 'dev', pair.a.ifname]).stdout;
    assert.match(groups(), /link\s+33:33:ff:00:01:00/);
    responder.send('leave');
    await responder.next('left');
    assert.doesNotMatch(groups(), /link\s+33:33:ff:00:01:00/);
    responder.send('join');
    await responder.next('joined');
    assert.match(groups(), /link\s+33:33:ff:00:01:00/);
  });

  it('keeps other IPv6 traffic in the kernel (BPF filter) and never sees its own frames', async () => {
    const before = await stats();
    const ping = pair.exec(pair.b.ns, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '1', pair.a.ipv6]);
    assert.equal(ping.status, 0, ping.stdout);
    const after = await stats();
    assert.deepEqual(after.dropped, []); // echo requests and replies never reached the socket
    assert.equal(after.ndpNotSolicitation, 0); // nor did its own advertisements
    assert.ok(after.ndpFrames >= before.ndpFrames);
  });

  it('moves neighbour entries with gratuitous ARP and an unsolicited NA (takeover)', async () => {
    const stale = '02:de:ad:be:ef:01';
    for (const ip of [VIP4, VIP6]) {
      pair.exec(pair.b.ns, ['ip', 'neigh', 'replace', ip, 'lladdr', stale, 'dev', pair.b.ifname, 'nud', 'stale']);
      assert.equal(neighbour(ip), stale);
    }
    await sleep(1100); // the kernel ignores updates within locktime (1 s) of the last one
    responder.send('announce');
    await responder.next('announced');
    for (let i = 0; i < 30 && (neighbour(VIP4) !== pair.a.mac || neighbour(VIP6) !== pair.a.mac); i++) await sleep(100);
    assert.equal(neighbour(VIP4), pair.a.mac);
    assert.equal(neighbour(VIP6), pair.a.mac);
  });

  it('interfaceInfo sees interfaces without addresses (os.networkInterfaces does not)', async () => {
    pair.exec(pair.a.ns, ['ip', 'link', 'add', 'ilx0', 'type', 'veth', 'peer', 'name', 'ilx1']);
    pair.exec(pair.a.ns, ['ip', 'link', 'set', 'ilx0', 'arp', 'off']);
    responder.send('info ilx0');
    const spare = (await responder.next('info')) as { info: Record<string, unknown>; inNetworkInterfaces: boolean };
    assert.equal(spare.inNetworkInterfaces, false);
    assert.equal(spare.info.name, 'ilx0');
    assert.match(String(spare.info.mac), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual(
      [spare.info.up, spare.info.noarp, spare.info.loopback, spare.info.slave, spare.info.hardwareType, spare.info.mtu],
      [false, true, false, false, 1, 1500],
    );
    assert.ok(Number(spare.info.ifindex) > 0);
    responder.send(`info ${pair.a.ifname}`);
    const veth = (await responder.next('info')) as { info: Record<string, unknown> };
    assert.deepEqual([veth.info.mac, veth.info.up, veth.info.running, veth.info.noarp], [pair.a.mac, true, true, false]);
    responder.send('info lo');
    const lo = (await responder.next('info')) as { info: Record<string, unknown> };
    assert.deepEqual([lo.info.loopback, lo.info.hardwareType], [true, 772]);
    responder.send('info nosuch0');
    assert.deepEqual(await responder.next('info'), { event: 'info', error: 'ENODEV' });
  });

  it('reports ENETDOWN when the link goes down and keeps answering when it is back', async () => {
    pair.exec(pair.a.ns, ['ip', 'link', 'set', pair.a.ifname, 'down']);
    await sleep(200);
    pair.exec(pair.a.ns, ['ip', 'link', 'set', pair.a.ifname, 'up']);
    const s = await stats();
    assert.deepEqual(s.errors.sort(), ['arp ENETDOWN', 'ndp ENETDOWN']);
    const r = arping(3, 6);
    assert.match(r.stdout, /Unicast reply from 10\.99\.0\.100/, r.stdout);
  });

  it('closes cleanly: the process exits by itself once its sockets are closed', async () => {
    responder.send('exit');
    await responder.next('closed');
    assert.equal(await responder.exited(5000), 0, responder.stderr());
  });
});
