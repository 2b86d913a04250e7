// Process identity by PID: a PID alone can be reused after its process exits, so the lab records each
// PID with its start time (/proc/PID/stat field 22) and signals it only while both still match.
import { readFileSync } from 'node:fs';

/** A process as the lab records it: PID plus kernel start time (clock ticks since boot, as text). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: string;
}

/** The process's start time, or undefined if there is no such process (or it is a zombie being reaped). */
export function pidStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "PID (comm) S ppid …": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // exited, only its exit status is left
  return fields[19]; // field 22 overall; fields[0] is field 3
}

export function identify(pid: number): ProcessIdentity | undefined {
  const startTime = pidStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

/** Whether this exact process (same PID and start time) is still alive. */
export function isAlive(id: ProcessIdentity): boolean {
  return pidStartTime(id.pid) === id.startTime;
}

/** Sends a signal to one PID; false if it is gone. Never signals process groups. */
export function signalPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Signals the process only if it is still the one recorded (PID reuse safe). */
export function signalIdentity(id: ProcessIdentity, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  return isAlive(id) && signalPid(id.pid, signal);
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread (for teardown from an 'exit' handler, where nothing asynchronous runs). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Waits (blocking) until none of the given processes is alive; returns those still alive at the deadline. */
export function waitGoneSync(ids: readonly ProcessIdentity[], timeoutMs: number): ProcessIdentity[] {
  const deadline = Date.now() + timeoutMs;
  let alive = ids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    sleepSync(10);
    alive = alive.filter(isAlive);
  }
  return alive;
}
