// GoBGP as a lab router: `gobgpd -f conf.toml -t toml --api-hosts 127.0.0.1:PORT --log-plain
// --pprof-disable` in the foreground (gobgpd has no daemon mode). Without --api-hosts its gRPC API listens
// on every address. The API port is inside the host's namespace, so every instance can use the same one.
// The `gobgp` CLI must therefore run inside the namespace too.
//
// GoBGP installs nothing into the kernel (no zebra integration here): kernelRoute() shows only what
// something else put there. It has no BFD, and its config file has no static routes, so announcements
// are added through the CLI once gobgpd answers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommandAsync } from '../network/command.ts';
import type { LabProcess } from '../network/lab-process.ts';
import type { LabHost } from '../network/topology-plan.ts';
import type { Topology } from '../network/topology.ts';
import { waitFor } from '../network/wait-for.ts';
import { normalizePrefix } from './address.ts';
import { gobgpAddArgs, gobgpDelArgs, renderGobgpConfig } from './gobgp-config.ts';
import { parseGobgpNeighbors, parseGobgpRib } from './gobgp-output.ts';
import { kernelRoute, type KernelRoute } from './kernel-route.ts';
import type { AddressFamily, Announcement, BgpRoute, BgpRouter, BgpRouterConfig, BgpSession, RouterPlacement } from './router.ts';

export interface GobgpStartOptions {
  /** gRPC API port on 127.0.0.1 inside the namespace (default 50051). */
  readonly apiPort?: number;
  readonly readyTimeoutMs?: number;
}

export class GobgpRouter implements BgpRouter {
  readonly kind = 'gobgp' as const;
  readonly #announced = new Map<string, Announcement>();
  #process: LabProcess | undefined;
  #stopped = false;

  private constructor(
    readonly topology: Topology,
    readonly host: LabHost,
    readonly baseConfig: BgpRouterConfig,
    readonly dir: string,
    readonly apiPort: number,
  ) {}

  get config(): BgpRouterConfig {
    return { ...this.baseConfig, announcements: [...this.#announced.values()] };
  }

  static async start(placement: RouterPlacement, config: BgpRouterConfig, options: GobgpStartOptions = {}): Promise<GobgpRouter> {
    const { topology, host: hostName } = placement;
    const text = renderGobgpConfig(config); // throws on what GoBGP cannot do (BFD)
    const dir = topology.makeDir(`gobgp-${hostName}`);
    const apiPort = options.apiPort ?? 50051;
    const router = new GobgpRouter(topology, topology.host(hostName), config, dir, apiPort);
    const file = join(dir, 'gobgpd.toml');
    writeFileSync(file, text);
    const args = ['gobgpd', '-f', file, '-t', 'toml', '--api-hosts', `127.0.0.1:${apiPort}`, '--log-plain', '--pprof-disable'];
    const proc = topology.spawn(hostName, args, { name: 'gobgpd', logFile: join(dir, 'gobgpd.log') });
    router.#process = proc;
    try {
      await waitFor(
        async () => {
          if (!proc.running) throw new Error(`gobgpd exited (${JSON.stringify(proc.exit)})`);
          return (await router.#cli(['global', '-j'])).status === 0;
        },
        { timeoutMs: options.readyTimeoutMs ?? 10_000, intervalMs: 50, what: `gobgpd in ${router.host.ns}` },
      );
      for (const a of config.announcements ?? []) await router.announce(a);
    } catch (err) {
      await router.stop();
      throw new Error(`${(err as Error).message}\ngobgpd log:\n${proc.tail()}`);
    }
    return router;
  }

  processes(): LabProcess[] {
    return this.#process ? [this.#process] : [];
  }

  #cli(args: readonly string[]) {
    return runCommandAsync('ip', ['netns', 'exec', this.host.ns, 'gobgp', '-p', String(this.apiPort), ...args]);
  }

  /** Runs the gobgp CLI against this instance; returns stdout, throws on a non-zero exit. */
  async gobgp(...args: string[]): Promise<string> {
    const r = await this.#cli(args);
    if (r.status !== 0) throw new Error(`gobgp ${args.join(' ')} (${this.host.name}) failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  async #json(...args: string[]): Promise<unknown> {
    const out = (await this.gobgp(...args, '-j')).trim();
    return out === '' ? null : JSON.parse(out);
  }

  async sessions(): Promise<Map<string, BgpSession>> {
    return parseGobgpNeighbors(await this.#json('neighbor'), (this.baseConfig.neighbors ?? []).map((n) => n.address));
  }

  async routes(family?: AddressFamily): Promise<Map<string, BgpRoute>> {
    const routes = new Map<string, BgpRoute>();
    for (const f of family ? [family] : (['ipv4', 'ipv6'] as const)) {
      for (const [prefix, route] of parseGobgpRib(await this.#json('global', 'rib', '-a', f))) routes.set(prefix, route);
    }
    return routes;
  }

  /** GoBGP installs no routes: this only shows what something else put into the kernel. */
  kernelRoute(prefix: string): Promise<KernelRoute | undefined> {
    return kernelRoute(this.host.ns, prefix);
  }

  async announce(announcement: Announcement): Promise<void> {
    const prefix = normalizePrefix(announcement.prefix);
    if (this.#announced.has(prefix)) await this.gobgp(...gobgpDelArgs(prefix));
    await this.gobgp(...gobgpAddArgs(announcement));
    this.#announced.set(prefix, announcement);
  }

  async withdraw(prefix: string): Promise<void> {
    const p = normalizePrefix(prefix);
    if (!this.#announced.has(p)) return;
    await this.gobgp(...gobgpDelArgs(p));
    this.#announced.delete(p);
  }

  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#process?.stop({ timeoutMs });
  }
}

export function startGobgp(topology: Topology, host: string, config: BgpRouterConfig, options?: GobgpStartOptions): Promise<GobgpRouter> {
  return GobgpRouter.start({ topology, host }, config, options);
}
