// Runs a Layer2Announcer (real packet sockets, real clock) inside a network namespace for
// test/layer2/announcer.test.ts. Initial targets: --targets '[{"ip":"10.99.0.100","interfaces":[]}]';
// --no-mld leaves out the IP-layer group joins; --rescan-ms sets the interface re-scan period.
// Commands: JSON lines on stdin; each is answered by a JSON line on stdout whose `event` is the command:
//   {"cmd":"set","targets":[...]}     setTargets          → {event, answered}
//   {"cmd":"announce","ips":[...]}    announceNow         → {event}
//   {"cmd":"status"}                  answered IPs, counters → {event, answered, metrics}
//   {"cmd":"stop"}                    stop(), then the process must exit by itself → {event}
// Logs (pino, IRONLB_LOG_LEVEL, default warn) go to stderr.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { systemClock } from '../../src/clock/clock.ts';
import { parseIP, type IPAddress } from '../../src/net/address.ts';
import { noIpv6GroupMembership } from '../../src/layer2/announcer-multicast.ts';
import { Layer2Announcer, type L2Metrics, type L2Target } from '../../src/layer2/announcer.ts';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '[]' },
    'no-mld': { type: 'boolean', default: false },
    'rescan-ms': { type: 'string', default: '5000' },
  },
});

const report = (event: string, data: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
};

const ip = (text: string): IPAddress => {
  const parsed = parseIP(text);
  if (!parsed) throw new Error(`not an IP: ${text}`);
  return parsed;
};

const targets = (raw: unknown): L2Target[] =>
  (raw as { ip: string; interfaces?: string[] }[]).map((t) => ({ ip: ip(t.ip), interfaces: t.interfaces ?? [] }));

const counters: Record<string, number> = {};
const count = (key: string): void => {
  counters[key] = (counters[key] ?? 0) + 1;
};
const metrics: L2Metrics = {
  requestReceived: (a) => count(`request ${a}`),
  responseSent: (a) => count(`response ${a}`),
  gratuitousSent: (a) => count(`gratuitous ${a}`),
  badFrame: (iface, reason) => count(`bad ${iface} ${reason}`),
};

const log = pino({ level: process.env.IRONLB_LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: true }));
const announcer = new Layer2Announcer({
  log,
  clock: systemClock,
  metrics,
  rescanIntervalMs: Number(values['rescan-ms']),
  // --no-mld: join solicited-node groups at the link layer only (no MLD reports), to show why it matters.
  ...(values['no-mld'] ? { ipv6Groups: noIpv6GroupMembership } : {}),
});
announcer.setTargets(targets(JSON.parse(values.targets)));

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  void (async () => {
    const command = JSON.parse(line) as { cmd: string; targets?: unknown; ips?: string[] };
    switch (command.cmd) {
      case 'set':
        announcer.setTargets(targets(command.targets));
        return report('set', { answered: announcer.answeredIPs() });
      case 'announce':
        announcer.announceNow(command.ips?.map(ip));
        return report('announce');
      case 'status':
        return report('status', { answered: announcer.answeredIPs(), metrics: counters });
      case 'stop':
        await announcer.stop();
        input.close();
        process.stdin.destroy();
        return report('stop');
      default:
        return report('error', { message: `unknown command ${command.cmd}` });
    }
  })().catch((err: unknown) => report('error', { message: String(err) }));
});

report('ready', { answered: announcer.answeredIPs() });
