// bin/ironlb.js: daemons run their bundle in dist/ only while it is newer than every source; everything
// else runs through tsx. Checked in a scratch copy of the layout whose two entry points say which ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '..', '..');

function scratchLayout(): { dir: string; run: (args: string[], env?: Record<string, string>) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-launcher-'));
  for (const d of ['bin', 'src/cli', 'src/lib', 'native', 'dist']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(join(repo, 'bin/ironlb.js'), join(dir, 'bin/ironlb.js'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'src/cli/main.ts'), "const runtime: string = 'tsx';\nconsole.log(runtime, process.env.IRONLB_NATIVE_ADDON ?? '');\n");
  writeFileSync(join(dir, 'src/lib/other.ts'), 'export {};\n');
  writeFileSync(join(dir, 'native/addon.ts'), 'export {};\n');
  for (const daemon of ['controller', 'speaker']) {
    writeFileSync(join(dir, `dist/${daemon}.js`), `console.log('dist', process.argv[2], process.env.IRONLB_NATIVE_ADDON ?? '');\n`);
  }
  const run = (args: string[], env: Record<string, string> = {}) => {
    const { IRONLB_NATIVE_ADDON: _, IRONLB_RUNTIME: __, ...base } = process.env;
    const r = spawnSync(process.execPath, [join(dir, 'bin/ironlb.js'), ...args], { encoding: 'utf8', env: { ...base, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  return { dir, run, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const stampAt = (dir: string, at: Date) => {
  writeFileSync(join(dir, 'dist/.build-stamp'), `${at.toISOString()}\n`);
  utimesSync(join(dir, 'dist/.build-stamp'), at, at);
};

test('launcher: daemons run dist/ when it is fresh, with the native addon from the source tree', (t) => {
  const s = scratchLayout();
  t.after(s.cleanup);
  stampAt(s.dir, new Date(Date.now() + 60_000));
  // Each daemon its own bundle, with its argv as `ironlb DAEMON flags…` had it.
  assert.equal(s.run(['controller', '--x']), `dist controller ${join(s.dir, 'native/build/Release/ironlb_native.node')}`);
  assert.equal(s.run(['speaker']).split(' ').slice(0, 2).join(' '), 'dist speaker');
  // Not a daemon: always the TypeScript.
  assert.equal(s.run(['lab']).split(' ')[0], 'tsx');
  assert.equal(s.run([]).split(' ')[0], 'tsx');
  assert.equal(s.run(['speaker'], { IRONLB_RUNTIME: 'tsx' }).split(' ')[0], 'tsx');
});

test('launcher: a source edited after the build, or no build at all, means tsx', (t) => {
  const s = scratchLayout();
  t.after(s.cleanup);
  const built = new Date(Date.now() - 60_000);
  stampAt(s.dir, built);
  for (const f of ['src/cli/main.ts', 'src/lib/other.ts', 'native/addon.ts']) utimesSync(join(s.dir, f), new Date(built.getTime() - 1000), new Date(built.getTime() - 1000));
  assert.equal(s.run(['controller']).split(' ')[0], 'dist');
  utimesSync(join(s.dir, 'src/lib/other.ts'), new Date(), new Date());
  assert.equal(s.run(['controller']).split(' ')[0], 'tsx');
  utimesSync(join(s.dir, 'src/lib/other.ts'), built, built);
  utimesSync(join(s.dir, 'native/addon.ts'), new Date(), new Date());
  assert.equal(s.run(['controller']).split(' ')[0], 'tsx');
  rmSync(join(s.dir, 'dist/.build-stamp'));
  utimesSync(join(s.dir, 'native/addon.ts'), built, built);
  assert.equal(s.run(['controller']).split(' ')[0], 'tsx');
});
