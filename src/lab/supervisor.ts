// The long-lived owner of a running lab. `ironlb lab up` starts it detached; it builds the lab, records
// it in the state directory, and tears everything down on SIGTERM (`ironlb lab down`) or if it dies
// (its children die with it; the namespace registry lets `lab down` clean up after a crash).
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../log/logger.ts';
import { startLab, type Lab } from './lab.ts';
import type { RouterKind } from './routers/router.ts';
import { statusFile, writeStatus } from './state.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    router: { type: 'string', default: 'frr' },
    'state-dir': { type: 'string' },
  },
});
const stateDir = values['state-dir']!;
const progress: string[] = [];
const log = createLogger(process.env.IRONLB_LOG_LEVEL ?? 'warn', 'lab');
let lab: Lab | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await lab?.stop().catch(() => undefined);
    rmSync(statusFile(stateDir), { force: true });
  }
  process.exit(code);
}
process.once('SIGTERM', () => void shutdown(0));
process.once('SIGINT', () => void shutdown(0));

writeStatus(stateDir, { status: 'starting', supervisorPid: process.pid, progress });
try {
  lab = await startLab({
    nodes: Number(values.nodes),
    router: values.router as RouterKind,
    log,
    stateDir,
    progress: (line) => {
      progress.push(line);
      writeStatus(stateDir, { status: 'starting', supervisorPid: process.pid, progress });
    },
  });
  writeStatus(stateDir, { status: 'up', supervisorPid: process.pid, progress, lab: lab.state });
} catch (err) {
  writeStatus(stateDir, { status: 'failed', supervisorPid: process.pid, progress, error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
// Stay alive: the lab lives as long as this process.
setInterval(() => undefined, 1 << 30);
