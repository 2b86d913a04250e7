// Allocator throughput: every address of an IPv4 /16 one by one (and the last 1000, pool nearly full),
// and 1,000,000 allocations from an IPv6 /64. Median of a few repetitions; one JSON line per figure.
import { Allocator, type AllocationRequest } from '../src/allocator/allocator.ts';
import type { Pool } from '../src/config/model.ts';
import { cidrRange, parseCIDR, type CIDR } from '../src/net/address.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const REPS_V4 = Number(process.env.BENCH_REPS_V4 ?? 7);
const REPS_V6 = Number(process.env.BENCH_REPS_V6 ?? 3);
const V6_COUNT = Number(process.env.BENCH_V6_COUNT ?? 1_000_000);

function pool(name: string, cidr: string): Pool {
  const c = parseCIDR(cidr) as CIDR;
  return {
    name,
    labels: {},
    ranges: [cidrRange(c.address, c.prefixLength)],
    autoAssign: true,
    avoidBuggyIPs: false,
    serviceAllocation: undefined,
  };
}

const template: AllocationRequest = {
  key: '',
  namespace: 'bench',
  labels: { app: 'web' },
  namespaceLabels: {},
  families: ['IPv4'],
  familyPolicy: 'SingleStack',
  requestedIPs: [],
  poolName: undefined,
  sharingKey: undefined,
  ports: [{ protocol: 'TCP', port: 80 }],
  externalTrafficPolicy: 'Cluster',
  selector: { app: 'web' },
};

function emit(metric: string, value: number, unit: string, n: number): void {
  console.log(JSON.stringify({ bench: 'alloc', metric, value: Math.round(value * 10) / 10, unit, n }));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `bench/svc-${i}`);

/**
 * Allocates one service per key; returns total ns and ns spent on the last `tail` of them. The allocator
 * keeps nothing of a request but copies of its fields, so one request object is reused (the figures are
 * the allocator's, not the cost of building requests).
 */
function run(
  cidr: string,
  family: 'IPv4' | 'IPv6',
  names: readonly string[],
  tail: number,
): { total: number; tail: number; cpu: number; heapBytes: number } {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const count = names.length;
  const a = new Allocator();
  a.setPools([pool('bench', cidr)]);
  const req: AllocationRequest = { ...template, families: [family] };
  const tailStart = count - tail;
  let tailStartNs = 0n;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (i === tailStart) tailStartNs = process.hrtime.bigint();
    req.key = names[i]!;
    const r = a.allocate(req);
    if (!r.ok) throw new Error(`allocation ${i} failed: ${r.reason}`);
  }
  const end = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpuStart);
  const stats = a.poolStats('bench');
  const assigned = family === 'IPv4' ? stats.assignedIPv4 : stats.assignedIPv6;
  if (assigned !== BigInt(count)) throw new Error(`expected ${count} assigned, stats say ${assigned}`);
  if (family === 'IPv4' && stats.availableIPv4 !== 0n) throw new Error('the /16 should be full');
  gc();
  const heapBytes = process.memoryUsage().heapUsed - heapBefore; // `a` is still alive here
  return { total: Number(end - start), tail: Number(end - tailStartNs), cpu: (cpu.user + cpu.system) * 1000, heapBytes };
}

/**
 * The floor on this machine: the same loop with the allocator replaced by what any allocator must do
 * (look the service up, record it in a Map, make its address, list and result objects). On a shared,
 * busy machine every figure moves with this one, so it is printed alongside to calibrate them.
 */
function floor(names: readonly string[]): number {
  const byKey = new Map<string, { key: string; ips: { family: string; value: bigint }[]; pool: string }>();
  let next = 0x0a000000n;
  const start = process.hrtime.bigint();
  for (let i = 0; i < names.length; i++) {
    const key = names[i]!;
    if (byKey.get(key) !== undefined) throw new Error('duplicate');
    const value = next;
    next = value + 1n;
    const held = { key, ips: [{ family: 'IPv4', value }], pool: 'bench' };
    byKey.set(key, held);
    const result = { ok: true, ips: held.ips, pool: held.pool };
    if (!result.ok) throw new Error('unreachable');
  }
  return Number(process.hrtime.bigint() - start);
}

// IPv4 /16: every address. Wall-clock figures are the ones asked for; the CPU-time ones (this process,
// GC threads included) say what the allocator costs when the machine is busy with other work.
{
  const n = 65536;
  run('10.0.0.0/16', 'IPv4', keys(n), 1000); // warm-up
  const totals: number[] = [];
  const tails: number[] = [];
  const cpus: number[] = [];
  const floors: number[] = [];
  for (let r = 0; r < REPS_V4; r++) {
    const t = run('10.0.0.0/16', 'IPv4', keys(n), 1000);
    totals.push(t.total / n);
    tails.push(t.tail / 1000);
    cpus.push(t.cpu / n);
    floors.push(floor(keys(n)) / n);
  }
  emit('ns_per_alloc_v4_16', median(totals), 'ns', n);
  emit('ns_per_alloc_v4_16_last_1000', median(tails), 'ns', 1000);
  emit('cpu_ns_per_alloc_v4_16', median(cpus), 'ns', n);
  emit('ns_per_floor_v4_16', median(floors), 'ns', n);
}

// IPv6 /64: a million allocations.
{
  const totals: number[] = [];
  const cpus: number[] = [];
  const heaps: number[] = [];
  for (let r = 0; r < REPS_V6; r++) {
    const t = run('fd00:1::/64', 'IPv6', keys(V6_COUNT), 1000);
    totals.push(t.total / V6_COUNT);
    cpus.push(t.cpu / V6_COUNT);
    heaps.push(t.heapBytes / V6_COUNT);
  }
  emit('ns_per_alloc_v6_64', median(totals), 'ns', V6_COUNT);
  emit('cpu_ns_per_alloc_v6_64', median(cpus), 'ns', V6_COUNT);
  emit('heap_bytes_per_alloc_v6_64', median(heaps), 'bytes', V6_COUNT);
}
