// npm run bench -- bgp-fill [--runs N] [--prefixes N]
// Announces 10,000 /32 prefixes from the native speaker (a child process in a node namespace) to FRR in
// the router namespace, and times from Established (the speaker's status event) until FRR has all of them
// (`show bgp summary json` pfxRcd, polled). Each run is a fresh session: the peer is removed (withdraw,
// Cease), then configured again with the whole table. Prints the median of the runs as a JSON line.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { labUnavailable } from '../src/lab/network/requirements.ts';
import { LAN, nodeIPv4, standardLabSpec } from '../src/lab/network/standard-lab.ts';
import { createTopology } from '../src/lab/network/topology.ts';
import { waitFor } from '../src/lab/network/wait-for.ts';
import { startFrr, type FrrRouter } from '../src/lab/routers/frr.ts';
import { labPeer, LabSpeaker, type ChildRoute } from '../test/bgp/lab-speaker.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, prefixes: { type: 'string', default: '10000' } } });
const runs = Math.max(3, Number(values.runs));
const n = Number(values.prefixes);

const why = labUnavailable(['vtysh']) ?? (existsSync('/usr/lib/frr/bgpd') ? undefined : 'FRR is not installed');
if (why) {
  console.error(`bgp-fill: ${why}`);
  process.exit(2);
}

async function received(router: FrrRouter, peer: string): Promise<number> {
  const [summary] = await router.vtyshJson(['show bgp ipv4 unicast summary json']);
  const p = (summary as { peers?: Record<string, { pfxRcd?: number; state?: string }> }).peers?.[peer];
  return p?.state === 'Established' ? (p.pfxRcd ?? 0) : -1;
}

const lab = createTopology(standardLabSpec({ nodes: 1, client: false, farClient: false }));
let speaker: LabSpeaker | undefined;
let router: FrrRouter | undefined;
try {
  router = await startFrr(lab, 'router', { asn: 64512, routerId: LAN.router4, neighbors: [{ address: nodeIPv4(1), asn: 64512 }], installRoutes: false });
  speaker = await LabSpeaker.start(lab, 'node1', { listen: false });
  const routes: ChildRoute[] = Array.from({ length: n }, (_, i) => ({ prefix: `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, communities: ['64512:100'] }));
  const peer = labPeer({ name: 'r', peerAddress: LAN.router4 });
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    let establishedAt: number | undefined;
    const off = speaker.onStatus((status, at) => {
      if (establishedAt === undefined && status.find((s) => s.peer === 'r')?.state === 'Established') establishedAt = at;
    });
    await speaker.apply([peer], { r: routes });
    const doneAt = await waitFor(async () => ((await received(router!, nodeIPv4(1))) === n ? Date.now() : undefined), {
      timeoutMs: 30_000,
      intervalMs: 5,
      what: `${n} prefixes in FRR`,
    });
    // The child's status line can arrive after FRR already counts every prefix: give it a moment.
    for (let i = 0; i < 200 && establishedAt === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    off();
    if (establishedAt === undefined) throw new Error('no Established status event seen');
    const ms = doneAt - establishedAt;
    times.push(ms);
    console.error(`run ${run + 1}: ${ms} ms from Established to ${n} prefixes in FRR`);
    // Next run: a fresh session.
    await speaker.apply([], {});
    await waitFor(async () => (await received(router!, nodeIPv4(1))) <= 0, { timeoutMs: 15_000, intervalMs: 20, what: 'the session gone' });
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(JSON.stringify({ bench: 'bgp-fill', metric: `ms_${n}`, value: median, unit: 'ms', n }));
} finally {
  await speaker?.stop(3000).catch(() => speaker?.kill());
  await router?.stop().catch(() => undefined);
  lab.destroy();
}
