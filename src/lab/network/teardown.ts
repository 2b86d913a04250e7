// Tearing a lab run down from its registry record: used by Topology.destroy() and, for runs whose owner
// died (crash, SIGKILL) or that were left running on purpose, by destroyStaleRuns() / destroyRun().
// Synchronous on purpose: it must also work from a process 'exit' handler.
import { rmSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { deleteNamespace, emptyNamespace, listNamespaces } from './namespace.ts';
import { isAlive, signalIdentity, waitGoneSync } from './pid.ts';
import { defaultRegistryDir, listRecords, readRecord, removeRecord, type LabRunRecord } from './registry.ts';

export interface TeardownReport {
  readonly id: string;
  /** PIDs that were still running and got SIGKILL. */
  readonly killed: readonly number[];
  /** Namespaces that existed and were deleted. */
  readonly namespaces: readonly string[];
  /** Paths that were removed. */
  readonly paths: readonly string[];
  /** What could not be cleaned up (empty when everything is gone). */
  readonly problems: readonly string[];
}

/**
 * Kills every recorded process that is still the same process (PID + start time), then everything
 * inside the run's namespaces (recorded ones, plus any `<prefix>-*` namespace left by a half-finished
 * create), deletes the namespaces, removes the recorded paths and finally the record itself.
 * Idempotent: a second call finds nothing left and reports nothing.
 */
export function teardownRun(record: LabRunRecord, registryDir: string): TeardownReport {
  const killed: number[] = [];
  const problems: string[] = [];
  for (const p of record.processes) if (signalIdentity(p, 'SIGKILL')) killed.push(p.pid);
  const stuck = new Set(waitGoneSync(record.processes, 3_000).map((p) => p.pid));
  for (const p of record.processes) if (stuck.has(p.pid)) problems.push(`process ${p.pid} (${p.name}) survived SIGKILL`);

  const existing = new Set(listNamespaces());
  const namespaces = [...new Set([...record.namespaces, ...[...existing].filter((n) => n.startsWith(`${record.prefix}-`))])];
  const deleted: string[] = [];
  for (const ns of namespaces) {
    if (!existing.has(ns)) continue;
    try {
      killed.push(...emptyNamespace(ns));
      deleteNamespace(ns);
      deleted.push(ns);
    } catch (err) {
      problems.push(`namespace ${ns}: ${(err as Error).message}`);
    }
  }

  const removed: string[] = [];
  for (const path of record.paths) {
    if (!isRemovablePath(path)) {
      problems.push(`refusing to remove suspicious path "${path}"`);
      continue;
    }
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
    }
  }
  if (problems.length === 0) removeRecord(registryDir, record.id);
  return { id: record.id, killed, namespaces: deleted, paths: removed, problems };
}

/** A recorded path is removed only if it is absolute, normalized and at least two levels deep. */
function isRemovablePath(path: string): boolean {
  return isAbsolute(path) && normalize(path) === path && path.split('/').filter(Boolean).length >= 2;
}

export interface RegistryOptions {
  readonly registryDir?: string;
}

/** A run is stale when its owner process is gone and it was not started as persistent. */
export function isStale(record: LabRunRecord): boolean {
  return !record.persistent && !isAlive(record.owner);
}

export function listRuns(options: RegistryOptions = {}): LabRunRecord[] {
  return listRecords(options.registryDir ?? defaultRegistryDir());
}

/** Cleans up every stale run in the registry (never one whose owner is alive, never a persistent one). */
export function destroyStaleRuns(options: RegistryOptions = {}): TeardownReport[] {
  const dir = options.registryDir ?? defaultRegistryDir();
  return listRecords(dir)
    .filter(isStale)
    .map((r) => teardownRun(r, dir));
}

/** Cleans up one run by id, whoever owns it (`ironlb lab down`). Undefined if there is no such run. */
export function destroyRun(id: string, options: RegistryOptions = {}): TeardownReport | undefined {
  const dir = options.registryDir ?? defaultRegistryDir();
  const record = readRecord(dir, id);
  return record && teardownRun(record, dir);
}
