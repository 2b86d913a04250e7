// A real Kubernetes control plane for integration tests: etcd + kube-apiserver, spawned directly.
//
// startControlPlane() makes a temp dir, generates a CA and certificates with the openssl CLI, starts
// etcd and kube-apiserver on free loopback ports, waits until the API server is ready, writes an admin
// kubeconfig, creates the metallb-system namespace and applies deploy/crds/*.yaml. stop() kills both
// processes by PID and removes the temp dir; the same happens on process exit, SIGINT and SIGTERM.
//
// Binaries come from ${IRONLB_CACHE:-/var/cache/ironlb}/bin (built by scripts/build-kube-binaries).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  loadYaml,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const execFileAsync = promisify(execFile);

export interface ControlPlaneOptions {
  /** Where kube-apiserver and etcd live. Default `${IRONLB_CACHE:-/var/cache/ironlb}/bin`. */
  binDir?: string;
  /** Directory of YAML files applied after start (CRDs first, then the rest). Default `<repo>/deploy/crds`; `null` skips. */
  crdDir?: string | null;
  /** Namespaces created after start. Default `['metallb-system']`. */
  namespaces?: string[];
  /** Service CIDRs, comma separated (one per family). Default `10.96.0.0/16,fd00:96::/108` (dual-stack). */
  serviceClusterIPRange?: string;
  /** Extra kube-apiserver flags, appended last (a later flag wins). */
  apiserverArgs?: string[];
  /** Extra etcd flags. */
  etcdArgs?: string[];
  /** Give up when the control plane is not ready after this long. Default 60 000 ms. */
  startTimeoutMs?: number;
  /** Progress messages (default: silent). */
  log?: (msg: string) => void;
}

export interface ControlPlane {
  /** Admin kubeconfig (CN=admin, O=system:masters), inside `dir`. */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** The temp dir holding certificates, etcd data, logs (etcd.log, kube-apiserver.log) and the kubeconfig. */
  dir: string;
  pids: { etcd: number; apiserver: number };
  /** Wall time from the call to ready (namespaces and CRDs included), in ms. */
  startupMs: number;
  /** A fresh KubeConfig loaded from kubeconfigPath (callers may mutate it). */
  kubeConfig(): KubeConfig;
  /** SIGTERM both processes (SIGKILL after a grace period), wait for them, remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function cacheDir(): string {
  return process.env.IRONLB_CACHE || '/var/cache/ironlb';
}

export function kubeBinDir(): string {
  return join(cacheDir(), 'bin');
}

/** Paths of the cached binaries; throws a message telling the user how to build them. */
export function kubeBinaries(binDir = kubeBinDir()): { etcd: string; apiserver: string } {
  const etcd = join(binDir, 'etcd');
  const apiserver = join(binDir, 'kube-apiserver');
  const missing = [apiserver, etcd].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(' and ')}: run scripts/setup (or scripts/build-kube-binaries) to build ` +
        `kube-apiserver and etcd into ${binDir} (set IRONLB_CACHE to use another cache dir)`,
    );
  }
  return { etcd, apiserver };
}

// ---------------------------------------------------------------------------------------------------
// Process bookkeeping: every started process is killed on exit, even if the caller forgets stop().

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
}

interface Running {
  dir: string;
  procs: Proc[];
}

const live = new Set<Running>();
let handlersInstalled = false;

function exited(p: Proc): boolean {
  return p.child.exitCode !== null || p.child.signalCode !== null;
}

function killAllSync(): void {
  for (const r of live) {
    for (const p of r.procs) {
      if (!exited(p)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    try {
      rmSync(r.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  void stopAll().finally(() => {
    uninstallHandlers();
    // Re-raise with the default disposition, so the exit status says what happened.
    process.kill(process.pid, signal);
  });
}
const onSigint = (): void => onSignal('SIGINT');
const onSigterm = (): void => onSignal('SIGTERM');

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', killAllSync);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}

async function stopAll(): Promise<void> {
  await Promise.all([...live].map((r) => stopRunning(r, 2000)));
}

function waitExit(p: Proc, ms: number): Promise<boolean> {
  if (exited(p)) return Promise.resolve(true);
  p.child.ref(); // keep the event loop alive while we wait
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      p.child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    p.child.once('exit', onExit);
  });
}

async function killProc(p: Proc, graceMs: number): Promise<void> {
  if (exited(p)) return;
  try {
    process.kill(p.pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitExit(p, graceMs)) return;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitExit(p, 5000);
}

async function stopRunning(r: Running, graceMs: number): Promise<void> {
  // API server first (it would complain about a vanished etcd), then etcd.
  for (const p of [...r.procs].reverse()) await killProc(p, graceMs);
  live.delete(r);
  if (live.size === 0) uninstallHandlers();
  await rm(r.dir, { recursive: true, force: true });
}

let setprivChecked: boolean | undefined;
async function hasSetprivPdeathsig(): Promise<boolean> {
  if (setprivChecked === undefined) {
    try {
      const { stdout } = await execFileAsync('setpriv', ['--help']);
      setprivChecked = stdout.includes('--pdeathsig');
    } catch {
      setprivChecked = false;
    }
  }
  return setprivChecked;
}

async function startProc(r: Running, name: string, bin: string, args: string[]): Promise<Proc> {
  const logPath = join(r.dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  // setpriv --pdeathsig execs the binary (same PID) and makes the kernel SIGKILL it if we die
  // without cleaning up (e.g. SIGKILL of the test process). Own process group: a terminal ^C reaches
  // only us, and we stop the children in order.
  const [cmd, argv] = (await hasSetprivPdeathsig())
    ? ['setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args]]
    : [bin, args];
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv as string[], { stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${name} (${bin}): ${err.message}`);
  }
  child.on('error', () => {}); // reported through exit/logs
  child.unref(); // a forgotten control plane must not keep the test process alive; 'exit' cleans up
  const p: Proc = { name, child, pid: child.pid, logPath };
  r.procs.push(p);
  return p;
}

function logTail(p: Proc, lines = 25): string {
  try {
    return readFileSync(p.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------------------------------
// Certificates

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd: dir });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCertificates(dir: string): Promise<void> {
  await openssl(dir, [
    'req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=ironlb-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const leaf = (name: string, subj: string, eku: string, san?: string): Promise<void> =>
    openssl(dir, [
      'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '365', '-subj', subj,
      '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext', `extendedKeyUsage=${eku}`, ...(san ? ['-addext', `subjectAltName=${san}`] : []),
    ]);
  await Promise.all([
    leaf('apiserver', '/CN=kube-apiserver', 'serverAuth',
      'IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc'),
    leaf('admin', '/O=system:masters/CN=admin', 'clientAuth'),
    (async () => {
      await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key']);
      await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
    })(),
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Ports and probes

/** `n` different free TCP ports on 127.0.0.1 (free when checked: bind soon). */
export async function freePorts(n: number): Promise<number[]> {
  // Hold all listeners open together so the n ports differ, then release them.
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('unexpected server address');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

interface Creds {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function get(url: string, creds?: Creds): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const opts = { method: 'GET', timeout: 2000, ...(creds ?? {}) };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true; fails early if one of `procs` exits. */
async function until(
  what: string,
  deadline: number,
  procs: Proc[],
  probe: () => Promise<boolean>,
): Promise<void> {
  let last = '';
  for (;;) {
    for (const p of procs) {
      if (exited(p)) {
        throw new Error(
          `${p.name} exited (code ${p.child.exitCode}, signal ${p.child.signalCode}) while waiting for ${what}; ` +
            `last lines of ${p.logPath}:\n${logTail(p)}`,
        );
      }
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      const logs = procs.map((p) => `--- ${p.logPath}\n${logTail(p, 15)}`).join('\n');
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}\n${logs}`);
    }
    await sleep(100);
  }
}

function kubeconfigYaml(server: string, dir: string): string {
  const b64 = (f: string): string => readFileSync(join(dir, f)).toString('base64');
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'ironlb-test', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
      users: [{ name: 'admin', user: { 'client-certificate-data': b64('admin.crt'), 'client-key-data': b64('admin.key') } }],
      contexts: [{ name: 'ironlb-test', context: { cluster: 'ironlb-test', user: 'admin' } }],
      'current-context': 'ironlb-test',
    },
    null,
    2,
  ) + '\n';
}

// ---------------------------------------------------------------------------------------------------
// CRDs and other manifests

function statusCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
}

/** The API server's own message from a client-node ApiException (its Status body), else the error's message. */
export function apiErrorMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    if (typeof status?.message === 'string') return `${statusCode(e) ?? ''} ${status.message}`.trim();
  } catch {
    /* not JSON */
  }
  return (e as Error).message;
}

function loadManifests(dir: string): KubernetesObject[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  const objects: KubernetesObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, f)}: ${doc.errors[0]!.message}`);
      const raw = doc.toJS() as KubernetesObject | null;
      if (raw === null || typeof raw !== 'object') continue;
      if (!raw.apiVersion || !raw.kind) throw new Error(`${join(dir, f)}: a document without apiVersion/kind`);
      // Trap: KubernetesObjectApi.create() serializes known kinds through the generated models, which
      // expect model property names (x_kubernetes_int_or_string) and silently DROP wire names such as
      // x-kubernetes-int-or-string. loadYaml() deserializes wire names into the model first.
      // (JSON is YAML, so this keeps the yaml package's parse.)
      objects.push(loadYaml<KubernetesObject>(JSON.stringify(raw)));
    }
  }
  return objects;
}

/** Creates every object from `dir` (CRDs first; waits until each is Established and served). Returns the CRD names. */
export async function applyManifests(kc: KubeConfig, dir: string, timeoutMs = 30_000): Promise<string[]> {
  const objects = loadManifests(dir);
  const isCrd = (o: KubernetesObject): boolean =>
    o.kind === 'CustomResourceDefinition' && (o.apiVersion ?? '').startsWith('apiextensions.k8s.io/');
  const crds = objects.filter(isCrd) as V1CustomResourceDefinition[];
  const rest = objects.filter((o) => !isCrd(o));
  const api = KubernetesObjectApi.makeApiClient(kc);
  const create = async (o: KubernetesObject): Promise<void> => {
    try {
      await api.create(o);
    } catch (e) {
      if (statusCode(e) === 409) return; // already there (idempotent apply on a shared server)
      throw new Error(`creating ${o.kind} ${o.metadata?.name} from ${dir}: ${apiErrorMessage(e)}`);
    }
  };
  await Promise.all(crds.map(create));
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    crds.map(async (crd) => {
      const name = crd.metadata!.name!;
      for (;;) {
        const got = await ext.readCustomResourceDefinition({ name });
        const established = got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
        if (established) break;
        if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
        await sleep(50);
      }
      // Established can precede the handler being installed: list each served version once.
      for (const v of crd.spec.versions.filter((x) => x.served)) {
        for (;;) {
          try {
            await custom.listClusterCustomObject({ group: crd.spec.group, version: v.name, plural: crd.spec.names.plural, limit: 1 });
            break;
          } catch (e) {
            if (statusCode(e) !== 404 || Date.now() > deadline) throw new Error(`CRD ${name} version ${v.name} not served: ${apiErrorMessage(e)}`);
            await sleep(50);
          }
        }
      }
    }),
  );
  for (const o of rest) await create(o);
  return crds.map((c) => c.metadata!.name!);
}

// ---------------------------------------------------------------------------------------------------

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const attempts = 3;
  for (let i = 1; ; i++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      // A free port can be taken between our probe and the bind: retry with new ports.
      if (i < attempts && /address already in use/i.test((e as Error).message)) {
        opts.log?.(`port race, retrying (${i}/${attempts})`);
        continue;
      }
      throw e;
    }
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const t0 = Date.now();
  const log = opts.log ?? ((): void => {});
  const bins = kubeBinaries(opts.binDir);
  const deadline = t0 + (opts.startTimeoutMs ?? 60_000);
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-cp-'));
  const r: Running = { dir, procs: [] };
  live.add(r);
  installHandlers();
  try {
    const [, ports] = await Promise.all([makeCertificates(dir), freePorts(3)]);
    const [etcdClient, etcdPeer, securePort] = ports as [number, number, number];
    log(`certificates ready in ${Date.now() - t0} ms`);

    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = await startProc(r, 'etcd', bins.etcd, [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync', // test data: durability does not matter, speed does
      '--log-level=warn',
      ...(opts.etcdArgs ?? []),
    ]);
    await until('etcd /health', deadline, [etcd], async () => {
      const res = await get(`${etcdUrl}/health`);
      return res.status === 200 && JSON.parse(res.body).health === 'true';
    });
    log(`etcd ready (pid ${etcd.pid}) at ${Date.now() - t0} ms`);

    const server = `https://127.0.0.1:${securePort}`;
    const apiserver = await startProc(r, 'kube-apiserver', bins.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--authorization-mode=Node,RBAC',
      `--service-cluster-ip-range=${opts.serviceClusterIPRange ?? '10.96.0.0/16,fd00:96::/108'}`,
      '--allow-privileged=true',
      // No kubelets or controllers run here: the loopback advertise address would only make the
      // "kubernetes" Endpoints reconciler fail validation over and over.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      ...(opts.apiserverArgs ?? []),
    ]);
    const creds: Creds = {
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'admin.crt')),
      key: readFileSync(join(dir, 'admin.key')),
    };
    const ok = async (path: string): Promise<boolean> => (await get(`${server}${path}`, creds)).status === 200;
    await until('kube-apiserver /readyz', deadline, [etcd, apiserver], () => ok('/readyz'));
    log(`kube-apiserver ready (pid ${apiserver.pid}) at ${Date.now() - t0} ms`);
    // Bootstrap objects created right after /readyz: the default namespace, and (1.33+) the default
    // ServiceCIDR the IP allocator needs before the first Service can get a ClusterIP.
    await until('namespace default', deadline, [etcd, apiserver], () => ok('/api/v1/namespaces/default'));
    await until('ServiceCIDR kubernetes Ready', deadline, [etcd, apiserver], async () => {
      const res = await get(`${server}/apis/networking.k8s.io/v1/servicecidrs/kubernetes`, creds);
      if (res.status === 404 && !(await ok('/apis/networking.k8s.io/v1/servicecidrs'))) return true; // no such API
      if (res.status !== 200) return false;
      const conds = (JSON.parse(res.body).status?.conditions ?? []) as Array<{ type: string; status: string }>;
      return conds.some((c) => c.type === 'Ready' && c.status === 'True');
    });

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, dir), { mode: 0o600 });
    const kubeConfig = (): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    };
    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of opts.namespaces ?? ['metallb-system']) {
      try {
        await core.createNamespace({ body: { metadata: { name } } });
      } catch (e) {
        if (statusCode(e) !== 409) throw e;
      }
    }
    const crdDir = opts.crdDir === undefined ? join(repoRoot, 'deploy', 'crds') : opts.crdDir;
    if (crdDir !== null) {
      const crds = await applyManifests(kc, crdDir, Math.max(5000, deadline - Date.now()));
      if (crds.length > 0) log(`${crds.length} CRDs established`);
    }
    const startupMs = Date.now() - t0;
    log(`control plane ready in ${startupMs} ms: ${server} (${dir})`);

    let stopping: Promise<void> | undefined;
    return {
      kubeconfigPath,
      server,
      dir,
      pids: { etcd: etcd.pid, apiserver: apiserver.pid },
      startupMs,
      kubeConfig,
      stop: () => (stopping ??= stopRunning(r, 5000)),
    };
  } catch (e) {
    await stopRunning(r, 1000);
    throw e;
  }
}
