// A client for Layer2 failover measurements, run inside the lab's client namespace: every --interval-ms
// it opens a NEW TCP connection to --ip:--port, sends `GET /` and reads the answer (the lab backends
// answer with their node name). A request not answered within --timeout-ms counts as failed. Requests
// overlap when one takes longer than the interval, so a dead path never slows the schedule down.
// One JSON line per request on stdout, in completion order:
//   {"seq":12,"sent":1716800000123.4,"done":1716800000125.1,"ok":true,"node":"node2"}
//   {"seq":13,"sent":1716800000133.4,"done":1716800000183.4,"ok":false,"err":"timeout"}
// Times are milliseconds since the epoch (performance.timeOrigin + performance.now()), comparable with
// the same expression in the parent. The first line is {"ready":true,...}. Runs until SIGTERM or
// --duration-ms.
//
//   node --import tsx test/speaker/layer2-probe.ts --ip 10.99.0.200 [--port 80] [--interval-ms 10] [--timeout-ms 50]
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    ip: { type: 'string' },
    port: { type: 'string', default: '80' },
    'interval-ms': { type: 'string', default: '10' },
    'timeout-ms': { type: 'string', default: '50' },
    'duration-ms': { type: 'string', default: '0' },
  },
});
const ip = values.ip;
if (!ip) {
  console.error('layer2-probe: --ip is required');
  process.exit(2);
}
const port = Number(values.port);
const intervalMs = Number(values['interval-ms']);
const timeoutMs = Number(values['timeout-ms']);
const durationMs = Number(values['duration-ms']);

export interface ProbeRecord {
  readonly seq: number;
  readonly sent: number;
  readonly done: number;
  readonly ok: boolean;
  readonly node?: string;
  readonly err?: string;
}

const now = (): number => performance.timeOrigin + performance.now();
const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

function probe(seq: number): void {
  const sent = now();
  let data = '';
  let finished = false;
  const socket = connect({ host: ip!, port });
  const finish = (ok: boolean, detail: string): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
    const done = now();
    emit(ok ? { seq, sent, done, ok, node: detail } : { seq, sent, done, ok, err: detail });
  };
  const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
  socket.setNoDelay(true);
  socket.setEncoding('latin1');
  socket.on('connect', () => socket.write(`GET / HTTP/1.0\r\nHost: ${ip}\r\nConnection: close\r\n\r\n`));
  socket.on('data', (d: string) => {
    data += d;
  });
  socket.on('end', () => {
    const head = data.indexOf('\r\n\r\n');
    const ok = data.startsWith('HTTP/1.1 200') || data.startsWith('HTTP/1.0 200');
    const body = head >= 0 ? data.slice(head + 4).trim() : '';
    finish(ok && body !== '', ok && body !== '' ? body : `bad answer: ${JSON.stringify(data.slice(0, 40))}`);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
  socket.on('close', () => finish(false, 'closed without an answer'));
}

const start = now();
emit({ ready: true, ip, port, intervalMs, timeoutMs, start });
let seq = 0;
let slot = 0;
const tick = (): void => {
  probe(seq++);
  if (durationMs > 0 && now() - start >= durationMs) {
    setTimeout(() => process.exit(0), timeoutMs + 50);
    return;
  }
  // Absolute schedule: a late tick does not push the following ones back, and slots missed while this
  // process was not scheduled are skipped rather than sent in a burst.
  slot = Math.max(slot + 1, Math.ceil((now() - start) / intervalMs));
  setTimeout(tick, Math.max(0, start + slot * intervalMs - now()));
};
tick();
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
