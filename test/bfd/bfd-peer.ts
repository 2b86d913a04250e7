// Child process for the FRR interop test: runs UdpBfdFactory sessions inside a network namespace and
// reports on stdout as JSON lines:
//   {"event":"ready"}
//   {"event":"Up:10.99.0.1","peer":"10.99.0.1","state":"Up","diagnostic":"No Diagnostic","at":<Date.now()>}
//   {"event":"stats","stats":{...},"sessions":[...]}          (after the line "stats" on stdin)
// Usage: bfd-peer.ts '<JSON [{"peer":..., "local":...}]>' '<JSON BFDProfile>'
import { createInterface } from 'node:readline';
import type { BFDProfile } from '../../src/config/model.ts';
import { UdpBfdFactory } from '../../src/bgp/bfd/udp.ts';

const [peersJson = '[]', profileJson = '{}'] = process.argv.slice(2);
const peers = JSON.parse(peersJson) as { peer: string; local: string }[];
const profile = JSON.parse(profileJson) as BFDProfile;
const out = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

const factory = new UdpBfdFactory();
for (const { peer, local } of peers) {
  const handle = factory.open(peer, local, profile);
  handle.onStateChange((state, diagnostic) => out({ event: `${state}:${peer}`, peer, state, diagnostic, at: Date.now() }));
}
out({ event: 'ready' });

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') out({ event: 'stats', stats: factory.stats(), sessions: factory.sessions() });
  if (line === 'exit') void factory.close().then(() => process.exit(0));
});
process.stdin.on('end', () => void factory.close().then(() => process.exit(0)));
