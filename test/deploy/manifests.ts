// The deploy/ manifests, the all-in-one file and the Helm chart, as plain objects for the deploy tests.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { cacheDir } from '../harness/apiserver.ts';

const execFileAsync = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const deployDir = join(repoRoot, 'deploy');
export const chartDir = join(repoRoot, 'charts', 'ironlb');
export const allInOnePath = join(deployDir, 'ironlb.yaml');
export const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
export const defaultImage = `ghcr.io/ironlb/ironlb:${packageVersion}`;

/** A Kubernetes object as plain JSON. */
export interface KObj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Every YAML document of `text` that is an object (comments-only documents are skipped). */
export function loadDocs(text: string, source: string): KObj[] {
  const out: KObj[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as KObj | null;
    if (o === null || o === undefined) continue;
    if (typeof o !== 'object' || !o.apiVersion || !o.kind || !o.metadata?.name) throw new Error(`${source}: a document without apiVersion, kind or metadata.name`);
    out.push(o);
  }
  return out;
}

/** The files of the kustomize base, in its order. */
export function kustomizationResources(): string[] {
  const k = parseYaml(readFileSync(join(deployDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return k.resources;
}

/** deploy/ironlb.yaml as it must be: the kustomize base's files, in order, one document each. */
export function allInOneText(): string {
  const header =
    '# IronLB: every object in one file, generated from deploy/kustomization.yaml (do not edit; regenerate\n' +
    '# with IRONLB_UPDATE_MANIFEST=1 npm test -- test/deploy/manifests). Install or upgrade:\n' +
    '#   kubectl apply -f ironlb.yaml\n';
  const parts = kustomizationResources().map((file) => {
    const text = readFileSync(join(deployDir, file), 'utf8').trimEnd();
    return `# Source: deploy/${file}\n${text.replace(/^---\n/, '')}\n`;
  });
  return header + parts.map((p) => `---\n${p}`).join('');
}

/** Every object of the static install (deploy/ironlb.yaml as generated). */
export function staticObjects(): KObj[] {
  return loadDocs(allInOneText(), 'deploy/ironlb.yaml');
}

export function find(objects: readonly KObj[], kind: string, name: string): KObj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

export const isCRD = (o: KObj): boolean => o.kind === 'CustomResourceDefinition';

// ---------------------------------------------------------------------------------------------------
// Helm

const helmVersion = process.env.IRONLB_HELM_VERSION ?? 'v3.19.5';
let helmReady: Promise<string> | undefined;

/**
 * The helm binary: $IRONLB_HELM, else ${IRONLB_CACHE}/bin/helm, else built once from the Go module proxy
 * (helm.sh/helm/v3, several minutes; scripts/setup should do this ahead).
 */
export function helmBinary(): Promise<string> {
  helmReady ??= (async () => {
    if (process.env.IRONLB_HELM) return process.env.IRONLB_HELM;
    const bin = join(cacheDir(), 'bin');
    const helm = join(bin, 'helm');
    if (existsSync(helm)) return helm;
    const script = [
      'set -euo pipefail',
      `mkdir -p "${bin}"`,
      `exec 9>"${cacheDir()}/.helm-build.lock"`,
      'flock 9',
      `if [ ! -x "${helm}" ]; then`,
      `  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="${bin}" go install helm.sh/helm/v3/cmd/helm@${helmVersion}`,
      'fi',
    ].join('\n');
    await execFileAsync('bash', ['-c', script], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin` }, maxBuffer: 64 << 20 });
    return helm;
  })();
  return helmReady;
}

export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(await helmBinary(), args, { maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')}: ${err.stderr || err.message}`);
  }
}

/** `helm template` of the chart with these values (JSON is YAML, so they go in a values file). */
export async function renderChart(release: string, namespace: string, values: Record<string, unknown> = {}, extraArgs: string[] = []): Promise<KObj[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-chart-'));
  try {
    const valuesFile = join(dir, 'values.yaml');
    writeFileSync(valuesFile, JSON.stringify(values));
    const { stdout } = await helm(['template', release, chartDir, '--namespace', namespace, '--kube-version', '1.34.0', '--values', valuesFile, ...extraArgs]);
    return loadDocs(stdout, `helm template ${release}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Labels and selector entries that only the chart has (release bookkeeping), removed for comparisons. */
const chartOnlyLabels = ['app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/part-of', 'helm.sh/chart'];

/** A copy without chart-only labels anywhere (metadata, selectors, pod templates). */
export function withoutChartLabels(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(withoutChartLabels);
  if (o === null || typeof o !== 'object') return o;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (chartOnlyLabels.includes(k)) continue;
    out[k] = withoutChartLabels(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Workloads

export interface Container {
  name: string;
  image: string;
  args: string[];
  ports: { name: string; containerPort: number; protocol: string }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}
export interface PodSpec {
  hostNetwork?: boolean;
  serviceAccountName: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  tolerations?: unknown[];
}
export const podSpec = (o: KObj): PodSpec => (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
export const argValue = (c: Container, flag: string): string | undefined => c.args.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);

