// A small network on one machine: one network namespace per host, a switch namespace with a Linux bridge
// per segment, veth cables, addresses, routes and sysctls (planned in topology-plan.ts). The topology
// owns everything it creates: namespaces, processes started inside them, its run directory. All of it
// is written to the run registry before (namespaces) or right after (processes) it exists, so that
// destroy() — or destroyStaleRuns() after a crash — removes exactly that and nothing else.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.ts';
import { mustRun, runCommand, runCommandAsync, CommandError, type CommandOptions, type CommandResult } from './command.ts';
import { LabProcess, type SpawnOptions } from './lab-process.ts';
import { listNamespaces } from './namespace.ts';
import { identify } from './pid.ts';
import { defaultRegistryDir, readRecord, writeRecord, type LabRunRecord, type RecordedProcess } from './registry.ts';
import { teardownRun, type TeardownReport } from './teardown.ts';
import { planTopology, type LabHost, type LabSegment, type TopologySpec } from './topology-plan.ts';

export interface TopologyOptions {
  /** Where the run record goes (default: defaultRegistryDir()). */
  readonly registryDir?: string;
  /**
   * Leave everything running when this process exits (for `ironlb lab up`); only destroy() or
   * destroyRun(id) remove it. Default false: the topology is destroyed on exit and on SIGINT/SIGTERM/SIGHUP.
   */
  readonly persistent?: boolean;
  /** First part of every namespace name (default "ilb"): `<namePrefix>-<6 hex>-<host>`. */
  readonly namePrefix?: string;
  readonly logger?: Logger;
}

export class Topology {
  readonly id: string;
  /** `<namePrefix>-<id>`; every namespace of this run starts with `<prefix>-`. */
  readonly prefix: string;
  readonly switchNs: string;
  /** The run directory (configs, logs, sockets); removed by destroy(). */
  readonly dir: string;
  readonly registryDir: string;
  readonly persistent: boolean;
  readonly segments: readonly LabSegment[];
  readonly hosts: ReadonlyMap<string, LabHost>;
  readonly #processes = new Set<LabProcess>();
  readonly #logger: Logger | undefined;
  #record: LabRunRecord;
  #destroyed: TeardownReport | undefined;
  #logCounter = 0;

  /** Use createTopology(). */
  constructor(
    plan: { id: string; prefix: string; switchNs: string; segments: readonly LabSegment[]; hosts: readonly LabHost[] },
    record: LabRunRecord,
    dir: string,
    registryDir: string,
    logger: Logger | undefined,
  ) {
    this.id = plan.id;
    this.prefix = plan.prefix;
    this.switchNs = plan.switchNs;
    this.segments = plan.segments;
    this.hosts = new Map(plan.hosts.map((h) => [h.name, h]));
    this.dir = dir;
    this.registryDir = registryDir;
    this.persistent = record.persistent;
    this.#record = record;
    this.#logger = logger;
  }

  get destroyed(): boolean {
    return this.#destroyed !== undefined;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`topology ${this.prefix} has no host "${name}" (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  /** The namespace of a host; "sw" is the switch. */
  ns(name: string): string {
    return name === 'sw' ? this.switchNs : this.host(name).ns;
  }

  /** Runs a command inside a host's namespace to completion (never throws for a non-zero exit). */
  exec(host: string, args: readonly string[], options?: CommandOptions): CommandResult {
    this.#assertLive();
    return runCommand('ip', ['netns', 'exec', this.ns(host), ...args], options);
  }

  /** Like exec, but returns stdout and throws CommandError unless the command exits 0. */
  mustExec(host: string, args: readonly string[], options?: CommandOptions): string {
    const r = this.exec(host, args, options);
    if (r.status !== 0) throw new CommandError(r);
    return r.stdout;
  }

  execAsync(host: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    this.#assertLive();
    return runCommandAsync('ip', ['netns', 'exec', this.ns(host), ...args], options);
  }

  /**
   * Starts a long-running process inside a host's namespace, tracked by PID until destroy().
   * Output goes to `<dir>/logs/<host>-<name>-<n>.log` unless options.output says otherwise.
   */
  spawn(host: string, args: readonly string[], options: SpawnOptions = {}): LabProcess {
    this.#assertLive();
    const ns = this.ns(host);
    const name = options.name ?? args[0]?.split('/').pop() ?? 'process';
    const wantsFile = options.output === undefined || options.output === 'file';
    const logFile = wantsFile ? (options.logFile ?? join(this.dir, 'logs', `${host}-${name}-${++this.#logCounter}.log`)) : undefined;
    const proc = LabProcess.start(ns, args, { ...options, name, ...(logFile && { output: 'file' as const, logFile }) });
    this.#processes.add(proc);
    this.#update({ processes: [...this.#record.processes, { ...proc.identity, ns, name }] });
    void proc.exited.then(() => {
      this.#processes.delete(proc);
      if (!this.destroyed) {
        this.#update({ processes: this.#record.processes.filter((p) => !(p.pid === proc.pid && p.startTime === proc.identity.startTime)) });
      }
    });
    this.#logger?.debug({ host, pid: proc.pid, args }, 'lab process started');
    return proc;
  }

  /** Processes started with spawn() that are still running. */
  processes(): LabProcess[] {
    return [...this.#processes].filter((p) => p.running);
  }

  /** Records a process this topology did not spawn itself (e.g. one that forked), so destroy() kills it. */
  trackPid(pid: number, host: string, name: string): void {
    const id = identify(pid);
    if (!id) return;
    const recorded: RecordedProcess = { ...id, ns: this.ns(host), name };
    this.#update({ processes: [...this.#record.processes, recorded] });
  }

  /** Records a path outside the run directory (e.g. a daemon's scratch directory) for destroy() to remove. */
  trackPath(path: string): void {
    if (this.#record.paths.includes(path)) return;
    this.#update({ paths: [...this.#record.paths, path] });
  }

  /** Creates (if needed) and returns `<dir>/<name>`, mode 0755. */
  makeDir(name: string): string {
    this.#assertLive();
    const path = join(this.dir, name);
    mkdirSync(path, { recursive: true, mode: 0o755 });
    chmodSync(path, 0o755);
    return path;
  }

  /** Sets a host's switch port down or up: to the host this is a cable pulled or plugged back. */
  setLink(host: string, state: 'up' | 'down', ifname = 'eth0'): void {
    this.#assertLive();
    const ifc = this.host(host).interfaces.find((i) => i.name === ifname);
    if (!ifc) throw new Error(`host "${host}" has no interface ${ifname}`);
    mustRun('ip', ['-n', this.switchNs, 'link', 'set', ifc.switchPort, state]);
  }

  linkDown(host: string, ifname = 'eth0'): void {
    this.setLink(host, 'down', ifname);
  }

  linkUp(host: string, ifname = 'eth0'): void {
    this.setLink(host, 'up', ifname);
  }

  /** The run's registry record as it stands now. */
  record(): LabRunRecord {
    return this.#record;
  }

  /**
   * Kills every tracked process and everything else inside the namespaces (SIGKILL, by PID), deletes the
   * namespaces, removes the run directory and tracked paths, and drops the registry record.
   * Synchronous; idempotent (later calls return the first report). Stop daemons gracefully first if
   * that matters (their stop() methods); destroy() does not wait for anyone.
   */
  destroy(): TeardownReport {
    if (this.#destroyed) return this.#destroyed;
    // The file may hold more than we know (another process's trackPid), so prefer what is on disk.
    const record = readRecord(this.registryDir, this.id) ?? this.#record;
    const report = teardownRun(record, this.registryDir);
    this.#destroyed = report;
    live.delete(this);
    if (report.problems.length > 0) this.#logger?.warn({ id: this.id, problems: report.problems }, 'lab teardown incomplete');
    else this.#logger?.debug({ id: this.id, killed: report.killed.length }, 'lab destroyed');
    return report;
  }

  #update(change: Partial<Pick<LabRunRecord, 'processes' | 'paths' | 'namespaces'>>): void {
    this.#record = { ...this.#record, ...change };
    writeRecord(this.registryDir, this.#record);
  }

  #assertLive(): void {
    if (this.#destroyed) throw new Error(`topology ${this.prefix} was destroyed`);
  }
}

/**
 * Builds the topology. Namespaces are `<namePrefix>-<6 hex>-<host>` plus `<namePrefix>-<6 hex>-sw`.
 * On any failure everything created so far is removed before the error is rethrown.
 */
export function createTopology(spec: TopologySpec, options: TopologyOptions = {}): Topology {
  const registryDir = options.registryDir ?? defaultRegistryDir();
  const namePrefix = options.namePrefix ?? 'ilb';
  const existing = listNamespaces();
  let id: string;
  let prefix: string;
  do {
    id = randomBytes(3).toString('hex');
    prefix = `${namePrefix}-${id}`;
  } while (readRecord(registryDir, id) || existing.some((n) => n.startsWith(`${prefix}-`)));

  const plan = planTopology(spec, prefix); // throws TopologySpecError before anything exists
  const owner = identify(process.pid)!;
  const dir = mkdtempSync(join(tmpdir(), `ironlb-lab-${id}-`));
  chmodSync(dir, 0o755); // daemons that drop privileges (FRR runs as frr) must reach their subdirectories
  mkdirSync(join(dir, 'logs'), { mode: 0o755 });
  const record: LabRunRecord = {
    version: 1,
    id,
    prefix,
    owner,
    persistent: options.persistent ?? false,
    createdAt: new Date().toISOString(),
    namespaces: plan.namespaces,
    processes: [],
    paths: [dir],
    description: spec,
  };
  writeRecord(registryDir, record); // before the first namespace exists
  const topology = new Topology({ ...plan, id }, record, dir, registryDir, options.logger);
  if (!topology.persistent) watchForExit(topology);
  const started = Date.now();
  try {
    runSteps(plan.steps);
  } catch (err) {
    topology.destroy();
    throw err;
  }
  options.logger?.debug({ id, prefix, hosts: plan.hosts.length, ms: Date.now() - started }, 'lab topology created');
  return topology;
}

/**
 * Runs plan steps in order. Consecutive `ip -n NS …` steps for one namespace (and consecutive
 * `ip netns add` steps) go through one `ip -batch -`, which cuts creation time by about three quarters.
 */
export function runSteps(steps: readonly (readonly string[])[]): void {
  const batchKey = (s: readonly string[]): string | undefined => {
    if (s[0] !== 'ip' || s.some((a) => /\s/.test(a))) return undefined;
    if (s[1] === '-n' && s[2]) return s[2];
    if (s[1] === 'netns' && s[2] === 'add') return '';
    return undefined;
  };
  for (let i = 0; i < steps.length; ) {
    const key = batchKey(steps[i]!);
    if (key === undefined) {
      mustRun(steps[i]![0]!, steps[i]!.slice(1));
      i++;
      continue;
    }
    const lines: string[] = [];
    for (; i < steps.length && batchKey(steps[i]!) === key; i++) lines.push(steps[i]!.slice(key ? 3 : 1).join(' '));
    if (lines.length === 1) {
      mustRun('ip', key ? ['-n', key, ...lines[0]!.split(' ')] : lines[0]!.split(' '));
    } else {
      mustRun('ip', [...(key ? ['-n', key] : []), '-batch', '-'], { input: `${lines.join('\n')}\n` });
    }
  }
}

// --- cleanup when this process ends ------------------------------------------------------------------

const live = new Set<Topology>();
let handlersInstalled = false;

function destroyAllLive(): void {
  for (const t of [...live]) {
    try {
      t.destroy();
    } catch {
      // keep going: the registry still lists it for destroyStaleRuns()
    }
  }
}

function watchForExit(topology: Topology): void {
  live.add(topology);
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      destroyAllLive();
      // If nobody else handles this signal, die of it as we would have without our handler.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
