// Membership failure detection over real UDP on loopback, real clock, n members in this one process on
// distinct ports (default timings: probe 200 ms / timeout 100 ms / suspicion 250 ms·max(1, log10 n)).
// Per trial: a fresh cluster converges, settles, then one member is stopped abruptly (timers cancelled,
// socket closed, no leave) and we time until EVERY other member has dropped it from alive().
// Figures (medians over trials): detect_ms_n3, detect_ms_n10, detect_ms_n50, and
// bytes_per_s_per_node_n50: UDP payload bytes sent per member per second in steady state (envelope
// included; the same plus 28 bytes of IPv4+UDP header per datagram is given as with_ip_udp_headers).
//   BENCH_TRIALS_N3, BENCH_TRIALS_N10, BENCH_TRIALS_N50   trials (default 11, 11, 5)
//   BENCH_STEADY_MS                                      steady-state window for the bytes figure (default 5000)
import { systemClock } from '../src/clock/clock.ts';
import { silentLogger } from '../src/log/logger.ts';
import { Membership, type MemberAddress } from '../src/membership/membership.ts';
import { UdpTransport } from '../src/membership/udp-transport.ts';

const trialsFor: Record<number, number> = {
  3: Number(process.env.BENCH_TRIALS_N3 ?? 11),
  10: Number(process.env.BENCH_TRIALS_N10 ?? 11),
  50: Number(process.env.BENCH_TRIALS_N50 ?? 5),
};
const STEADY_MS = Number(process.env.BENCH_STEADY_MS ?? 5000);
const SETTLE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function emit(metric: string, value: number, unit: string, n: number, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench: 'membership', metric, value: Math.round(value * 10) / 10, unit, n, ...extra }));
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: number[]): number => {
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number): number => Math.round(x);

interface Cluster {
  members: Membership[];
  transports: UdpTransport[];
  addrs: MemberAddress[];
}

async function startCluster(n: number): Promise<Cluster> {
  const transports = await Promise.all(Array.from({ length: n }, () => UdpTransport.open({ address: '127.0.0.1', port: 0 })));
  const addrs = transports.map((t, i) => ({ name: `bench-node-${i}`, address: '127.0.0.1', port: t.port }));
  const members = addrs.map(
    (self, i) =>
      new Membership({
        self,
        keys: ['bench cluster secret'],
        clock: systemClock,
        transport: transports[i]!,
        log: silentLogger(),
        seeds: () => addrs.filter((a) => a.name !== self.name),
      }),
  );
  for (const m of members) m.start();
  return { members, transports, addrs };
}

async function stopCluster(c: Cluster): Promise<void> {
  for (const m of c.members) m.stop();
  await Promise.all(c.transports.map((t) => t.close()));
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!pred()) {
    if (performance.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

interface Trial {
  allMs: number;
  firstMs: number;
  falseDrops: number;
}

async function trial(n: number, measureBytes: boolean): Promise<Trial & { bytesPerSec?: number; headersPerSec?: number }> {
  const c = await startCluster(n);
  try {
    await waitFor(() => c.members.every((m) => m.alive().size === n), 10_000, `n=${n} convergence`);
    await sleep(SETTLE_MS);
    let bytesPerSec: number | undefined;
    let headersPerSec: number | undefined;
    if (measureBytes) {
      const before = c.members.map((m) => m.stats());
      const t = performance.now();
      await sleep(STEADY_MS);
      const secs = (performance.now() - t) / 1000;
      const after = c.members.map((m) => m.stats());
      const bytes = after.reduce((s, a, i) => s + a.sentBytes - before[i]!.sentBytes, 0);
      const msgs = after.reduce((s, a, i) => s + a.sentMessages - before[i]!.sentMessages, 0);
      bytesPerSec = bytes / n / secs;
      headersPerSec = (bytes + 28 * msgs) / n / secs;
      if (!c.members.every((m) => m.alive().size === n)) throw new Error(`n=${n}: a member was lost in steady state`);
    }
    const victimIndex = Math.floor(Math.random() * n);
    const victim = c.addrs[victimIndex]!.name;
    const others = c.members.filter((_, i) => i !== victimIndex);
    const droppedAt = new Map<Membership, number>();
    let falseDrops = 0;
    for (const m of others) {
      m.onChange((alive) => {
        if (!alive.has(victim) && !droppedAt.has(m)) droppedAt.set(m, performance.now());
        if (alive.size < n - 1) falseDrops++;
      });
    }
    const t0 = performance.now();
    c.members[victimIndex]!.stop();
    await c.transports[victimIndex]!.close();
    await waitFor(() => droppedAt.size === others.length, 15_000, `n=${n} detection`);
    const times = [...droppedAt.values()].map((t) => t - t0);
    return { allMs: Math.max(...times), firstMs: Math.min(...times), falseDrops, bytesPerSec, headersPerSec };
  } finally {
    await stopCluster(c);
  }
}

const started = performance.now();
for (const n of [3, 10, 50]) {
  const trials: Trial[] = [];
  let bytes: { bytesPerSec: number; headersPerSec: number } | undefined;
  for (let i = 0; i < trialsFor[n]!; i++) {
    const r = await trial(n, n === 50 && i === 0);
    trials.push(r);
    if (r.bytesPerSec !== undefined && r.headersPerSec !== undefined) bytes = { bytesPerSec: r.bytesPerSec, headersPerSec: r.headersPerSec };
  }
  const all = trials.map((t) => t.allMs);
  emit(`detect_ms_n${n}`, median(all), 'ms', trials.length, {
    min: round(sorted(all)[0]!),
    max: round(sorted(all).at(-1)!),
    trials_ms: all.map(round),
    first_member_median_ms: round(median(trials.map((t) => t.firstMs))),
    false_drops: trials.reduce((s, t) => s + t.falseDrops, 0),
  });
  if (bytes) {
    emit('bytes_per_s_per_node_n50', bytes.bytesPerSec, 'B/s', 50, {
      with_ip_udp_headers: round(bytes.headersPerSec),
      window_ms: STEADY_MS,
    });
  }
}
console.error(`membership bench: ${((performance.now() - started) / 1000).toFixed(1)} s`);
