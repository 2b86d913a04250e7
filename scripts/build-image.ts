// Builds IronLB's container image as an OCI image layout, with no Docker engine, no registry and no base
// image: everything in it comes from this machine.
//
//   layer 1 "runtime": the node binary and the shared libraries it and the native addon link against
//                       (found with ldd), /etc/passwd and /etc/group with the non-root user 65532, /tmp.
//   layer 2 "app":     /app/src/**.js (TypeScript compiled by tsc, tests left out), /app/native/addon.js and
//                       the native addon, /app/node_modules with the production dependencies only (tsx and
//                       its esbuild are not needed: the code is compiled), /app/package.json.
//
// The image runs as 65532:65532 (the controller runs so; the speaker's DaemonSet runs it as root because
// it needs NET_RAW and NET_BIND_SERVICE). Entrypoint: node /app/src/cli/main.js; the Deployment and the
// DaemonSet pass "controller" or "speaker".
//
// Tar layers are written here (deterministic: sorted, fixed mtime, numeric owners), gzipped, and named by
// their sha256 as the OCI image spec says; then the config, the manifest and index.json.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, symlinkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { daemonEnv } from '../src/cli/daemon-heap.ts';
import { bundle } from './build-dist.ts';
import { gzipSync } from 'node:zlib';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  license?: string;
  description?: string;
};

export const imageUser = '65532:65532';
export const exposedPorts = ['7472/tcp', '7473/tcp', '7946/udp', '9443/tcp'];
/** Where the daemons' bundles and the native addon are inside the image. */
export const imageEnv = [
  'IRONLB_DAEMON_BUNDLES=/app/dist',
  'IRONLB_NATIVE_ADDON=/app/native/build/Release/ironlb_native.node',
  ...Object.entries(daemonEnv).map(([k, v]) => `${k}=${v}`),
];
/** Production dependencies the compiled image does not need. */
const notNeededAtRuntime = new Set(['tsx']);

const usage = `scripts/build-image [flags]
  --output DIR     where the OCI image layout is written (default dist/image; replaced)
  --tag REF        image reference recorded in index.json (default ghcr.io/ironlb/ironlb:${pkg.version})
  --archive FILE   also write the layout as one tar file (an "oci-archive", e.g. for skopeo or podman load)
  --node PATH      the node binary to ship (default: the one running this script, ${process.execPath})
  --epoch SECONDS  timestamp of every file and of the image (default $SOURCE_DATE_EPOCH or 0)
  --rootfs DIR     write the image's file system into DIR instead of an OCI layout (the Dockerfile's
                   build stage does this; its final stage copies DIR into an empty image)`;

// ---------------------------------------------------------------------------------------------------
// Tar (POSIX ustar, with pax headers for long names)

interface TarEntry {
  path: string; // relative, no leading slash; directories without trailing slash
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  content?: Buffer;
  target?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, e: TarEntry, size: number, typeflag: string, prefix = '', linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(e.uid, 8), 108, 'ascii');
  h.write(octal(e.gid, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder
  h.write(typeflag, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(e.uid === 0 ? 'root' : '', 265, 32, 'ascii');
  h.write(e.gid === 0 ? 'root' : '', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function pad(buf: Buffer): Buffer {
  const rem = buf.length % 512;
  return rem === 0 ? buf : Buffer.concat([buf, Buffer.alloc(512 - rem)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

let mtime = 0;

function splitName(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  return undefined;
}

export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const path = e.type === 'dir' ? `${e.path}/` : e.path;
    const split = splitName(path);
    const longLink = e.target !== undefined && Buffer.byteLength(e.target) > 100;
    if (!split || longLink) {
      const records = (split ? '' : paxRecord('path', path)) + (longLink ? paxRecord('linkpath', e.target!) : '');
      const body = Buffer.from(records, 'utf8');
      parts.push(header('PaxHeaders/entry', { ...e, mode: 0o644 }, body.length, 'x'), pad(body));
    }
    const { name, prefix } = split ?? { name: path.slice(-100), prefix: '' };
    const typeflag = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
    const size = e.type === 'file' ? e.content!.length : 0;
    parts.push(header(name, e, size, typeflag, prefix, longLink ? '' : (e.target ?? '')));
    if (e.type === 'file') parts.push(pad(e.content!));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A set of tar entries with their parent directories made on the way. */
class Layer {
  readonly entries = new Map<string, TarEntry>();

  dir(path: string, mode = 0o755, uid = 0, gid = 0): void {
    const p = path.replace(/^\/+|\/+$/g, '');
    if (!p) return;
    this.dir(dirname(p) === '.' ? '' : dirname(p));
    const existing = this.entries.get(p);
    if (existing && existing.type === 'dir' && (uid !== 0 || mode !== 0o755)) this.entries.set(p, { ...existing, mode, uid, gid });
    else if (!existing) this.entries.set(p, { path: p, type: 'dir', mode, uid, gid });
  }

  file(path: string, content: Buffer, mode = 0o644): void {
    const p = path.replace(/^\/+/, '');
    this.dir(dirname(p) === '.' ? '' : dirname(p));
    this.entries.set(p, { path: p, type: 'file', mode, uid: 0, gid: 0, content });
  }

  symlink(path: string, target: string): void {
    const p = path.replace(/^\/+/, '');
    this.dir(dirname(p) === '.' ? '' : dirname(p));
    this.entries.set(p, { path: p, type: 'symlink', mode: 0o777, uid: 0, gid: 0, target });
  }

  /** Copies a file or a directory tree from the host (symlinks kept as symlinks). */
  copy(hostPath: string, imagePath: string, skip: (rel: string) => boolean = () => false): void {
    const st = lstatSync(hostPath);
    if (st.isSymbolicLink()) this.symlink(imagePath, readlinkSync(hostPath));
    else if (st.isDirectory()) {
      this.dir(imagePath);
      for (const child of readdirSync(hostPath).sort()) {
        const rel = join(imagePath, child);
        if (!skip(rel)) this.copy(join(hostPath, child), rel, skip);
      }
    } else if (st.isFile()) this.file(imagePath, readFileSync(hostPath), st.mode & 0o111 ? 0o755 : 0o644);
  }

  tar(): Buffer {
    return writeTar([...this.entries.values()]);
  }

  /** Writes the entries into a directory (as root: owners are set too). */
  writeTo(root: string): void {
    const sorted = [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const e of sorted) {
      const p = join(root, e.path);
      if (e.type === 'dir') mkdirSync(p, { recursive: true });
      else if (e.type === 'symlink') {
        rmSync(p, { force: true });
        symlinkSync(e.target!, p);
        continue;
      } else writeFileSync(p, e.content!);
      chmodSync(p, e.mode);
      if (process.getuid?.() === 0) chownSync(p, e.uid, e.gid);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// What goes in

/** Shared libraries a binary links against, from ldd (the dynamic loader included). */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

/** Adds a library at the path the binary asks for, and at its resolved path if that is a symlink. */
function addLibrary(layer: Layer, lib: string): void {
  const real = realpathSync(lib);
  layer.file(real, readFileSync(real), 0o755);
  if (real !== lib) layer.symlink(lib, relative(dirname(lib), real) || real);
}

/** Directory of package `name` as Node would resolve it from `fromDir`. */
function resolvePackage(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === repo || dir === dirname(dir)) return undefined;
  }
}

/** Every package directory the production dependencies need (tsx and type-declaration packages left out). */
export function productionPackages(): string[] {
  const found = new Set<string>();
  const visit = (dir: string): void => {
    const real = realpathSync(dir);
    if (found.has(real)) return;
    found.add(real);
    const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) {
      if (dep.startsWith('@types/')) continue; // type declarations: nothing runs them
      const at = resolvePackage(dep, dir);
      if (at) visit(at);
      else if (!(dep in (p.optionalDependencies ?? {}))) throw new Error(`${dir}: dependency ${dep} is not installed (run npm ci)`);
    }
  };
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    if (notNeededAtRuntime.has(dep)) continue;
    const at = resolvePackage(dep, repo);
    if (!at) throw new Error(`dependency ${dep} is not installed (run npm ci)`);
    visit(at);
  }
  return [...found].map((d) => relative(repo, d)).sort();
}

/** Compiles src/ (without tests) and native/addon.ts to JavaScript under `outDir`, mirroring the repo. */
export function compile(outDir: string, workDir: string): void {
  const tsconfig = join(workDir, 'tsconfig.image.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(repo, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        outDir,
        rootDir: repo,
        rewriteRelativeImportExtensions: true,
        declaration: false,
        sourceMap: false,
        noEmitOnError: false,
      },
      include: [join(repo, 'src'), join(repo, 'native/addon.ts')],
      exclude: [join(repo, 'src/**/*.test.ts'), join(repo, 'src/**/*.test-*.ts'), join(repo, 'src/**/*.test-support.ts')],
    }),
  );
  try {
    execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-p', tsconfig], { stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    // Type errors do not stop the emit (npm test reports them); anything else does.
    const out = `${(e as { stdout?: string }).stdout ?? ''}`;
    if (!existsSync(join(outDir, 'src/cli/main.js'))) throw new Error(`tsc failed:\n${out}`);
    process.stderr.write(`[build-image] warning: tsc reported type errors (the JavaScript was emitted anyway):\n${out}\n`);
  }
}

// ---------------------------------------------------------------------------------------------------
// OCI layout

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function writeBlob(layout: string, content: Buffer, mediaType: string): Descriptor {
  const hex = sha256(content);
  writeFileSync(join(layout, 'blobs', 'sha256', hex), content);
  return { mediaType, digest: `sha256:${hex}`, size: content.length };
}

export interface BuildResult {
  layout: string;
  manifestDigest: string;
  configDigest: string;
  layers: { name: string; digest: string; diffId: string; size: number; files: number }[];
}

export interface BuildOptions {
  output: string;
  tag: string;
  node: string;
  epoch: number;
  archive?: string;
  /** Write the file system here instead of the OCI layout. */
  rootfs?: string;
}

export function buildImage(opts: BuildOptions): BuildResult | { rootfs: string } {
  mtime = opts.epoch;
  const addon = join(repo, 'native/build/Release/ironlb_native.node');
  if (!existsSync(addon)) throw new Error(`${addon} is missing: build it with \`npx node-gyp rebuild --directory native\``);
  const work = join(repo, 'dist', 'image-build');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // Layer 1: a runtime for node, with nothing else.
  const runtime = new Layer();
  runtime.file('usr/local/bin/node', readFileSync(opts.node), 0o755);
  for (const lib of new Set([...sharedLibraries(opts.node), ...sharedLibraries(addon)])) addLibrary(runtime, lib);
  runtime.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n'));
  runtime.file('etc/group', Buffer.from('root:x:0:\nnonroot:x:65532:\n'));
  runtime.file('etc/nsswitch.conf', Buffer.from('passwd: files\ngroup: files\nhosts: files dns\n'));
  runtime.dir('tmp', 0o1777);
  runtime.dir('root', 0o700);
  runtime.dir('home/nonroot', 0o755, 65532, 65532);

  // Layer 2: the application.
  const compiled = join(work, 'app');
  compile(compiled, work);
  const app = new Layer();
  const noTypes = (rel: string): boolean => /\.(d\.[cm]?ts|map)$/.test(rel);
  app.copy(join(compiled, 'src'), 'app/src');
  app.copy(join(compiled, 'native', 'addon.js'), 'app/native/addon.js');
  // The daemons run from their bundles (see scripts/build-dist.ts: a third of the memory); the other
  // commands from the compiled files above. src/cli/main.ts switches on IRONLB_DAEMON_BUNDLES.
  const bundles = join(work, 'bundles');
  bundle(bundles);
  app.copy(bundles, 'app/dist');
  app.file('app/native/build/Release/ironlb_native.node', readFileSync(addon), 0o755);
  const { dependencies, ...rest } = pkg as typeof pkg & Record<string, unknown>;
  const appPackage = {
    name: rest.name,
    version: rest.version,
    description: rest.description,
    license: rest.license,
    type: 'module',
    private: true,
    dependencies: Object.fromEntries(Object.entries(dependencies ?? {}).filter(([d]) => !notNeededAtRuntime.has(d))),
  };
  app.file('app/package.json', Buffer.from(JSON.stringify(appPackage, null, 2) + '\n'));
  for (const dir of productionPackages()) app.copy(join(repo, dir), join('app', dir), (rel) => noTypes(rel) || rel.endsWith('/node_modules'));

  if (opts.rootfs) {
    rmSync(opts.rootfs, { recursive: true, force: true });
    mkdirSync(opts.rootfs, { recursive: true });
    runtime.writeTo(opts.rootfs);
    app.writeTo(opts.rootfs);
    rmSync(work, { recursive: true, force: true });
    return { rootfs: opts.rootfs };
  }

  // The OCI layout.
  rmSync(opts.output, { recursive: true, force: true });
  mkdirSync(join(opts.output, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(opts.output, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const created = new Date(opts.epoch * 1000).toISOString();
  const layers: BuildResult['layers'] = [];
  const layerDescriptors: Descriptor[] = [];
  for (const [name, layer] of [['runtime', runtime], ['app', app]] as const) {
    const tar = layer.tar();
    const gz = gzipSync(tar, { level: 6 });
    const d = writeBlob(opts.output, gz, 'application/vnd.oci.image.layer.v1.tar+gzip');
    layerDescriptors.push(d);
    layers.push({ name, digest: d.digest, diffId: `sha256:${sha256(tar)}`, size: gz.length, files: layer.entries.size });
  }
  const config = {
    created,
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    os: 'linux',
    config: {
      User: imageUser,
      Entrypoint: ['/usr/local/bin/node', '/app/src/cli/main.js'],
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production', ...imageEnv],
      WorkingDir: '/app',
      ExposedPorts: Object.fromEntries(exposedPorts.map((p) => [p, {}])),
      StopSignal: 'SIGTERM',
      Labels: {
        'org.opencontainers.image.title': 'ironlb',
        'org.opencontainers.image.description': pkg.description ?? '',
        'org.opencontainers.image.version': pkg.version,
        'org.opencontainers.image.licenses': pkg.license ?? '',
      },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      { created, created_by: `scripts/build-image: node ${execFileSync(opts.node, ['--version'], { encoding: 'utf8' }).trim()} and its shared libraries, users root and nonroot (65532)` },
      { created, created_by: 'scripts/build-image: compiled IronLB, production node_modules, native addon' },
    ],
  };
  const configDesc = writeBlob(opts.output, Buffer.from(JSON.stringify(config)), 'application/vnd.oci.image.config.v1+json');
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: layerDescriptors };
  const manifestDesc = writeBlob(opts.output, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        ...manifestDesc,
        platform: { architecture: config.architecture, os: 'linux' },
        annotations: { 'org.opencontainers.image.ref.name': opts.tag },
      },
    ],
  };
  writeFileSync(join(opts.output, 'index.json'), JSON.stringify(index));
  if (opts.archive) {
    const entries: TarEntry[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const child of readdirSync(dir).sort()) {
        const p = join(dir, child);
        const r = rel ? `${rel}/${child}` : child;
        if (statSync(p).isDirectory()) {
          entries.push({ path: r, type: 'dir', mode: 0o755, uid: 0, gid: 0 });
          walk(p, r);
        } else entries.push({ path: r, type: 'file', mode: 0o644, uid: 0, gid: 0, content: readFileSync(p) });
      }
    };
    walk(opts.output, '');
    writeFileSync(opts.archive, writeTar(entries));
  }
  rmSync(work, { recursive: true, force: true });
  return { layout: opts.output, manifestDigest: manifestDesc.digest, configDigest: configDesc.digest, layers };
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      output: { type: 'string', default: join(repo, 'dist', 'image') },
      tag: { type: 'string', default: `ghcr.io/ironlb/ironlb:${pkg.version}` },
      archive: { type: 'string' },
      node: { type: 'string', default: process.execPath },
      epoch: { type: 'string', default: process.env.SOURCE_DATE_EPOCH ?? '0' },
      rootfs: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const epoch = Number(values.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`--epoch: "${values.epoch}" is not a number of seconds`);
  const t0 = Date.now();
  const result = buildImage({
    output: resolve(values.output!),
    tag: values.tag!,
    node: values.node!,
    epoch,
    ...(values.archive ? { archive: resolve(values.archive) } : {}),
    ...(values.rootfs ? { rootfs: resolve(values.rootfs) } : {}),
  });
  console.log(JSON.stringify({ ...result, tag: values.tag, seconds: Math.round((Date.now() - t0) / 100) / 10 }));
}
