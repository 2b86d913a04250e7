// Test support for real-packet tests: two network namespaces joined by a veth pair, created and
// destroyed by the test itself, and child processes run inside them. Everything created here is
// recorded and removed by cleanup() (call it from an `after` hook; it also runs on process exit).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { nativeAddonUnavailable } from '../../native/addon.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Why real-packet tests cannot run here, or undefined if they can. */
export function netnsSkipReason(tools: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const missingAddon = nativeAddonUnavailable();
  if (missingAddon) return missingAddon;
  for (const tool of ['ip', ...tools]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (throws if it cannot be started). */
export function run(cmd: string, args: readonly string[], timeoutMs = 15_000): RunResult {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and throws with its stderr unless it exits 0. */
export function must(cmd: string, args: readonly string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Like run, asynchronously (so several can overlap, e.g. clients that wait for a timeout). */
export function runAsync(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export interface VethEnd {
  readonly ns: string;
  readonly ifname: string;
  readonly mac: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

export interface NetnsPair {
  readonly a: VethEnd;
  readonly b: VethEnd;
  /** Runs `args` inside namespace ns to completion. */
  exec(ns: string, args: readonly string[], timeoutMs?: number): RunResult;
  execAsync(ns: string, args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** Starts a TypeScript script under node + tsx inside namespace ns; killed by cleanup(). */
  spawnScript(ns: string, script: string, args: readonly string[]): ScriptProcess;
  /** Starts any command inside namespace ns (stdout and stderr piped); killed by cleanup(). */
  spawnCommand(ns: string, args: readonly string[]): ChildProcess;
  /** Kills the children, then every process left in the namespaces, then deletes them. Idempotent. */
  cleanup(): void;
}

export interface ScriptProcess {
  readonly child: ChildProcess;
  /** Resolves with the first JSON line on stdout whose `event` matches; rejects on timeout or exit. */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(line: string): void;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited(timeoutMs?: number): Promise<number | string>;
}

const live = new Set<NetnsPair>();
const cleanupAll = (): void => {
  for (const pair of live) pair.cleanup();
};
process.on('exit', cleanupAll);
// Interrupted (Ctrl-C, or the test runner's SIGTERM): clean up, then die of the same signal.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanupAll();
    process.kill(process.pid, signal);
  });
}

/**
 * Creates namespaces `<tag>-<unique>-a` and `-b`, DAD off (RFC 4862 waits would slow everything), lo up,
 * and a veth pair with fixed MACs and addresses 10.99.0.1/24 + fd99::1/64 (a), 10.99.0.2/24 + fd99::2/64 (b).
 */
export function createNetnsPair(tag: string): NetnsPair {
  const unique = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  const nsA = `ironlb-${tag}-${unique}-a`;
  const nsB = `ironlb-${tag}-${unique}-b`;
  const a: VethEnd = { ns: nsA, ifname: `ila${unique}`.slice(0, 15), mac: '02:49:4c:00:00:0a', ipv4: '10.99.0.1', ipv6: 'fd99::1' };
  const b: VethEnd = { ns: nsB, ifname: `ilb${unique}`.slice(0, 15), mac: '02:49:4c:00:00:0b', ipv4: '10.99.0.2', ipv6: 'fd99::2' };
  const children = new Set<ChildProcess>();
  const created: string[] = [];
  let cleaned = false;

  const pair: NetnsPair = {
    a,
    b,
    exec: (ns, args, timeoutMs) => run('ip', ['netns', 'exec', ns, ...args], timeoutMs),
    execAsync: (ns, args, timeoutMs) => runAsync('ip', ['netns', 'exec', ns, ...args], timeoutMs),
    spawnScript(ns, script, args) {
      return wrapScript(pair.spawnCommand(ns, [process.execPath, '--import', 'tsx', script, ...args]));
    },
    spawnCommand(ns, args) {
      // `ip netns exec` execs the command in place: the child's PID is the command's PID.
      const child = spawn('ip', ['netns', 'exec', ns, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    cleanup() {
      if (cleaned) return;
      cleaned = true;
      live.delete(pair);
      for (const child of children) killPid(child.pid);
      for (const ns of created) {
        const pids = run('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
        for (const pid of pids) killPid(pid);
        run('ip', ['netns', 'del', ns]);
      }
    },
  };
  live.add(pair);

  try {
    for (const end of [a, b]) {
      must('ip', ['netns', 'add', end.ns]);
      created.push(end.ns);
      must('ip', ['netns', 'exec', end.ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      must('ip', ['-n', end.ns, 'link', 'set', 'lo', 'up']);
    }
    // Created directly inside the namespaces: the root namespace never sees these interfaces.
    must('ip', ['link', 'add', a.ifname, 'netns', a.ns, 'address', a.mac, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns, 'address', b.mac]);
    for (const end of [a, b]) {
      must('ip', ['-n', end.ns, 'addr', 'add', `${end.ipv4}/24`, 'dev', end.ifname]);
      must('ip', ['-n', end.ns, 'addr', 'add', `${end.ipv6}/64`, 'dev', end.ifname, 'nodad']);
      must('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'up']);
    }
  } catch (err) {
    pair.cleanup();
    throw err;
  }
  return pair;
}

function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function wrapScript(child: ChildProcess): ScriptProcess {
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let exit: number | string | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderr += `(stdout) ${line}\n`;
    }
    for (const w of waiters) w();
  });
  child.on('exit', (code, signal) => {
    exit = code ?? signal ?? 'unknown';
    for (const w of waiters) w();
  });
  const waitFor = <T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        const value = check();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (exit !== undefined) {
          finish();
          reject(new Error(`child exited (${exit}) before ${what}; stderr: ${stderr.trim()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${stderr.trim()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
      };
      waiters.add(done);
      done();
    });
  return {
    child,
    next(event, timeoutMs = 10_000) {
      return waitFor(
        () => {
          const i = lines.findIndex((l) => l.event === event);
          return i < 0 ? undefined : lines.splice(i, 1)[0];
        },
        `event "${event}"`,
        timeoutMs,
      );
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    stderr: () => stderr,
    exited(timeoutMs = 5_000) {
      return waitFor(() => exit, 'exit', timeoutMs);
    },
  };
}
