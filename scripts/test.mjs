#!/usr/bin/env node
// The one test command: typecheck, then every *.test.ts under src/ and test/ with node's test runner.
// Integration tests share one real kube-apiserver + etcd, started here once and torn down at the end.
//
//   npm test [-- FILTER...]        only test files whose path contains one of the FILTERs
//   IRONLB_SKIP_TYPECHECK=1        skip tsc
//   IRONLB_NO_APISERVER=1          do not start the shared API server (harness tests start their own)
//   IRONLB_TEST_CONCURRENCY=N      test files run in parallel (default 2)
//
// The shared API server (test/harness/serve.ts) starts only when a selected test file calls
// testCluster(), in parallel with the typecheck; its kubeconfig reaches the tests as
// IRONLB_TEST_KUBECONFIG. It is stopped when the tests end, fail, or this runner is interrupted.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
process.chdir(root);

function findTests(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (entry === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (entry.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const filter = process.argv.slice(2);
let files = [...findTests('src'), ...findTests('test')].sort();
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));

// --- shared API server -----------------------------------------------------------------------------

let server; // { child, ready: Promise<{kubeconfig, server, dir, pids, startupMs} | {error}>, exited, launched }

function startServer() {
  const cache = process.env.IRONLB_CACHE || '/var/cache/ironlb';
  const missing = ['kube-apiserver', 'etcd'].filter((b) => !existsSync(join(cache, 'bin', b)));
  if (missing.length > 0) {
    console.error(
      `warning: ${missing.join(', ')} not found in ${join(cache, 'bin')}: integration tests will fail. ` +
        'Run scripts/setup (or scripts/build-kube-binaries), or set IRONLB_NO_APISERVER=1.',
    );
    return;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/harness/serve.ts'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise((resolve) => {
    let buf = '';
    const onData = (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.stdout.resume(); // keep draining
      try {
        resolve(JSON.parse(buf.slice(0, nl)));
      } catch {
        resolve({ error: `unexpected output from test/harness/serve.ts: ${buf.slice(0, nl)}` });
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    exited.then(() => resolve({ error: 'test/harness/serve.ts exited before the API server was ready' }));
  });
  child.stdin.on('error', () => {}); // EPIPE if it already died
  server = { child, ready, exited, launched: Date.now() };
}

async function stopServer() {
  if (!server) return;
  const { child, exited } = server;
  server = undefined;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin.end(); // serve.ts stops the control plane when its stdin closes
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000); // its children die with it (pdeathsig)
  await exited;
  clearTimeout(timer);
}

// --- interruption ----------------------------------------------------------------------------------

let testChild;
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (interrupted) return;
    interrupted = true;
    if (testChild && testChild.exitCode === null && testChild.signalCode === null) testChild.kill('SIGTERM');
    await stopServer();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

async function finish(code) {
  await stopServer();
  process.exit(code);
}

// --- run -------------------------------------------------------------------------------------------

const wantsServer =
  !process.env.IRONLB_NO_APISERVER &&
  files.some((f) => readFileSync(f, 'utf8').includes('testCluster('));
if (wantsServer) startServer();

if (!process.env.IRONLB_SKIP_TYPECHECK) {
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('typecheck failed');
    await finish(1);
  }
}

const env = { ...process.env, IRONLB_TEST_RUN: '1' };
if (server) {
  const { ready, launched } = server;
  const info = await ready;
  if (info.error) {
    console.error(`shared API server failed to start: ${info.error}`);
    await finish(1);
  }
  console.error(
    `shared API server ${info.server} ready: control plane ${info.startupMs} ms, ${Date.now() - launched} ms after launch ` +
      `(pids etcd ${info.pids.etcd}, kube-apiserver ${info.pids.apiserver}; ${info.dir})`,
  );
  env.IRONLB_TEST_KUBECONFIG = info.kubeconfig;
}

if (interrupted) await new Promise(() => {}); // the signal handler exits
testChild = spawn(
  process.execPath,
  // One file at a time by default: the integration files each run API servers, labs and routers, and on
  // 2 cores two of them at once starve each other (IRONLB_TEST_CONCURRENCY=2 for a faster local run).
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.IRONLB_TEST_CONCURRENCY ?? 1}`, ...files],
  { stdio: 'inherit', env },
);
testChild.on('exit', (code, signal) => {
  if (!interrupted) void finish(code ?? (signal ? 1 : 0));
});
