// npm run build's daemon bundles: they run on their own (no node_modules, no tsx) and leave client-node's
// typed API layer out, which is what keeps a daemon's memory down (see scripts/build-dist.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { asciiOnly, bundle, daemons } from '../../scripts/build-dist.ts';

test('daemon bundles: self-contained, without client-node typed API classes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const metafiles = await bundle(dir);
  for (const name of Object.keys(daemons) as (keyof typeof daemons)[]) {
    const output = Object.values(metafiles[name].outputs)[0]!;
    const bytesFrom = (part: string) => Object.entries(output.inputs).filter(([f]) => f.includes(part)).reduce((n, [, i]) => n + i.bytesInOutput, 0);
    // Our own code is in; the generated API classes (CoreV1Api, …) and their request builders are not.
    assert.ok(bytesFrom(`src/cli/${name}-command.ts`) > 0, `${name}: its command is bundled`);
    assert.equal(bytesFrom('client-node/dist/gen/apis/'), 0, `${name}: no generated API classes`);
    assert.equal(bytesFrom('client-node/dist/gen/types/'), 0, `${name}: no generated API wrappers`);
    // ASCII only: V8 then holds the source one byte per character (see asciiOnly).
    const nonAscii = /[^\x00-\x7f]/.exec(readFileSync(join(dir, `${name}.js`), 'utf8'));
    assert.equal(nonAscii, null, `${name}: a non-ASCII character in the bundle`);
    // Run from the scratch directory: nothing outside the bundle is needed to start.
    const r = spawnSync(process.execPath, [join(dir, `${name}.js`), name, '--help'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^ironlb ${name} \\[flags\\]`));
    const bad = spawnSync(process.execPath, [join(dir, `${name}.js`), name, '--no-such-flag'], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no-such-flag/);
  }
});

test('asciiOnly keeps what a script means: strings, regular expressions and templates hold the same characters', () => {
  const source = "/* RFC 4291 §2.7 — ranges 64–71 */ ['é—😀', /^[–—]+$/.test('—–'), `${'x'}→`, '\\u00e9']";
  const escaped = asciiOnly(source);
  assert.match(escaped, /^[\x00-\x7f]*$/);
  assert.deepEqual((0, eval)(escaped), (0, eval)(source));
  assert.deepEqual((0, eval)(escaped), ['é—😀', true, 'x→', 'é']);
});
