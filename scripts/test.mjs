#!/usr/bin/env node
// The one test command, in two stages with node's test runner:
//   1. fast: typecheck, then the unit tests (every *.test.ts under src/: pure code, loopback sockets and
//      child processes at most; no root, no network namespaces, routers or API server);
//   2. integration: every *.test.ts under test/ (real API server, namespaces, routers, raw packets).
// The second runs only when the first passed. Integration tests share one real kube-apiserver + etcd,
// started here once (while the fast stage runs) and torn down at the end.
//
//   npm test [-- FILTER...]        both stages; only test files whose path contains one of the FILTERs
//   npm run test:unit              the fast stage alone (--unit); npm run test:integration (--integration)
//   IRONLB_SKIP_TYPECHECK=1        skip tsc
//   IRONLB_NO_APISERVER=1          do not start the shared API server (harness tests start their own)
//   IRONLB_TEST_CONCURRENCY=N      integration test files run in parallel (default 1)
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

const args = process.argv.slice(2);
const onlyUnit = args.includes('--unit');
const onlyIntegration = args.includes('--integration');
const filter = args.filter((a) => a !== '--unit' && a !== '--integration');
const selected = (list) => (filter.length > 0 ? list.filter((f) => filter.some((x) => f.includes(x))) : list);
const unitFiles = onlyIntegration ? [] : selected(findTests('src').sort());
const integrationFiles = onlyUnit ? [] : selected(findTests('test').sort());

// The fast stage's promise (no API server) is kept by construction, not by convention.
const misplaced = unitFiles.filter((f) => readFileSync(f, 'utf8').includes('testCluster('));
if (misplaced.length > 0) {
  console.error(`unit tests must not need an API server; move these under test/: ${misplaced.join(', ')}`);
  process.exit(1);
}

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
  integrationFiles.some((f) => readFileSync(f, 'utf8').includes('testCluster('));
if (wantsServer) startServer();

if (!process.env.IRONLB_SKIP_TYPECHECK) {
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('typecheck failed');
    await finish(1);
  }
}

function runTests(stage, files, concurrency, env) {
  if (files.length === 0) return Promise.resolve(0);
  const started = Date.now();
  console.error(`== ${stage}: ${files.length} test files`);
  return new Promise((resolve) => {
    testChild = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files],
      { stdio: 'inherit', env },
    );
    testChild.on('exit', (code, signal) => {
      console.error(`== ${stage}: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const env = { ...process.env, IRONLB_TEST_RUN: '1' };
// Unit files are light and independent: two at a time on 2 cores.
const unitCode = await runTests('unit', unitFiles, 2, env);
if (interrupted) await new Promise(() => {}); // the signal handler exits
if (unitCode !== 0) {
  if (integrationFiles.length > 0) console.error('unit tests failed: integration tests not run');
  await finish(unitCode);
}

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

if (interrupted) await new Promise(() => {});
// One file at a time by default: the integration files each run API servers, labs and routers, and on
// 2 cores two of them at once starve each other (IRONLB_TEST_CONCURRENCY=2 for a faster local run).
const integrationCode = await runTests('integration', integrationFiles, process.env.IRONLB_TEST_CONCURRENCY ?? 1, env);
if (!interrupted) await finish(integrationCode);
