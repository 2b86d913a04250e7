// Layer2 failover as a client sees it, in the whole lab (startLab: real kube-apiserver, controller, and per
// node the real `ironlb speaker` and a backend answering HTTP with its node name). One 3-node lab, one
// Layer2 Service; a client program in the client namespace (test/speaker/layer2-probe.ts) opens a new TCP
// connection to the VIP every 10 ms and sends `GET /`, giving up on a request after 50 ms.
//
// (a) hard failure, BENCH_TRIALS times: the announcing node's switch port goes down. Downtime = from the
//     cut to the first answer from another node. Then the link comes back and the lab is left to settle
//     (every speaker sees every member, the original node announces again, the client is answered by it).
// (b) planned handover, BENCH_TRIALS times: SIGTERM to the announcing node's speaker (by PID). Downtime =
//     the longest stretch without an answer (first failed request sent → next answer), 0 when nothing
//     failed; lost = requests that failed, counted from SIGTERM to 3 s after another node first answered.
//     Also: how long until another node answered (switch), and answers from the old node after that
//     (pulled back). Then the speaker is started again and the lab is left to settle.
// Baseline: requests lost in a quiet 3 s window, so a loaded machine's own timeouts can be told apart.
//
// Figures (JSON lines): hard_median_ms, hard_p90_ms, planned_median_ms, planned_lost_requests (median per
// trial), planned_switch_median_ms, plus hard_trial_ms / planned_trial lines per trial.
//   BENCH_TRIALS (default 10)  BENCH_INTERVAL_MS (10)  BENCH_TIMEOUT_MS (50)  BENCH_SETTLE_MS (2000)
import { performance } from 'node:perf_hooks';
import { labNamespace } from '../src/lab/lab.ts';
import { sleep, until } from '../src/lab/scenario.ts';
import { L2Lab, l2LabSkipReason, type Probe, type ProbeRecord } from '../test/speaker/layer2-lab.ts';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 10);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 50);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 2000);
const SERVICE = 'bench-l2';

const now = (): number => performance.timeOrigin + performance.now();
const round1 = (x: number): number => Math.round(x * 10) / 10;
const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]): number => {
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: readonly number[], p: number): number => sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

function emit(metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench: 'l2-failover', metric, value: round1(value), unit, ...extra }));
}
const note = (line: string): void => console.error(`# ${line}`);

/** Longest stretch without an answer in records (sorted by send time): first failed send → next answer. */
function longestOutage(records: readonly ProbeRecord[]): number {
  const bySent = [...records].sort((a, b) => a.sent - b.sent);
  let longest = 0;
  let runStart: number | undefined;
  for (const r of bySent) {
    if (!r.ok) runStart ??= r.sent;
    else if (runStart !== undefined) {
      longest = Math.max(longest, r.done - runStart);
      runStart = undefined;
    }
  }
  if (runStart !== undefined && bySent.length > 0) longest = Math.max(longest, bySent[bySent.length - 1]!.done - runStart);
  return longest;
}

async function settle(l2: L2Lab, probe: Probe, ip: string): Promise<string> {
  const node = await l2.waitForSteadyState({ namespace: labNamespace, name: SERVICE, ip });
  // Quiet time, then the probe must be answered by the announcer.
  await sleep(SETTLE_MS);
  const since = now();
  await until(`the probe to be answered by ${node}`, () => probe.records.some((r) => r.ok && r.sent > since && r.node === node), 30_000, 20);
  return node;
}

interface HardTrial {
  readonly from: string;
  readonly to: string;
  readonly ms: number;
  readonly lost: number;
}

async function hardTrial(l2: L2Lab, probe: Probe, ip: string): Promise<HardTrial> {
  const from = await settle(l2, probe, ip);
  const tCut = now();
  l2.topology.linkDown(from);
  try {
    const first = await until(
      `an answer from a node other than ${from}`,
      () => probe.records.find((r) => r.ok && r.sent > tCut && r.node !== from),
      60_000,
      5,
    );
    const lost = probe.records.filter((r) => !r.ok && r.sent > tCut && r.sent < first.sent).length;
    return { from, to: first.node!, ms: first.done - tCut, lost };
  } finally {
    l2.topology.linkUp(from);
  }
}

interface PlannedTrial {
  readonly from: string;
  readonly to: string;
  readonly switchMs: number;
  readonly downtimeMs: number;
  readonly lost: number;
  readonly sent: number;
  readonly pulledBack: number;
  readonly exit: string;
  /** Failed requests by cause (timeout, ECONNRESET, …). */
  readonly errors: Record<string, number>;
}

const errorCounts = (records: readonly ProbeRecord[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const r of records) if (!r.ok) out[r.err ?? 'unknown'] = (out[r.err ?? 'unknown'] ?? 0) + 1;
  return out;
};

async function plannedTrial(l2: L2Lab, probe: Probe, ip: string): Promise<PlannedTrial> {
  const from = await settle(l2, probe, ip);
  const speaker = l2.speaker(from);
  if (!speaker) throw new Error(`${from} has no running speaker`);
  const tTerm = now();
  const stopped = speaker.stop({ signal: 'SIGTERM', timeoutMs: 30_000 });
  try {
    const first = await until(`an answer from a node other than ${from}`, () => probe.records.find((r) => r.ok && r.sent > tTerm && r.node !== from), 60_000, 5);
    const end = first.sent + 3000;
    await until('3 s of requests after the switch', () => probe.records.some((r) => r.sent > end), 30_000, 20);
    const window = probe.records.filter((r) => r.sent > tTerm && r.sent <= end);
    const exit = await stopped;
    return {
      from,
      to: first.node!,
      switchMs: first.done - tTerm,
      downtimeMs: longestOutage(window),
      lost: window.filter((r) => !r.ok).length,
      sent: window.length,
      pulledBack: window.filter((r) => r.ok && r.sent > first.sent && r.node === from).length,
      exit: exit.signal ?? String(exit.code),
      errors: errorCounts(window),
    };
  } finally {
    await stopped;
    l2.startSpeaker(from);
    await l2.waitForSpeakerReady(from);
  }
}

async function main(): Promise<void> {
  const skip = l2LabSkipReason();
  if (skip) {
    console.error(`l2-failover needs the lab: ${skip}`);
    process.exit(2);
  }
  const t0 = Date.now();
  const l2 = await L2Lab.start(3);
  let probe: Probe | undefined;
  try {
    await l2.configurePool();
    const { v4: ip } = await l2.service(SERVICE);
    await l2.waitForSteadyState({ namespace: labNamespace, name: SERVICE, ip });
    note(`lab up with Service ${labNamespace}/${SERVICE} at ${ip} in ${Date.now() - t0} ms; probe every ${INTERVAL_MS} ms, timeout ${TIMEOUT_MS} ms`);
    probe = l2.startProbe(ip, { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS });
    await probe.ready;
    await settle(l2, probe, ip);

    const b0 = now();
    await sleep(3000);
    const baseline = probe.records.filter((r) => r.sent > b0 && r.sent <= b0 + 3000);
    const baselineLost = baseline.filter((r) => !r.ok).length;
    emit('baseline_lost_requests', baselineLost, 'requests', { sent: baseline.length, window_ms: 3000 });

    const hard: HardTrial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const t = await hardTrial(l2, probe, ip);
      hard.push(t);
      emit('hard_trial_ms', t.ms, 'ms', { trial: i + 1, from: t.from, to: t.to, lost_requests: t.lost });
    }
    const hardMs = hard.map((t) => t.ms);
    emit('hard_median_ms', median(hardMs), 'ms', { n: hard.length });
    emit('hard_p90_ms', percentile(hardMs, 90), 'ms', { n: hard.length });
    emit('hard_min_ms', Math.min(...hardMs), 'ms', { n: hard.length });
    emit('hard_max_ms', Math.max(...hardMs), 'ms', { n: hard.length });
    emit('hard_lost_requests', median(hard.map((t) => t.lost)), 'requests', { n: hard.length, note: 'median per trial' });

    const planned: PlannedTrial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const t = await plannedTrial(l2, probe, ip);
      planned.push(t);
      emit('planned_trial', t.downtimeMs, 'ms', {
        trial: i + 1,
        from: t.from,
        to: t.to,
        switch_ms: round1(t.switchMs),
        lost_requests: t.lost,
        sent: t.sent,
        pulled_back: t.pulledBack,
        errors: t.errors,
        speaker_exit: t.exit,
      });
    }
    await settle(l2, probe, ip);
    emit('planned_median_ms', median(planned.map((t) => t.downtimeMs)), 'ms', { n: planned.length, note: 'longest stretch without an answer' });
    emit('planned_p90_ms', percentile(planned.map((t) => t.downtimeMs), 90), 'ms', { n: planned.length });
    emit('planned_lost_requests', median(planned.map((t) => t.lost)), 'requests', { n: planned.length, note: 'median per trial', total: planned.reduce((a, t) => a + t.lost, 0) });
    emit('planned_switch_median_ms', median(planned.map((t) => t.switchMs)), 'ms', { n: planned.length, note: 'SIGTERM to the first answer from the new node' });
    emit('planned_pulled_back', median(planned.map((t) => t.pulledBack)), 'requests', { n: planned.length, note: 'answers from the old node after the new one answered' });
    note(`done in ${Math.round((Date.now() - t0) / 1000)} s`);
  } finally {
    await probe?.stop().catch(() => undefined);
    await l2.stop();
  }
}

await main();
