// Child process for topology.test.ts: builds an ordinary and a persistent lab run, starts a process in
// each, prints what it made as one JSON line, then, by MODE:
//   idle  wait for the test to kill it (SIGKILL: a crash, no handler runs; SIGTERM: the signal handler)
//   exit  return normally without destroying anything (the 'exit' handler must clean up)
import { createTopology } from '../../../src/lab/network/topology.ts';

const [registryDir, mode = 'idle'] = process.argv.slice(2);
if (!registryDir || !['idle', 'exit'].includes(mode)) throw new Error('usage: topology.test-crashing-run.ts REGISTRY_DIR [idle|exit]');

const spec = {
  segments: [{ name: 'lan', ipv4: '10.99.0.0/24', ipv6: 'fd99::/64' }],
  hosts: [
    { name: 'a', interfaces: [{ segment: 'lan', ipv4: '10.99.0.1', ipv6: 'fd99::1' }] },
    { name: 'b', interfaces: [{ segment: 'lan', ipv4: '10.99.0.2', ipv6: 'fd99::2' }] },
  ],
};
const out: Record<string, unknown> = {};
for (const [kind, persistent] of [['ordinary', false], ['persistent', true]] as const) {
  const t = createTopology(spec, { registryDir, persistent });
  const sleeper = t.spawn('b', ['sleep', '300']);
  out[kind] = { id: t.id, prefix: t.prefix, dir: t.dir, namespaces: t.record().namespaces, pid: sleeper.pid };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
if (mode === 'idle') setInterval(() => {}, 60_000);
