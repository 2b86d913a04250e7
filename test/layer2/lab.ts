// A small Layer2 lab for real-packet tests: a switch namespace holding Linux bridges, host namespaces
// plugged into them by veth pairs (fixed MACs, DAD off), and child processes run inside the hosts.
// Everything is recorded and removed by cleanup(), which also runs on exit and on SIGINT/SIGTERM:
// children first (by PID), then whatever is left in each namespace, then the namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { must, REPO_ROOT, run, runAsync, type RunResult } from '../net/netns.test-support.ts';

export interface HostLink {
  /** Interface name inside the host. */
  readonly ifname: string;
  /** Bridge in the switch namespace. */
  readonly bridge: string;
  readonly mac: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

export interface Host {
  readonly ns: string;
  readonly links: readonly HostLink[];
  link(ifname: string): HostLink;
  /** The switch-side port (in the switch namespace) of interface ifname. */
  port(ifname: string): string;
}

export interface Child {
  readonly pid: number;
  /** Sends one JSON command and resolves with the reply line whose event equals `cmd`. */
  request(command: { cmd: string } & Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the next line whose event is `event`. */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited(timeoutMs?: number): Promise<number | string>;
}

const live = new Set<L2Lab>();
const cleanupAll = (): void => {
  for (const lab of live) lab.cleanup();
};
process.on('exit', cleanupAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanupAll();
    process.kill(process.pid, signal);
  });
}

export class L2Lab {
  readonly sw: string;
  readonly #prefix: string;
  readonly #namespaces: string[] = [];
  readonly #children = new Set<ChildProcess>();
  #ports = 0;
  #cleaned = false;

  constructor(tag: string) {
    this.#prefix = `ironlb-${tag}-${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
    live.add(this);
    this.sw = this.#addNamespace('sw');
  }

  /** A bridge in the switch namespace (STP off, so ports forward at once). */
  addBridge(name: string, options: readonly string[] = []): void {
    must('ip', ['-n', this.sw, 'link', 'add', name, 'type', 'bridge', 'stp_state', '0', ...options]);
    must('ip', ['-n', this.sw, 'link', 'set', name, 'up']);
  }

  /** A host namespace with one interface per link, each plugged into its bridge. */
  addHost(name: string, links: readonly HostLink[]): Host {
    const ns = this.#addNamespace(name);
    const ports = new Map<string, string>();
    must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    for (const l of links) {
      const port = `p${this.#ports++}-${name}`.slice(0, 15);
      ports.set(l.ifname, port);
      must('ip', ['link', 'add', port, 'netns', this.sw, 'type', 'veth', 'peer', 'name', l.ifname, 'netns', ns, 'address', l.mac]);
      must('ip', ['-n', this.sw, 'link', 'set', port, 'master', l.bridge, 'up']);
      must('ip', ['-n', ns, 'addr', 'add', `${l.ipv4}/24`, 'dev', l.ifname]);
      must('ip', ['-n', ns, 'addr', 'add', `${l.ipv6}/64`, 'dev', l.ifname, 'nodad']);
      must('ip', ['-n', ns, 'link', 'set', l.ifname, 'up']);
    }
    return {
      ns,
      links,
      link: (ifname) => {
        const l = links.find((x) => x.ifname === ifname);
        if (!l) throw new Error(`${name} has no ${ifname}`);
        return l;
      },
      port: (ifname) => {
        const p = ports.get(ifname);
        if (!p) throw new Error(`${name} has no ${ifname}`);
        return p;
      },
    };
  }

  /** Runs a command inside ns to completion. */
  exec(ns: string, args: readonly string[], timeoutMs?: number): RunResult {
    return run('ip', ['netns', 'exec', ns, ...args], timeoutMs);
  }

  execAsync(ns: string, args: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return runAsync('ip', ['netns', 'exec', ns, ...args], timeoutMs);
  }

  /** Runs a TypeScript script (node + tsx) inside ns; JSON lines on stdout, commands on stdin. */
  spawnScript(ns: string, script: string, args: readonly string[]): Child {
    // `ip netns exec` execs the command in place: the child's PID is node's PID.
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    return wrap(child);
  }

  cleanup(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    live.delete(this);
    for (const child of this.#children) killPid(child.pid);
    for (const ns of this.#namespaces) {
      const pids = run('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) killPid(pid);
      run('ip', ['netns', 'del', ns]);
    }
  }

  #addNamespace(name: string): string {
    const ns = `${this.#prefix}-${name}`;
    must('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }
}

function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function wrap(child: ChildProcess): Child {
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let exit: number | string | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => {}); // EPIPE once it has exited
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
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
      };
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
      waiters.add(done);
      done();
    });
  const next = (event: string, timeoutMs = 10_000): Promise<Record<string, unknown>> =>
    waitFor(
      () => {
        const i = lines.findIndex((l) => l.event === event);
        return i < 0 ? undefined : lines.splice(i, 1)[0];
      },
      `event "${event}"`,
      timeoutMs,
    );
  return {
    pid: child.pid!,
    next,
    request(command, timeoutMs) {
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      return next(command.cmd, timeoutMs);
    },
    stderr: () => stderr,
    exited: (timeoutMs = 5_000) => waitFor(() => exit, 'exit', timeoutMs),
  };
}
