// Where a running lab is recorded, so separate `ironlb lab …` invocations find it.
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LabState } from './lab.ts';

export const defaultStateDir = process.env.IRONLB_LAB_DIR ?? '/run/ironlb-lab';

export type SupervisorStatus =
  | { readonly status: 'starting'; readonly supervisorPid: number; readonly progress: readonly string[] }
  | { readonly status: 'up'; readonly supervisorPid: number; readonly progress: readonly string[]; readonly lab: LabState }
  | { readonly status: 'failed'; readonly supervisorPid: number; readonly progress: readonly string[]; readonly error: string };

export const statusFile = (dir: string): string => join(dir, 'lab.json');

export function readStatus(dir: string): SupervisorStatus | undefined {
  const f = statusFile(dir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as SupervisorStatus;
  } catch {
    return undefined;
  }
}

export function writeStatus(dir: string, status: SupervisorStatus): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${statusFile(dir)}.tmp`;
  writeFileSync(tmp, JSON.stringify(status, null, 2));
  renameSync(tmp, statusFile(dir));
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
