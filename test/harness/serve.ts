// Runs one control plane for a whole test run (spawned by scripts/test.mjs).
// Prints one JSON line on stdout once ready: {"kubeconfig","server","dir","pids","startupMs"},
// or {"error"} and exits 1. Stops the control plane when stdin closes, or on SIGTERM/SIGINT.
import { startControlPlane, type ControlPlane } from './apiserver.ts';

const log = (msg: string): void => {
  if (process.env.IRONLB_HARNESS_VERBOSE) process.stderr.write(`[apiserver] ${msg}\n`);
};

let cp: ControlPlane | undefined;
let stopping = false;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await cp?.stop();
  } finally {
    process.exit(code);
  }
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
process.stdin.on('end', () => void shutdown(0));
process.stdin.on('close', () => void shutdown(0));
process.stdin.resume();

try {
  cp = await startControlPlane({ log });
  if (stopping) {
    await cp.stop();
  } else {
    const { kubeconfigPath: kubeconfig, server, dir, pids, startupMs } = cp;
    process.stdout.write(JSON.stringify({ kubeconfig, server, dir, pids, startupMs }) + '\n');
  }
} catch (e) {
  process.stdout.write(JSON.stringify({ error: (e as Error).message }) + '\n');
  process.exit(1);
}
