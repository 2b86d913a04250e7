// A process started inside a network namespace with `ip netns exec NS cmd …`. `ip netns exec` execs the
// command in place, so the spawned child's PID is the command's own PID: that is what the lab records and
// later kills. Never wrap the command in a shell (`sh -c 'a && b &'` would leave b running).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { identify, type ProcessIdentity } from './pid.ts';

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** A label for logs and the registry (default: the command's base name). */
  readonly name?: string;
  /**
   * Where stdout and stderr go: a file (default when logFile is given; the daemon never blocks on a
   * full pipe and the file survives a crash), 'pipe' (child.stdout/stderr readable), or 'ignore'.
   */
  readonly output?: 'file' | 'pipe' | 'ignore';
  readonly logFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Keep stdin open as a pipe (default: ignored). */
  readonly stdin?: boolean;
}

export class LabProcess {
  readonly pid: number;
  readonly identity: ProcessIdentity;
  readonly exited: Promise<ProcessExit>;
  #exit: ProcessExit | undefined;
  #pipeOutput = '';

  private constructor(
    readonly ns: string,
    readonly name: string,
    readonly args: readonly string[],
    readonly child: ChildProcess,
    readonly logFile: string | undefined,
  ) {
    this.pid = child.pid!;
    // Right after spawn the child is still `ip` (about to exec); its start time does not change on exec.
    this.identity = identify(this.pid) ?? { pid: this.pid, startTime: 'unknown' };
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.#pipeOutput += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.#pipeOutput += d));
  }

  /** Starts `args` inside namespace `ns`. Throws if the process cannot be started at all. */
  static start(ns: string, args: readonly string[], options: SpawnOptions = {}): LabProcess {
    if (args.length === 0) throw new Error('LabProcess.start: empty command');
    const name = options.name ?? args[0]!.split('/').pop()!;
    const output = options.output ?? (options.logFile ? 'file' : 'ignore');
    if (output === 'file' && !options.logFile) throw new Error(`LabProcess.start(${name}): output 'file' needs logFile`);
    let fd: number | undefined;
    let stdio: StdioOptions;
    const stdin = options.stdin ? 'pipe' : 'ignore';
    if (output === 'file') {
      fd = openSync(options.logFile!, 'a');
      stdio = [stdin, fd, fd];
    } else {
      stdio = [stdin, output, output];
    }
    let child: ChildProcess;
    try {
      // detached: its own session, so a terminal's Ctrl-C reaches only us and we decide what to kill.
      child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio, env: options.env, cwd: options.cwd, detached: true });
    } finally {
      if (fd !== undefined) closeSync(fd); // the child holds its own copy
    }
    if (child.pid === undefined) {
      throw new Error(`cannot start ${name} in ${ns}: spawn of ip failed`);
    }
    child.on('error', () => {}); // reported through exited / running
    // Do not keep the event loop alive for a daemon; an explicit stop() or destroy() ends it.
    if (output !== 'pipe' && !options.stdin) child.unref();
    return new LabProcess(ns, name, args, child, output === 'file' ? options.logFile : undefined);
  }

  get running(): boolean {
    return this.#exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** Everything the process wrote so far (from its log file, or the pipes). */
  output(): string {
    if (this.logFile) {
      try {
        return readFileSync(this.logFile, 'utf8');
      } catch {
        return '';
      }
    }
    return this.#pipeOutput;
  }

  /** The last lines of output, for error messages. */
  tail(lines = 15): string {
    return this.output().trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Sends `signal` (default SIGTERM), waits up to timeoutMs, then SIGKILL. Resolves when it has exited. */
  async stop(options: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<ProcessExit> {
    if (!this.running) return this.#exit ?? (await this.exited);
    // An unref'd child does not keep the event loop alive: hold it while we wait for its exit.
    this.child.ref();
    this.#signal(options.signal ?? 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, options.timeoutMs ?? 5_000, 'timeout')));
    try {
      if ((await Promise.race([this.exited, timeout])) === 'timeout') this.#signal('SIGKILL');
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the process exits (keeps the event loop alive meanwhile). */
  async wait(): Promise<ProcessExit> {
    if (!this.running) return this.#exit ?? (await this.exited);
    this.child.ref();
    return this.exited;
  }

  /** SIGKILL now (synchronous). */
  kill(): void {
    if (this.running) this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal); // our own child: not reaped yet, so the PID is still ours
    } catch {
      // already gone
    }
  }
}
