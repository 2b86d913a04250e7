// The container image, built here without a Docker engine (scripts/build-image writes an OCI layout),
// read back: every blob matches its digest, the config says how it runs (user, entrypoint, ports), the
// file list holds compiled JavaScript, production dependencies only, the native addon and a self-contained
// node. Then, as root, the image's file system is run in a chroot: the CLI as the non-root user, the
// native addon, and the controller from the image allocating an IP against the real API server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { waitFor } from '../harness/cluster.ts';
import { freePort, serviceAccountKubeconfig } from './cluster-ops.ts';
import { TestInstallation, httpStatus, obj } from './installation.ts';
import { imageEnv } from '../../scripts/build-image.ts';
import { defaultImage, repoRoot } from './manifests.ts';
import { type Image, type TarEntry, diffId, readImage, readTar } from './oci.ts';

const execFileAsync = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const canChroot = process.getuid?.() === 0 && existsSync('/usr/sbin/chroot');

describe('container image (scripts/build-image, no Docker engine)', () => {
  let dir: string;
  let image: Image;
  let files: Map<string, TarEntry>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ironlb-image-'));
    await execFileAsync(join(repoRoot, 'scripts/build-image'), ['--output', join(dir, 'layout'), '--archive', join(dir, 'image.tar')], { maxBuffer: 16 << 20 });
    image = readImage(join(dir, 'layout'));
    files = new Map(image.layers.flat().map((e) => [e.path, e]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an OCI layout whose blobs match their digests and whose layers match the diff_ids', () => {
    assert.equal(image.ref, defaultImage);
    assert.equal(image.manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(image.manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(image.manifest.layers.map((l) => l.mediaType), Array(2).fill('application/vnd.oci.image.layer.v1.tar+gzip'));
    assert.deepEqual(image.config.rootfs, { type: 'layers', diff_ids: image.layerTars.map(diffId) });
    // The archive holds the same layout.
    const archived = readTar(readFileSync(join(dir, 'image.tar'))).map((e) => e.path);
    for (const p of ['oci-layout', 'index.json', ...image.manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`)]) assert.ok(archived.includes(p), p);
  });

  test('the config: non-root user, entrypoint, ports, working directory', () => {
    const c = image.config;
    assert.equal(c.os, 'linux');
    assert.equal(c.architecture, process.arch === 'x64' ? 'amd64' : process.arch);
    assert.equal(c.config.User, '65532:65532');
    assert.deepEqual(c.config.Entrypoint, ['/usr/local/bin/node', '/app/src/cli/main.js']);
    assert.deepEqual(Object.keys(c.config.ExposedPorts ?? {}).sort(), ['7472/tcp', '7473/tcp', '7946/udp', '9443/tcp']);
    assert.equal(c.config.WorkingDir, '/app');
    assert.ok(c.config.Env?.includes('NODE_ENV=production'));
    for (const e of imageEnv) assert.ok(c.config.Env?.includes(e), e);
  });

  test('the files: compiled JavaScript, production dependencies only, the native addon, node and its libraries', () => {
    for (const p of ['app/src/cli/main.js', 'app/src/controller/controller.js', 'app/src/webhook/webhook.js', 'app/src/config/parse.js', 'app/native/addon.js', 'app/package.json', 'app/dist/controller.js', 'app/dist/speaker.js']) {
      assert.equal(files.get(p)?.type, 'file', p);
    }
    const appFiles = [...files.keys()].filter((p) => p.startsWith('app/src/'));
    assert.deepEqual(appFiles.filter((p) => p.endsWith('.ts')), [], 'no TypeScript');
    assert.deepEqual(appFiles.filter((p) => /\.test[.-]/.test(p)), [], 'no tests');
    assert.match(files.get('app/src/cli/main.js')!.content.toString(), /import\("\.\/controller-command\.js"\)/, 'imports rewritten to .js');
    const addon = files.get('app/native/build/Release/ironlb_native.node')!;
    assert.equal(addon.content.subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.equal(JSON.parse(files.get('app/package.json')!.content.toString()).type, 'module');
    for (const dep of Object.keys(pkg.dependencies).filter((d) => d !== 'tsx')) assert.ok(files.has(`app/node_modules/${dep}/package.json`), dep);
    for (const dev of [...Object.keys(pkg.devDependencies), 'tsx', 'esbuild']) assert.ok(!files.has(`app/node_modules/${dev}/package.json`), `${dev} is not shipped`);
    assert.ok(![...files.keys()].some((p) => p.startsWith('app/node_modules/.bin')));
    assert.ok(![...files.keys()].some((p) => p.includes('node_modules/@types/')), 'no type declarations');
    const node = files.get('usr/local/bin/node')!;
    assert.equal(node.mode & 0o111, 0o111);
    for (const lib of execFileSync('ldd', [process.execPath], { encoding: 'utf8' }).match(/\/\S+\.so[.\d]*/g) ?? []) {
      assert.ok(files.has(lib.slice(1)), `${lib} is in the image`);
    }
    assert.match(files.get('etc/passwd')!.content.toString(), /^nonroot:x:65532:65532:/m);
    assert.equal(files.get('tmp')!.mode, 0o1777);
    assert.deepEqual([files.get('home/nonroot')!.uid, files.get('home/nonroot')!.gid], [65532, 65532]);
    assert.ok([...files.values()].every((e) => e.mtime === 0), 'reproducible timestamps');
  });

  test('standard tar reads the layers the same way', () => {
    for (const [i, l] of image.manifest.layers.entries()) {
      const listed = execFileSync('tar', ['-tzf', join(dir, 'layout', 'blobs', 'sha256', l.digest.slice(7))], { encoding: 'utf8', maxBuffer: 64 << 20 })
        .split('\n')
        .filter(Boolean)
        .map((p) => p.replace(/\/$/, ''));
      assert.deepEqual(listed.sort(), image.layers[i]!.map((e) => e.path).sort());
    }
  });

  test('the Dockerfile builds the same file system, runs as the same user and exposes the same ports', () => {
    const df = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    assert.match(df, /RUN node --import tsx scripts\/build-image\.ts --rootfs \/rootfs/);
    assert.match(df, /^FROM scratch$/m);
    assert.match(df, /^USER 65532:65532$/m);
    const env = /^ENV (.*)$/m.exec(df)![1]!.split(/\s+/);
    assert.deepEqual(env.sort(), [...(image.config.config.Env ?? [])].sort());
    assert.match(df, new RegExp(`^ENTRYPOINT ${JSON.stringify(image.config.config.Entrypoint).replace(/[[\]/.]/g, '\\$&').replace(/,/g, ', ')}$`, 'm'));
    const exposed = /^EXPOSE (.*)$/m.exec(df)![1]!.split(/\s+/).sort();
    assert.deepEqual(exposed, Object.keys(image.config.config.ExposedPorts ?? {}).sort());
    // What it copies is in the build context (.dockerignore lets it through).
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');
    for (const m of df.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) {
        assert.ok(existsSync(join(repoRoot, src)), `${src} exists`);
        assert.ok(ignore.includes(`!${src}`), `.dockerignore lets ${src} through`);
      }
    }
  });

  describe('running the image file system (chroot)', { skip: canChroot ? false : 'needs root and chroot' }, () => {
    let rootfs: string;
    let inst: TestInstallation | undefined;
    before(() => {
      rootfs = join(dir, 'rootfs');
      mkdirSync(rootfs);
      for (const l of image.manifest.layers) execFileSync('tar', ['-xzf', join(dir, 'layout', 'blobs', 'sha256', l.digest.slice(7)), '-C', rootfs, '--same-owner']);
    });
    after(async () => {
      await inst?.cleanup();
    });
    const inImage = (args: string[], user = '65532:65532') =>
      execFileAsync('/usr/sbin/chroot', [`--userspec=${user}`, rootfs, ...args], { env: {}, maxBuffer: 16 << 20 });

    test('the CLI runs as the non-root user, with nothing from the host', async () => {
      const { stdout } = await inImage(['/usr/local/bin/node', '/app/src/cli/main.js', '--help']);
      assert.match(stdout, /^ironlb: a load balancer for Kubernetes on bare metal/);
      assert.match(stdout, /--webhook-mode MODE/);
    });

    test('with the image environment, the daemons start from their bundles', async () => {
      const env = Object.fromEntries((image.config.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
      for (const daemon of ['controller', 'speaker']) {
        const { stdout } = await execFileAsync('/usr/sbin/chroot', ['--userspec=65532:65532', rootfs, '/usr/local/bin/node', '/app/src/cli/main.js', daemon, '--help'], { env });
        assert.match(stdout, new RegExp(`^ironlb ${daemon} \\[flags\\]`));
      }
      // The switch is the environment: pointed elsewhere, main.js looks for the bundle there.
      const moved = await execFileAsync('/usr/sbin/chroot', ['--userspec=65532:65532', rootfs, '/usr/local/bin/node', '/app/src/cli/main.js', 'speaker', '--help'], {
        env: { ...env, IRONLB_DAEMON_BUNDLES: '/nonexistent' },
      }).then(
        () => undefined,
        (e: { stderr: string }) => e.stderr,
      );
      assert.match(moved ?? '', /\/nonexistent\/speaker\.js/);
    });

    test('the native addon loads', async () => {
      const { stdout } = await inImage(['/usr/local/bin/node', '--input-type=module', '-e', "const m = await import('/app/native/addon.js'); console.log(typeof m.loadNativeAddon().packetOpen)"], '0:0');
      assert.equal(stdout.trim(), 'function');
    });

    test('the controller from the image allocates an IP against the real API server', async () => {
      inst = await TestInstallation.prepare('image');
      await inst.install({ webhook: { enabled: false } });
      // Its ServiceAccount's token, with the CA inline: nothing outside the image's file system is read.
      const sa = new KubeConfig();
      sa.loadFromFile(await serviceAccountKubeconfig(inst.kc, inst.namespace, inst.controllerServiceAccount, inst.dir));
      const cluster = sa.getCurrentCluster()!;
      const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
      const inline = new KubeConfig();
      inline.loadFromOptions({
        clusters: [{ name: cluster.name, server: cluster.server, caData, skipTLSVerify: false }],
        users: [sa.getCurrentUser()!],
        contexts: [{ name: 'c', cluster: cluster.name, user: sa.getCurrentUser()!.name }],
        currentContext: 'c',
      });
      writeFileSync(join(rootfs, 'tmp', 'kubeconfig'), inline.exportConfig(), { mode: 0o644 });
      const port = await freePort();
      const args = inst.controllerArgs().filter((a) => !a.startsWith('--metrics-port='));
      const child = spawn(
        '/usr/sbin/chroot',
        ['--userspec=65532:65532', rootfs, '/usr/local/bin/node', '/app/src/cli/main.js', ...args, '--kubeconfig=/tmp/kubeconfig', `--metrics-port=${port}`, '--metrics-host=127.0.0.1'],
        // The image's own environment: the controller runs from its bundle, as in a cluster.
        { env: Object.fromEntries((image.config.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      try {
        await waitFor(async () => (await httpStatus(`http://127.0.0.1:${port}/readyz`)) === 200, { timeoutMs: 30_000, what: `the image's controller to be ready (${log})` });
        await inst.create(obj('IPAddressPool', 'pool', { addresses: ['10.70.0.8/29'] }));
        const svcNs = inst.otherNamespace;
        await inst.core.createNamespacedService({
          namespace: svcNs,
          body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', loadBalancerClass: inst.lbClass, ports: [{ port: 80 }], selector: { app: 'web' } } },
        });
        const ip = await waitFor(async () => (await inst!.core.readNamespacedService({ name: 'web', namespace: svcNs })).status?.loadBalancer?.ingress?.[0]?.ip, {
          timeoutMs: 20_000,
          what: `an IP from the image's controller (${log})`,
        });
        assert.equal(ip, '10.70.0.8');
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});

