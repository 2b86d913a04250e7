// The run registry: one JSON file per lab run listing everything the run created (namespaces,
// processes, paths), written before or right after each thing is created. A later teardown reads it to
// clean up after a run that crashed, was SIGKILLed, or was left running on purpose (`persistent`).
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessIdentity } from './pid.ts';

export interface RecordedProcess extends ProcessIdentity {
  readonly ns: string;
  readonly name: string;
}

export interface LabRunRecord {
  readonly version: 1;
  /** 6 hex digits; every namespace of the run is named `<prefix>-<host>`. */
  readonly id: string;
  readonly prefix: string;
  /** The process that created the run; a run whose owner is gone is stale unless persistent. */
  readonly owner: ProcessIdentity;
  /** Meant to outlive its owner (e.g. `ironlb lab up`); only an explicit destroy removes it. */
  readonly persistent: boolean;
  readonly createdAt: string;
  readonly namespaces: readonly string[];
  readonly processes: readonly RecordedProcess[];
  /** Files and directories to remove (run directory, daemon scratch directories). */
  readonly paths: readonly string[];
  /** Free-form description of what the run is (the topology spec), for status output. */
  readonly description?: unknown;
}

/** Where run records live: $IRONLB_LAB_REGISTRY, else /run/ironlb-lab when writable, else a temp dir. */
export function defaultRegistryDir(): string {
  const fromEnv = process.env.IRONLB_LAB_REGISTRY;
  if (fromEnv) return fromEnv;
  try {
    accessSync('/run', constants.W_OK);
    return '/run/ironlb-lab';
  } catch {
    return join(tmpdir(), `ironlb-lab-${process.getuid?.() ?? 'user'}`);
  }
}

const fileName = (id: string): string => `${id}.json`;

export function recordPath(dir: string, id: string): string {
  return join(dir, fileName(id));
}

/** Writes the record atomically (write a temp file, then rename over the old one). */
export function writeRecord(dir: string, record: LabRunRecord): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = recordPath(dir, record.id);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function readRecord(dir: string, id: string): LabRunRecord | undefined {
  let text: string;
  try {
    text = readFileSync(recordPath(dir, id), 'utf8');
  } catch {
    return undefined;
  }
  return parseRecord(text);
}

export function removeRecord(dir: string, id: string): void {
  rmSync(recordPath(dir, id), { force: true });
}

/** Every readable record in the directory; unreadable or foreign files are skipped. */
export function listRecords(dir: string): LabRunRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const records: LabRunRecord[] = [];
  for (const name of names.filter((n) => /^[0-9a-f]{6}\.json$/.test(n)).sort()) {
    try {
      const r = parseRecord(readFileSync(join(dir, name), 'utf8'));
      if (r) records.push(r);
    } catch {
      // removed while we looked
    }
  }
  return records;
}

function parseRecord(text: string): LabRunRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = value as Partial<LabRunRecord>;
  if (r?.version !== 1 || typeof r.id !== 'string' || !/^[0-9a-f]{6}$/.test(r.id) || typeof r.prefix !== 'string') {
    return undefined;
  }
  if (!Array.isArray(r.namespaces) || !Array.isArray(r.processes) || !Array.isArray(r.paths) || !r.owner) return undefined;
  return r as LabRunRecord;
}
