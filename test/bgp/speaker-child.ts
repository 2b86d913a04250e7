// One BGPSpeaker in its own process, run inside a node's network namespace by the real-router tests
// (`ip netns exec NS node --import tsx test/bgp/speaker-child.ts OPTIONS_JSON`): sockets open in the
// namespace of the thread that opens them, so each speaker needs its own process.
//
// stdin, one JSON command a line: {"id":1,"cmd":"apply","peers":[…],"routes":{"peer":[{prefix,communities,localPref}]}}
// {"id":2,"cmd":"status"}, {"id":3,"cmd":"stop"}. stdout, one JSON line per answer ({"id":…,"event":…})
// and {"event":"status","status":[…]} on every status change. Logs go to stderr.
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { BGPSpeaker, type BGPSpeakerOptions } from '../../src/bgp/bgp-speaker.ts';
import { parseCommunity } from '../../src/config/community.ts';
import type { BGPPeer, Community } from '../../src/config/model.ts';
import { parseCIDR } from '../../src/net/address.ts';
import type { BGPRoute } from '../../src/speaker/plan.ts';

export interface ChildRoute {
  readonly prefix: string;
  /** "a:b" or "large:a:b:c". */
  readonly communities?: readonly string[];
  readonly localPref?: number;
}

export interface ChildCommand {
  readonly id: number;
  readonly cmd: 'apply' | 'status' | 'stop';
  readonly peers?: readonly BGPPeer[];
  readonly routes?: Readonly<Record<string, readonly ChildRoute[]>>;
}

function toRoute(r: ChildRoute): BGPRoute {
  const c = parseCIDR(r.prefix);
  if (typeof c === 'string') throw new Error(`${r.prefix} ${c}`);
  const communities = (r.communities ?? []).map((t) => {
    const parsed = parseCommunity(t);
    if (!parsed || 'error' in parsed) throw new Error(`bad community ${t}`);
    return parsed as Community;
  });
  return { prefix: { family: c.address.family, value: c.address.value, length: c.prefixLength }, communities, localPref: r.localPref, services: [] };
}

const options = JSON.parse(process.argv[2] ?? '{}') as Omit<BGPSpeakerOptions, 'log' | 'clock' | 'transport'>;
const log = pino({ level: process.env.IRONLB_LOG_LEVEL ?? 'info' }, pino.destination(2));
const speaker = new BGPSpeaker({ ...options, log });
const emit = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
speaker.onStatusChange(() => emit({ event: 'status', status: speaker.status() }));

let stopping = false;
async function stop(id?: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await speaker.stop();
  emit({ id, event: 'stopped' });
  process.exit(0);
}
process.on('SIGTERM', () => void stop());

const input = createInterface({ input: process.stdin });
input.on('close', () => void stop()); // the test process went away
input.on('line', (line) => {
  let cmd: ChildCommand;
  try {
    cmd = JSON.parse(line) as ChildCommand;
  } catch {
    emit({ event: 'error', error: `not JSON: ${line}` });
    return;
  }
  try {
    switch (cmd.cmd) {
      case 'apply': {
        const routes = new Map(Object.entries(cmd.routes ?? {}).map(([k, v]) => [k, v.map(toRoute)]));
        speaker.apply(cmd.peers ?? [], routes, new Map());
        emit({ id: cmd.id, event: 'applied' });
        break;
      }
      case 'status':
        emit({ id: cmd.id, event: 'status', status: speaker.status() });
        break;
      case 'stop':
        void stop(cmd.id);
        break;
    }
  } catch (err) {
    emit({ id: cmd.id, event: 'error', error: String(err) });
  }
});
emit({ event: 'ready', pid: process.pid });
