// FRR as a lab router: zebra + bgpd (+ bfdd when a neighbor wants BFD) inside one namespace, without
// watchfrr or systemd. Each daemon runs in the foreground (no -d), so the PID the topology records is the
// daemon's own. Every instance has its own run directory for config, pid files, vty sockets and the
// zebra API socket (-z must differ per instance); -P 0 keeps the vty TCP ports closed. Routes reach the
// namespace's kernel table through zebra (bgpd -n when installRoutes is false).
//
// FRR 8 also creates /var/tmp/frr/<daemon>.<pid>/ for crash logs and never removes it: stop() removes it,
// and the path is recorded with the topology so destroy() removes it after a crash too.
import { chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun, runCommandAsync } from '../network/command.ts';
import type { LabProcess } from '../network/lab-process.ts';
import type { LabHost } from '../network/topology-plan.ts';
import type { Topology } from '../network/topology.ts';
import { waitFor } from '../network/wait-for.ts';
import { normalizePrefix } from './address.ts';
import { announceCommands, renderFrrConfig, withdrawCommands } from './frr-config.ts';
import {
  mergeFrrSessions,
  parseFrrBfdPeers,
  parseFrrNeighbors,
  parseFrrRoute,
  parseFrrSummary,
  parseFrrTable,
  type BfdPeer,
} from './frr-output.ts';
import { splitJsonDocuments } from './json-documents.ts';
import { kernelRoute, type KernelRoute } from './kernel-route.ts';
import type { AddressFamily, Announcement, BgpRoute, BgpRouter, BgpRouterConfig, BgpSession, RouterPlacement } from './router.ts';

export const FRR_DAEMONS_DIR = '/usr/lib/frr';
const FRR_SCRATCH_DIR = '/var/tmp/frr';
type FrrDaemon = 'zebra' | 'bgpd' | 'bfdd';

export interface FrrStartOptions {
  /** How long the daemons get to come up (default 10 s). */
  readonly readyTimeoutMs?: number;
}

export class FrrRouter implements BgpRouter {
  readonly kind = 'frr' as const;
  #config: BgpRouterConfig;
  readonly #daemons = new Map<FrrDaemon, LabProcess>();
  readonly #announced = new Map<string, Announcement>();
  #stopped = false;

  private constructor(
    readonly topology: Topology,
    readonly host: LabHost,
    config: BgpRouterConfig,
    /** Config files, pid files, vty sockets (vtysh --vty_socket DIR). */
    readonly dir: string,
  ) {
    this.#config = config;
    for (const a of config.announcements ?? []) this.#announced.set(normalizePrefix(a.prefix), a);
  }

  get config(): BgpRouterConfig {
    return { ...this.#config, announcements: [...this.#announced.values()] };
  }

  /** Renders the configuration, starts zebra, (bfdd,) bgpd, and waits until bgpd answers vtysh. */
  static async start(placement: RouterPlacement, config: BgpRouterConfig, options: FrrStartOptions = {}): Promise<FrrRouter> {
    const { topology, host: hostName } = placement;
    const host = topology.host(hostName);
    const files = renderFrrConfig(config, hostName);
    const dir = topology.makeDir(`frr-${hostName}`);
    // A restarted router reuses its directory: sockets left by the previous zebra would pass the
    // readiness check before the new one listens, and bgpd, failing to reach zebra, retries only after 10 s.
    for (const stale of ['zserv.api', 'zebra.vty', 'bgpd.vty', 'bfdd.vty', 'bfdd.sock', 'zebra.pid', 'bgpd.pid', 'bfdd.pid']) rmSync(join(dir, stale), { force: true });
    const { uid, gid } = frrUser();
    chownSync(dir, uid, gid);
    for (const [daemon, text] of Object.entries(files) as [FrrDaemon, string][]) {
      const path = join(dir, `${daemon}.conf`);
      writeFileSync(path, text, { mode: 0o640 });
      chownSync(path, uid, gid);
    }
    const router = new FrrRouter(topology, host, config, dir);
    const timeoutMs = options.readyTimeoutMs ?? 10_000;
    try {
      await router.#startDaemon('zebra', timeoutMs);
      if (files.bfdd) await router.#startDaemon('bfdd', timeoutMs);
      await router.#startDaemon('bgpd', timeoutMs);
    } catch (err) {
      await router.stop();
      throw err;
    }
    return router;
  }

  async #startDaemon(daemon: FrrDaemon, timeoutMs: number): Promise<void> {
    const args = [
      join(FRR_DAEMONS_DIR, daemon),
      '-u', 'frr', '-g', 'frr',
      '-f', join(this.dir, `${daemon}.conf`),
      '-i', join(this.dir, `${daemon}.pid`),
      '--vty_socket', this.dir,
      '-z', join(this.dir, 'zserv.api'),
      '-P', '0',
      '--limit-fds', '1024',
    ];
    if (daemon === 'bgpd') {
      args.push('-p', String(this.#config.port ?? 179));
      if (this.#config.installRoutes === false) args.push('-n');
    }
    if (daemon === 'bfdd') args.push('--bfdctl', join(this.dir, 'bfdd.sock'));
    const proc = this.topology.spawn(this.host.name, args, { name: daemon, logFile: join(this.dir, `${daemon}.log`) });
    this.#daemons.set(daemon, proc);
    this.topology.trackPath(scratchDir(daemon, proc.pid));
    const ready =
      daemon === 'zebra'
        ? () => existsSync(join(this.dir, 'zserv.api')) && existsSync(join(this.dir, 'zebra.vty'))
        : async () => (await this.#vtyshRaw(daemon, [daemon === 'bgpd' ? 'show bgp summary json' : 'show bfd peers json'])).status === 0;
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`${daemon} exited (${JSON.stringify(proc.exit)}): ${proc.tail()}`);
        return ready();
      },
      { timeoutMs, intervalMs: 25, what: `FRR ${daemon} in ${this.host.ns}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${daemon} log:\n${proc.tail()}`);
    });
    // FRR starts even when config lines fail; it only logs them. A lab config must apply completely.
    const rejected = configErrors(proc.output());
    if (rejected.length > 0) throw new Error(`FRR ${daemon} on ${this.host.name} rejected config lines:\n${rejected.join('\n')}`);
  }

  processes(): LabProcess[] {
    return [...this.#daemons.values()];
  }

  #vtyshRaw(daemon: FrrDaemon, commands: readonly string[]) {
    return runCommandAsync('vtysh', ['--vty_socket', this.dir, '-d', daemon, ...commands.flatMap((c) => ['-c', c])], { timeoutMs: 15_000 });
  }

  /** Runs vtysh commands against one daemon (default bgpd); throws on a non-zero exit. */
  async vtysh(commands: readonly string[], daemon: FrrDaemon = 'bgpd'): Promise<string> {
    const r = await this.#vtyshRaw(daemon, commands);
    if (r.status !== 0 || /^% /m.test(r.stdout)) {
      throw new Error(`vtysh (${this.host.name}, ${daemon}) ${commands.join(' | ')} failed (${r.status}): ${(r.stdout + r.stderr).trim()}`);
    }
    return r.stdout;
  }

  /** Runs `… json` commands in one vtysh call and returns one parsed document per command. */
  async vtyshJson(commands: readonly string[], daemon: FrrDaemon = 'bgpd'): Promise<unknown[]> {
    const out = await this.vtysh(commands, daemon);
    const { documents, other } = splitJsonDocuments(out);
    if (documents.length !== commands.length) {
      throw new Error(`vtysh ${commands.join(' | ')}: expected ${commands.length} JSON documents, got ${documents.length}${other.length ? `: ${other.join(' / ')}` : ''}`);
    }
    return documents;
  }

  async sessions(): Promise<Map<string, BgpSession>> {
    const [summary, neighbors] = await this.vtyshJson(['show bgp summary json', 'show bgp neighbor json']);
    return mergeFrrSessions(parseFrrSummary(summary), parseFrrNeighbors(neighbors));
  }

  async routes(family?: AddressFamily): Promise<Map<string, BgpRoute>> {
    const routes = new Map<string, BgpRoute>();
    for (const f of family ? [family] : (['ipv4', 'ipv6'] as const)) {
      const [tableJson] = await this.vtyshJson([`show bgp ${f} unicast json`]);
      const table = parseFrrTable(tableJson);
      if (table.length === 0) continue;
      const details = await this.vtyshJson(table.map((t) => `show bgp ${f} unicast ${t.prefix} json`));
      details.forEach((d, i) => {
        const route = parseFrrRoute(d, table[i]);
        if (route) routes.set(route.prefix, route);
      });
    }
    return routes;
  }

  kernelRoute(prefix: string): Promise<KernelRoute | undefined> {
    return kernelRoute(this.host.ns, prefix);
  }

  /** BFD sessions as bfdd sees them (empty when bfdd does not run). */
  async bfdPeers(): Promise<BfdPeer[]> {
    if (!this.#daemons.has('bfdd')) return [];
    const [json] = await this.vtyshJson(['show bfd peers json'], 'bfdd');
    return parseFrrBfdPeers(json);
  }

  async announce(announcement: Announcement): Promise<void> {
    const prefix = normalizePrefix(announcement.prefix);
    await this.vtysh(announceCommands(this.#config.asn, announcement, this.#announced.has(prefix)));
    this.#announced.set(prefix, announcement);
  }

  async withdraw(prefix: string): Promise<void> {
    const p = normalizePrefix(prefix);
    if (!this.#announced.has(p)) return;
    await this.vtysh(withdrawCommands(this.#config.asn, p));
    this.#announced.delete(p);
  }

  /** bgpd and bfdd first, zebra last (it removes the routes it installed); then their scratch dirs. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const order: FrrDaemon[] = ['bgpd', 'bfdd', 'zebra'];
    for (const daemon of order) {
      const proc = this.#daemons.get(daemon);
      if (!proc) continue;
      await proc.stop({ timeoutMs });
      rmSync(scratchDir(daemon, proc.pid), { recursive: true, force: true });
    }
  }
}

export function startFrr(topology: Topology, host: string, config: BgpRouterConfig, options?: FrrStartOptions): Promise<FrrRouter> {
  return FrrRouter.start({ topology, host }, config, options);
}

/** Lines where an FRR daemon reports a configuration line it could not apply. */
export function configErrors(log: string): string[] {
  return log.split('\n').filter((l) => /on config line \d+/.test(l));
}

function scratchDir(daemon: FrrDaemon, pid: number): string {
  return join(FRR_SCRATCH_DIR, `${daemon}.${pid}`);
}

let frrIds: { uid: number; gid: number } | undefined;

function frrUser(): { uid: number; gid: number } {
  frrIds ??= { uid: Number(mustRun('id', ['-u', 'frr']).trim()), gid: Number(mustRun('id', ['-g', 'frr']).trim()) };
  return frrIds;
}
