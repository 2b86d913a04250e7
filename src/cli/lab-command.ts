// `ironlb lab up|down|status|demo NAME`: the setups MetalLB articles build by hand, on one machine.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { kubeBinaries } from '../lab/control-plane.ts';
import { repoRoot, type LabState } from '../lab/lab.ts';
import { destroyStaleRuns } from '../lab/network/teardown.ts';
import { createContext, type ScenarioContext } from '../lab/scenario.ts';
import { scenarios } from '../lab/scenarios/index.ts';
import { applyConfig, applyService, curl, waitForIngress } from '../lab/scenarios/objects.ts';
import { until } from '../lab/scenario.ts';
import { defaultStateDir, processAlive, readStatus, statusFile } from '../lab/state.ts';

export const labUsage = `ironlb lab COMMAND
  up [--nodes N] [--router frr|bird|gobgp]   build the lab (default 3 nodes, FRR) and show a Service answering
  demo layer2|bgp                             run a scenario against the running lab
  status                                      what is running
  down                                        remove everything the lab created`;

const requiredTools = ['ip', 'curl', 'openssl'];
const routerTools: Record<string, string[]> = { frr: ['/usr/lib/frr/bgpd', '/usr/lib/frr/zebra', 'vtysh'], bird: ['bird', 'birdc'], gobgp: ['gobgpd', 'gobgp'] };

function which(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Everything a newcomer can get wrong before the lab can start, with what to do about it. */
function preflight(router: string): void {
  if (process.getuid?.() !== 0) throw new Error('the lab creates network namespaces: run it as root (sudo ironlb lab up)');
  const missing = [...requiredTools, ...(routerTools[router] ?? [])].filter((t) => !which(t));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: run scripts/setup (it installs the Debian packages the lab needs)`);
  try {
    kubeBinaries();
  } catch {
    throw new Error('kube-apiserver and etcd are not built yet: run scripts/setup first (it builds them once, then caches them)');
  }
  if (!existsSync(join(repoRoot, 'native/build/Release/ironlb_native.node'))) {
    throw new Error('the native addon is not built: run scripts/setup (or npx node-gyp rebuild --directory native)');
  }
}

function runningLab(dir: string): LabState | undefined {
  const s = readStatus(dir);
  return s?.status === 'up' && processAlive(s.supervisorPid) ? s.lab : undefined;
}

async function up(argv: string[], dir: string): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { nodes: { type: 'string', default: '3' }, router: { type: 'string', default: 'frr' } } });
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error(`--nodes: "${values.nodes}" must be a whole number from 1 to 9`);
  if (!['frr', 'bird', 'gobgp'].includes(values.router!)) throw new Error(`--router: "${values.router}" must be frr, bird or gobgp`);
  const existing = readStatus(dir);
  if (existing && processAlive(existing.supervisorPid)) {
    console.log(`the lab is already ${existing.status === 'up' ? 'up' : existing.status} (supervisor pid ${existing.supervisorPid}); see 'ironlb lab status', or 'ironlb lab down' first`);
    return;
  }
  preflight(values.router!);
  // Leftovers of a crashed run: remove them before building anew.
  destroyStaleRuns();
  rmSync(statusFile(dir), { force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const logPath = join(dir, 'supervisor.log');
  const log = openSync(logPath, 'w');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'src/lab/supervisor.ts'), '--nodes', String(nodes), '--router', values.router!, '--state-dir', dir],
    { detached: true, stdio: ['ignore', log, log], cwd: repoRoot },
  );
  closeSync(log);
  child.unref();
  console.log(`building the lab (supervisor pid ${child.pid}, log ${logPath})`);
  let shown = 0;
  const state = await until(
    'the lab to come up',
    () => {
      const s = readStatus(dir);
      for (const line of s?.progress.slice(shown) ?? []) console.log(`  ${line}`);
      shown = s?.progress.length ?? shown;
      if (s?.status === 'failed') throw new Error(`the lab failed to start: ${s.error} (details: ${logPath})`);
      if (!processAlive(child.pid!)) throw new Error(`the lab supervisor exited; see ${logPath}`);
      return s?.status === 'up' ? s.lab : undefined;
    },
    120_000,
    100,
  ).catch((err: Error) => {
    if (/failed to start|exited/.test(err.message)) throw new Error(err.message.replace(/^timed out.*waiting for the lab to come up \(last error: (.*)\)$/, '$1'));
    throw err;
  });
  console.log(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${state.nodes.length} nodes, router ${state.router}`);
  console.log(`  kubeconfig: ${state.kubeconfig}   (export KUBECONFIG=${state.kubeconfig}; kubectl get svc -A)`);

  const ctx = createContext(state);
  await hello(ctx);
  console.log(`\nnext: ironlb lab demo layer2 | ironlb lab demo bgp | ironlb lab status | ironlb lab down`);
}

/** The proof that the lab works: a Service reachable from the client through the load balancer. */
async function hello(ctx: ScenarioContext): Promise<void> {
  ctx.step('A Service, reachable from the client through IronLB (Layer2)');
  await applyConfig(ctx, 'IPAddressPool', 'ipaddresspools', 'v1beta1', 'hello', { addresses: ['10.99.0.240-10.99.0.249'] });
  await applyConfig(ctx, 'L2Advertisement', 'l2advertisements', 'v1beta1', 'hello', { ipAddressPools: ['hello'] });
  await applyService(ctx, 'hello', 'hello');
  const [ip] = await waitForIngress(ctx, 'hello');
  ctx.kubectl(['get', 'service', '-n', 'lab', 'hello']);
  const who = await until('the client to reach the service', () => curl(ctx, 'client', ip!, { quiet: true }), 30_000);
  curl(ctx, 'client', ip!);
  ctx.check('hello answered', !!who, `http://${ip}/ answered by ${who}`);
}

async function down(dir: string): Promise<void> {
  const s = readStatus(dir);
  if (s && processAlive(s.supervisorPid)) {
    process.kill(s.supervisorPid, 'SIGTERM');
    await until('the lab supervisor to exit', () => !processAlive(s.supervisorPid), 60_000, 100);
  }
  // Whatever a crashed supervisor left: namespaces, processes, directories.
  const report = destroyStaleRuns();
  rmSync(statusFile(dir), { force: true });
  rmSync(join(dir, 'kubeconfig'), { force: true });
  rmSync(join(dir, 'supervisor.log'), { force: true });
  console.log(s || (Array.isArray(report) && report.length > 0) ? 'the lab is down' : 'no lab was running');
}

async function status(dir: string): Promise<void> {
  const s = readStatus(dir);
  if (!s || !processAlive(s.supervisorPid)) {
    console.log('no lab is running (ironlb lab up)');
    return;
  }
  if (s.status !== 'up') {
    console.log(`the lab is ${s.status} (supervisor pid ${s.supervisorPid})`);
    return;
  }
  const st = s.lab;
  console.log(`lab ${st.id}: up since ${st.startedAt}, router ${st.router}, nodes ${st.nodes.join(', ')}`);
  console.log(`  kubeconfig ${st.kubeconfig}; API ${st.server}`);
  console.log(`  namespaces: ${Object.entries(st.namespaces).map(([h, ns]) => `${h}=${ns}`).join(' ')}`);
  const ctx = createContext(st);
  const svcs = await ctx.core.listNamespacedService({ namespace: 'lab' });
  for (const svc of svcs.items) {
    const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).join(', ') || '<pending>';
    console.log(`  service lab/${svc.metadata?.name}: ${ips}`);
  }
  const sessions = (await ctx.custom.listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: 'metallb-system', plural: 'bgpsessionstates' })) as {
    items: { status?: { node?: string; peer?: string; bgpStatus?: string } }[];
  };
  for (const i of sessions.items) console.log(`  bgp ${i.status?.node} → ${i.status?.peer}: ${i.status?.bgpStatus}`);
}

async function demo(argv: string[], dir: string): Promise<void> {
  const name = argv[0];
  const scenario = scenarios.find((s) => s.name === name);
  if (!scenario) throw new Error(`unknown scenario "${name ?? ''}"; available: ${scenarios.map((s) => `${s.name} (${s.summary})`).join('; ')}`);
  const state = runningLab(dir);
  if (!state) throw new Error('no lab is running: ironlb lab up');
  console.log(`scenario ${scenario.name}: ${scenario.summary}`);
  const ctx = createContext(state);
  await scenario.run(ctx);
  const failed = ctx.checks.filter((c) => !c.ok);
  console.log(`\n${failed.length === 0 ? 'scenario passed' : `scenario FAILED: ${failed.map((c) => c.name).join(', ')}`}`);
  if (failed.length > 0) process.exitCode = 1;
}

export async function labCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const dir = defaultStateDir;
  switch (sub) {
    case 'up':
      return up(rest, dir);
    case 'down':
      return down(dir);
    case 'status':
      return status(dir);
    case 'demo':
      return demo(rest, dir);
    default:
      console.log(labUsage);
      if (sub && sub !== 'help' && sub !== '--help') process.exitCode = 2;
  }
}
