// Running external commands (ip, sysctl, vtysh, birdc, gobgp) to completion, synchronously or not.
// Synchronous runs exist because teardown must also work from a process 'exit' handler.
import { spawn, spawnSync } from 'node:child_process';

export interface CommandResult {
  readonly command: string;
  readonly args: readonly string[];
  /** Exit code, or null when killed by a signal or the timeout. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Kills the command after this long (default 15 s). */
  readonly timeoutMs?: number;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** A command that could not be started or exited non-zero. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(readonly result: CommandResult) {
    const why = result.status === null ? 'was killed (timeout or signal)' : `exited ${result.status}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    super(`${formatCommand(result.command, result.args)} ${why}${detail ? `: ${detail}` : ''}`);
  }
}

export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs a command to completion; never throws for a non-zero exit (it throws if the command cannot start). */
export function runCommand(command: string, args: readonly string[], options: CommandOptions = {}): CommandResult {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 15_000,
    input: options.input,
    env: options.env,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
  return { command, args, status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs a command and returns its stdout; throws CommandError unless it exits 0. */
export function mustRun(command: string, args: readonly string[], options: CommandOptions = {}): string {
  const r = runCommand(command, args, options);
  if (r.status !== 0) throw new CommandError(r);
  return r.stdout;
}

/** Like runCommand, without blocking the event loop. */
export function runCommandAsync(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 15_000,
      env: options.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (options.input !== undefined) child.stdin!.end(options.input);
    child.on('error', reject);
    child.on('close', (status) => resolve({ command, args, status, stdout, stderr }));
  });
}

/** Like mustRun, without blocking the event loop. */
export async function mustRunAsync(command: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
  const r = await runCommandAsync(command, args, options);
  if (r.status !== 0) throw new CommandError(r);
  return r.stdout;
}

/** Whether an executable is on PATH (or an absolute path that is executable). */
export function haveExecutable(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}
