// What a lab scenario gets: the running lab, API clients, and a way to run and show each step the way
// a user would type it. Adding a scenario is one module exporting a Scenario, listed in scenarios/index.ts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { LabState } from './lab.ts';

export interface CommandOutput {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ScenarioContext {
  readonly state: LabState;
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  /** A numbered step heading. */
  step(title: string): void;
  /** Free text for the user. */
  say(text: string): void;
  /** Runs a command on the machine (or `ip netns exec NS …`), shows it and its output. */
  run(argv: readonly string[], opts?: { quiet?: boolean; timeoutMs?: number }): CommandOutput;
  /** Runs a command inside a lab host's namespace. */
  runOn(host: string, argv: readonly string[], opts?: { quiet?: boolean; timeoutMs?: number }): CommandOutput;
  /** `kubectl …` against the lab (shown; run if kubectl is installed). */
  kubectl(args: readonly string[]): CommandOutput;
  /** Records an outcome the e2e test asserts on. */
  check(name: string, ok: boolean, detail: string): void;
  readonly checks: Check[];
}

export interface Scenario {
  readonly name: string;
  readonly summary: string;
  run(ctx: ScenarioContext): Promise<void>;
}

const kubectlPath = (): string | undefined =>
  [`${process.env.IRONLB_CACHE ?? '/var/cache/ironlb'}/bin/kubectl`, '/usr/local/bin/kubectl', '/usr/bin/kubectl'].find((p) => existsSync(p));

export function createContext(state: LabState, out: (line: string) => void = (l) => console.log(l)): ScenarioContext {
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  let stepNo = 0;
  const checks: Check[] = [];
  const indent = (text: string) =>
    text
      .trimEnd()
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n');
  const run = (argv: readonly string[], display: string, opts: { quiet?: boolean; timeoutMs?: number } = {}): CommandOutput => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: opts.timeoutMs ?? 15_000, env: { ...process.env, KUBECONFIG: state.kubeconfig } });
    const result = { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
    if (!opts.quiet) {
      out(`  $ ${display}`);
      const text = (result.stdout + result.stderr).trim();
      if (text) out(indent(text));
    }
    return result;
  };
  const ctx: ScenarioContext = {
    state,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    checks,
    step: (title) => out(`\n${++stepNo}. ${title}`),
    say: (text) => out(indent(text)),
    run: (argv, opts) => run(argv, argv.join(' '), opts),
    runOn: (host, argv, opts) => {
      const ns = state.namespaces[host];
      if (!ns) throw new Error(`no lab host "${host}"`);
      return run(['ip', 'netns', 'exec', ns, ...argv], `ip netns exec ${ns} ${argv.join(' ')}`, opts);
    },
    kubectl: (args) => {
      const bin = kubectlPath();
      const display = `KUBECONFIG=${state.kubeconfig} kubectl ${args.join(' ')}`;
      if (!bin) {
        out(`  $ ${display}\n    (kubectl is not installed here; scripts/setup builds one into ${process.env.IRONLB_CACHE ?? '/var/cache/ironlb'}/bin)`);
        return { status: 127, stdout: '', stderr: 'kubectl not installed' };
      }
      return run([bin, ...args], display);
    },
    check: (name, ok, detail) => {
      checks.push({ name, ok, detail });
      out(`  ${ok ? '✔' : '✘'} ${name}: ${detail}`);
    },
  };
  return ctx;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn returns a value (not undefined/false), or throws naming what was awaited. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}`);
    await sleep(intervalMs);
  }
}
