// BIRD 2 as a lab router: `bird -f -c CONF -s CTL -P PIDFILE` in the foreground (so the recorded PID is
// bird's own; without -f it forks), queried with `birdc -s CTL` (a Unix socket: no namespace needed).
// Announcements change by re-rendering the config and `birdc configure`, which reloads only the static
// protocols: BGP sessions stay up. Routes reach the kernel through `protocol kernel` (merge paths).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, runCommandAsync } from '../network/command.ts';
import type { LabProcess } from '../network/lab-process.ts';
import type { LabHost } from '../network/topology-plan.ts';
import type { Topology } from '../network/topology.ts';
import { waitFor } from '../network/wait-for.ts';
import { normalizePrefix } from './address.ts';
import { renderBirdConfig } from './bird-config.ts';
import { birdSessions, parseBirdProtocols, parseBirdRoutes } from './bird-output.ts';
import { kernelRoute, type KernelRoute } from './kernel-route.ts';
import type { AddressFamily, Announcement, BgpRoute, BgpRouter, BgpRouterConfig, BgpSession, RouterPlacement } from './router.ts';

export interface BirdStartOptions {
  readonly readyTimeoutMs?: number;
}

export class BirdRouter implements BgpRouter {
  readonly kind = 'bird' as const;
  readonly #announced = new Map<string, Announcement>();
  #config: BgpRouterConfig;
  #process: LabProcess | undefined;
  #stopped = false;

  private constructor(
    readonly topology: Topology,
    readonly host: LabHost,
    config: BgpRouterConfig,
    readonly dir: string,
  ) {
    this.#config = config;
    for (const a of config.announcements ?? []) this.#announced.set(normalizePrefix(a.prefix), a);
  }

  get config(): BgpRouterConfig {
    return { ...this.#config, announcements: [...this.#announced.values()] };
  }

  get configFile(): string {
    return join(this.dir, 'bird.conf');
  }

  get controlSocket(): string {
    return join(this.dir, 'bird.ctl');
  }

  static async start(placement: RouterPlacement, config: BgpRouterConfig, options: BirdStartOptions = {}): Promise<BirdRouter> {
    const { topology, host: hostName } = placement;
    const dir = topology.makeDir(`bird-${hostName}`);
    const router = new BirdRouter(topology, topology.host(hostName), config, dir);
    router.#writeConfig();
    // Parse-only run first: a config error is reported plainly instead of as "bird exited".
    const check = runCommand('bird', ['-p', '-c', router.configFile]);
    if (check.status !== 0) throw new Error(`BIRD config for ${hostName} rejected: ${(check.stderr || check.stdout).trim()}\n${numbered(router.#render())}`);
    const proc = topology.spawn(hostName, ['bird', '-f', '-c', router.configFile, '-s', router.controlSocket, '-P', join(dir, 'bird.pid')], {
      name: 'bird',
      logFile: join(dir, 'bird.log'),
    });
    router.#process = proc;
    try {
      await waitFor(
        async () => {
          if (!proc.running) throw new Error(`bird exited (${JSON.stringify(proc.exit)})`);
          return (await runCommandAsync('birdc', ['-s', router.controlSocket, 'show', 'status'])).stdout.includes('Daemon is up and running');
        },
        { timeoutMs: options.readyTimeoutMs ?? 10_000, intervalMs: 25, what: `BIRD in ${router.host.ns}` },
      );
    } catch (err) {
      await router.stop();
      throw new Error(`${(err as Error).message}\nbird log:\n${proc.tail()}`);
    }
    return router;
  }

  #render(): string {
    return renderBirdConfig(this.config);
  }

  #writeConfig(): void {
    writeFileSync(this.configFile, this.#render());
  }

  processes(): LabProcess[] {
    return this.#process ? [this.#process] : [];
  }

  /** Runs one birdc command (words as birdc takes them) and returns its output; throws on failure. */
  async birdc(...words: string[]): Promise<string> {
    const r = await runCommandAsync('birdc', ['-s', this.controlSocket, ...words]);
    // birdc exits 0 even for a syntax error; the reply then has an error line instead of data.
    if (r.status !== 0 || /^syntax error|^Unable to connect/m.test(r.stdout)) {
      throw new Error(`birdc ${words.join(' ')} (${this.host.name}) failed: ${(r.stdout + r.stderr).trim()}`);
    }
    return r.stdout;
  }

  async sessions(): Promise<Map<string, BgpSession>> {
    return birdSessions(parseBirdProtocols(await this.birdc('show', 'protocols', 'all')));
  }

  async routes(family?: AddressFamily): Promise<Map<string, BgpRoute>> {
    const protocols = parseBirdProtocols(await this.birdc('show', 'protocols', 'all'));
    const routes = parseBirdRoutes(await this.birdc('show', 'route', 'all'), { protocols });
    if (!family) return routes;
    return new Map([...routes].filter(([, r]) => r.family === family));
  }

  kernelRoute(prefix: string): Promise<KernelRoute | undefined> {
    return kernelRoute(this.host.ns, prefix);
  }

  async announce(announcement: Announcement): Promise<void> {
    this.#announced.set(normalizePrefix(announcement.prefix), announcement);
    await this.#reconfigure();
  }

  async withdraw(prefix: string): Promise<void> {
    if (!this.#announced.delete(normalizePrefix(prefix))) return;
    await this.#reconfigure();
  }

  async #reconfigure(): Promise<void> {
    this.#writeConfig();
    const out = await this.birdc('configure');
    if (!/Reconfigur(ed|ation in progress)/.test(out)) throw new Error(`birdc configure (${this.host.name}): ${out.trim()}`);
  }

  /** SIGTERM (BIRD closes its sessions with a Cease), SIGKILL after the timeout. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#process?.stop({ timeoutMs });
  }
}

export function startBird(topology: Topology, host: string, config: BgpRouterConfig, options?: BirdStartOptions): Promise<BirdRouter> {
  return BirdRouter.start({ topology, host }, config, options);
}

function numbered(text: string): string {
  return text
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(3)}  ${l}`)
    .join('\n');
}
