// Test helper, run by packet-socket.test.ts inside a network namespace (`ip netns exec NS node --import
// tsx ...`): a minimal ARP + NDP responder for one VIP of each family, built from the layer2 codecs.
// Controlled by lines on stdin (stats | leave | join | announce | info IFNAME | exit); reports JSON lines
// on stdout.
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { decodeArpFrame, encodeArpReplyFrame, encodeGratuitousArpReplyFrame, encodeGratuitousArpRequestFrame } from '../../src/layer2/arp.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6 } from '../../src/layer2/ethernet.ts';
import {
  decodeNdpFrame,
  encodeNeighborAdvertisementReplyFrame,
  encodeUnsolicitedNeighborAdvertisementFrame,
  solicitedNodeMac,
} from '../../src/layer2/ndp.ts';
import { interfaceInfo, neighborSolicitationFilter, PacketSocket } from '../../src/net/packet-socket.ts';

const { values } = parseArgs({
  options: { interface: { type: 'string' }, ipv4: { type: 'string' }, ipv6: { type: 'string' } },
});
const ifname = values.interface!;
const report = (event: string, data: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
};

const info = interfaceInfo(ifname);
const mac = info.mac!;
const stats = { arpFrames: 0, arpReplies: 0, ndpFrames: 0, ndpNotSolicitation: 0, ndpReplies: 0, dropped: [] as string[], errors: [] as string[] };

const arp = PacketSocket.open(ifname, ETHERTYPE_ARP).onError((e) => stats.errors.push(`arp ${e.code}`));
// Frames typed 'otherhost' were not for this host (promiscuous mode, or a VLAN without a VLAN device:
// the kernel strips the tag and marks them so): never answer those.
arp.onFrame((frame, packetType) => {
  stats.arpFrames++;
  if (packetType === 'otherhost') return;
  const d = decodeArpFrame(frame);
  if (!d.ok) {
    stats.dropped.push(d.error.reason);
    return;
  }
  if (d.value.arp.operation === 'request' && d.value.arp.targetIp === values.ipv4) {
    arp.send(encodeArpReplyFrame(d.value.arp, mac));
    stats.arpReplies++;
  }
});

const ndp = PacketSocket.open(ifname, ETHERTYPE_IPV6, { filter: neighborSolicitationFilter() }).onError((e) =>
  stats.errors.push(`ndp ${e.code}`),
);
const group = solicitedNodeMac(values.ipv6!);
ndp.join(group);
ndp.onFrame((frame, packetType) => {
  stats.ndpFrames++;
  if (packetType === 'otherhost') return;
  const d = decodeNdpFrame(frame);
  if (!d.ok) {
    stats.dropped.push(d.error.reason);
    return;
  }
  const m = d.value.message;
  if (m.type !== 'neighbor-solicitation') {
    stats.ndpNotSolicitation++;
    return;
  }
  if (m.target === values.ipv6) {
    ndp.send(encodeNeighborAdvertisementReplyFrame(m, d.value.ethernet.source, mac));
    stats.ndpReplies++;
  }
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === 'info') {
    try {
      return report('info', { info: interfaceInfo(arg!), inNetworkInterfaces: arg! in networkInterfaces() });
    } catch (err) {
      return report('info', { error: (err as NodeJS.ErrnoException).code });
    }
  }
  switch (command) {
    case 'stats':
      return report('stats', stats);
    case 'leave':
      ndp.leave(group);
      return report('left', { group });
    case 'join':
      ndp.join(group);
      return report('joined', { group });
    case 'announce':
      arp.send(encodeGratuitousArpRequestFrame(values.ipv4!, mac));
      arp.send(encodeGratuitousArpReplyFrame(values.ipv4!, mac));
      ndp.send(encodeUnsolicitedNeighborAdvertisementFrame(values.ipv6!, mac));
      return report('announced');
    case 'exit':
      arp.close();
      ndp.close();
      process.stdin.destroy();
      return report('closed');
  }
});

report('ready', { mac, ifindex: info.ifindex, group });
