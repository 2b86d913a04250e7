// Named network namespaces (`ip netns`): create, list, find the processes inside, empty, delete.
import { existsSync } from 'node:fs';
import { mustRun, runCommand } from './command.ts';
import { identify, signalPid, waitGoneSync, type ProcessIdentity } from './pid.ts';

/** Linux limits a namespace name only by the file name under /run/netns; keep them short and plain. */
const NAMESPACE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function assertNamespaceName(name: string): void {
  if (!NAMESPACE_NAME.test(name)) throw new Error(`invalid network namespace name "${name}"`);
}

export function namespaceExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

export function listNamespaces(): string[] {
  const out = runCommand('ip', ['netns', 'list']).stdout;
  // Lines look like "name" or "name (id: 3)".
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export function addNamespace(name: string): void {
  assertNamespaceName(name);
  mustRun('ip', ['netns', 'add', name]);
}

/** PIDs of the processes whose network namespace is `name` (empty if the namespace is gone). */
export function namespacePids(name: string): number[] {
  if (!namespaceExists(name)) return [];
  const r = runCommand('ip', ['netns', 'pids', name]);
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 1 && pid !== process.pid);
}

/**
 * Kills (SIGKILL, one PID at a time) every process inside the namespace, repeating while new ones
 * appear (a dying daemon's helper may have just forked), and waits for them to be gone.
 * Returns the PIDs that were signalled.
 */
export function emptyNamespace(name: string, timeoutMs = 3_000): number[] {
  const killed: number[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ids = namespacePids(name)
      .map(identify)
      .filter((id): id is ProcessIdentity => id !== undefined);
    if (ids.length === 0 || Date.now() > deadline) return killed;
    for (const id of ids) if (signalPid(id.pid, 'SIGKILL')) killed.push(id.pid);
    waitGoneSync(ids, Math.max(0, deadline - Date.now()));
  }
}

/** Kills whatever runs inside, then deletes the namespace. Quiet if it does not exist. */
export function deleteNamespace(name: string): void {
  if (!namespaceExists(name)) return;
  emptyNamespace(name);
  const r = runCommand('ip', ['netns', 'del', name]);
  if (r.status !== 0 && namespaceExists(name)) {
    throw new Error(`ip netns del ${name} failed: ${r.stderr.trim()}`);
  }
}
