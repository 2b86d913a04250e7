// The one-machine lab: a router, N Kubernetes nodes and two clients in network namespaces, a real
// kube-apiserver + etcd, the IronLB controller and one speaker per node (the real code), and per node a
// backend that stands in for kube-proxy and an application. startLab() builds all of it; stop() removes
// all of it. `ironlb lab up` runs startLab() inside a detached supervisor process (supervisor.ts).
import { closeSync, copyFileSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:net';
import { daemonEnv } from '../cli/daemon-heap.ts';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { serveUnixToLoopback } from './api-bridge.ts';
import { createTopology, type Topology } from './network/topology.ts';
import { nodeIPv4, nodeIPv6, nodeName, standardLabSpec, LAN } from './network/standard-lab.ts';
import { startBird, BirdRouter } from './routers/bird.ts';
import { startFrr, FrrRouter } from './routers/frr.ts';
import { startGobgp, GobgpRouter } from './routers/gobgp.ts';
import type { BgpRouter, BgpRouterConfig, RouterKind } from './routers/router.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const routerASN = 65000;
export const nodeASN = 65001;
export const labNamespace = 'lab';
export const membershipKey = 'ironlb-lab-membership-key';

export interface LabOptions {
  readonly nodes: number;
  readonly router: RouterKind;
  readonly log: Logger;
  /** Where the user's copy of the kubeconfig goes. */
  readonly stateDir: string;
  /** Progress lines for the user. */
  readonly progress?: (line: string) => void;
  /** Replaces the router's configuration (e.g. iBGP, MD5, BFD); gets the default one. */
  readonly routerConfig?: (defaults: BgpRouterConfig) => BgpRouterConfig;
}

/** Everything a CLI invocation needs to find and talk to a running lab. */
export interface LabState {
  readonly id: string;
  readonly supervisorPid: number;
  readonly router: RouterKind;
  readonly nodes: string[];
  readonly kubeconfig: string;
  readonly server: string;
  readonly namespaces: Readonly<Record<string, string>>;
  readonly switchNamespace: string;
  /** The router's own CLI, as a user would type it (vtysh / birdc / gobgp). */
  readonly routerCli: readonly string[];
  readonly startedAt: string;
  readonly startupMs: number;
}

export interface Lab {
  readonly state: LabState;
  readonly topology: Topology;
  readonly controlPlane: ControlPlane;
  readonly router: BgpRouter;
  stop(): Promise<void>;
}

const tsxNode = (script: string, args: string[]): string[] => [process.execPath, '--import', 'tsx', join(repoRoot, script), ...args];

function routerConfig(): BgpRouterConfig {
  return {
    asn: routerASN,
    routerId: LAN.router4,
    maxPaths: 8,
    installRoutes: true,
    listenRanges: [{ prefix: LAN.ipv4, asn: nodeASN, families: ['ipv4', 'ipv6'] }],
  };
}

function routerCli(router: BgpRouter, routerNs: string): string[] {
  if (router instanceof FrrRouter) return ['vtysh', '--vty_socket', router.dir];
  if (router instanceof BirdRouter) return ['birdc', '-s', router.controlSocket];
  if (router instanceof GobgpRouter) return ['ip', 'netns', 'exec', routerNs, 'gobgp', '-p', String(router.apiPort)];
  return [];
}

export async function startLab(opts: LabOptions): Promise<Lab> {
  const t0 = Date.now();
  const say = opts.progress ?? (() => undefined);
  const nodes = Array.from({ length: opts.nodes }, (_, i) => i + 1);
  const topology = createTopology(standardLabSpec({ nodes: opts.nodes, arpIgnoreOnNodes: true }), { logger: opts.log });
  const children: ChildProcess[] = [];
  let controlPlane: ControlPlane | undefined;
  let bridge: Server | undefined;
  try {
    say(`network: router, ${opts.nodes} nodes, client (LAN ${LAN.ipv4}), far client (behind the router) — namespaces ${topology.prefix}-*`);
    const rc = opts.routerConfig ? opts.routerConfig(routerConfig()) : routerConfig();
    const [cp, router] = await Promise.all([
      startControlPlane({ namespaces: ['metallb-system', labNamespace] }),
      opts.router === 'frr'
        ? startFrr(topology, 'router', rc)
        : opts.router === 'bird'
          ? startBird(topology, 'router', rc)
          : startGobgp(topology, 'router', rc),
    ]);
    controlPlane = cp;
    // If the supervisor is killed, its control plane dies with it (pdeathsig); the run record makes
    // `lab down` remove the control plane's files too.
    topology.trackPath(cp.dir);
    say(`kube-apiserver + etcd ready at ${cp.server}; router ${opts.router} (AS ${routerASN}) listening for nodes (AS ${nodeASN})`);

    // Nodes as Kubernetes sees them: addresses and Ready, as a kubelet would report.
    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    for (const i of nodes) {
      const name = nodeName(i);
      await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } } } });
      const now = new Date();
      await core.replaceNodeStatus({
        name,
        body: {
          metadata: { name },
          status: {
            addresses: [
              { type: 'InternalIP', address: nodeIPv4(i) },
              { type: 'InternalIP', address: nodeIPv6(i) },
              { type: 'Hostname', address: name },
            ],
            conditions: [{ type: 'Ready', status: 'True', reason: 'LabNode', message: 'lab node', lastHeartbeatTime: now, lastTransitionTime: now }],
          },
        },
      });
    }

    // The API server listens on the root namespace's loopback; bridge it into every node namespace.
    const port = Number(new URL(cp.server).port);
    const unixPath = join(topology.dir, 'api.sock');
    bridge = await serveUnixToLoopback(unixPath, port);
    for (const i of nodes) topology.spawn(nodeName(i), tsxNode('src/lab/api-bridge.ts', ['netns', '--unix', unixPath, '--port', String(port)]), { name: 'api-bridge' });

    mkdirSync(join(topology.dir, 'logs'), { recursive: true });
    const controllerLog = openSync(join(topology.dir, 'logs', 'controller.log'), 'a');
    const controller = spawn(
      process.execPath,
      [join(repoRoot, 'bin/ironlb.js'), 'controller', '--kubeconfig', cp.kubeconfigPath, '--metrics-port', '0', '--log-level', 'info'],
      { stdio: ['ignore', controllerLog, controllerLog], env: { ...process.env, ...daemonEnv } },
    );
    closeSync(controllerLog);
    children.push(controller);
    topology.trackPid(controller.pid!, 'router', 'ironlb-controller');
    for (const i of nodes) {
      const name = nodeName(i);
      topology.spawn(
        name,
        [process.execPath, join(repoRoot, 'bin/ironlb.js'), 'speaker', '--kubeconfig', cp.kubeconfigPath, '--node-name', name, '--memberlist-key', membershipKey, '--log-level', 'info'],
        { name: 'ironlb-speaker', env: { ...process.env, ...daemonEnv } },
      );
      topology.spawn(
        name,
        tsxNode('src/lab/backend.ts', ['--kubeconfig', cp.kubeconfigPath, '--node', name, '--ipv4', nodeIPv4(i), '--ipv6', nodeIPv6(i), '--namespace', labNamespace]),
        { name: 'backend' },
      );
    }
    say(`started: ironlb controller, and on every node an ironlb speaker and a backend (HTTP :80 answering its node name)`);

    mkdirSync(opts.stateDir, { recursive: true });
    const kubeconfig = join(opts.stateDir, 'kubeconfig');
    copyFileSync(cp.kubeconfigPath, kubeconfig);
    const namespaces: Record<string, string> = {};
    for (const [name] of topology.hosts) namespaces[name] = topology.ns(name);
    const state: LabState = {
      id: topology.id,
      supervisorPid: process.pid,
      router: opts.router,
      nodes: nodes.map(nodeName),
      kubeconfig,
      server: cp.server,
      namespaces,
      switchNamespace: topology.switchNs,
      routerCli: routerCli(router, topology.ns('router')),
      startedAt: new Date().toISOString(),
      startupMs: Date.now() - t0,
    };
    let stopped: Promise<void> | undefined;
    const cpRef = cp;
    return {
      state,
      topology,
      controlPlane: cp,
      router,
      stop: () =>
        (stopped ??= (async () => {
          for (const c of children) c.kill('SIGTERM');
          await router.stop().catch(() => undefined);
          topology.destroy();
          bridge?.close();
          await cpRef.stop();
        })()),
    };
  } catch (err) {
    for (const c of children) c.kill('SIGKILL');
    topology.destroy();
    bridge?.close();
    await controlPlane?.stop();
    throw err;
  }
}
