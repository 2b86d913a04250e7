#!/usr/bin/env node
// Launcher. The long-lived daemons (controller, speaker) run the compiled JavaScript in dist/ (what
// the image ships) when `npm run build` made it after the last source edit: tsx would cost each
// process ~150 MB. Everything else, and daemons without a fresh build, run the TypeScript through tsx.
// IRONLB_RUNTIME=tsx forces tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const daemons = new Set(['controller', 'speaker']);

/** Newest modification time of the TypeScript sources dist/ is compiled from. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function freshBuild() {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp) || !existsSync(join(root, 'dist', `${process.argv[2]}.js`))) return false;
  const built = statSync(stamp).mtimeMs;
  return newestSource(join(root, 'src')) <= built && statSync(join(root, 'native', 'addon.ts')).mtimeMs <= built;
}

if (daemons.has(process.argv[2] ?? '') && process.env.IRONLB_RUNTIME !== 'tsx' && freshBuild()) {
  process.env.IRONLB_NATIVE_ADDON ??= join(root, 'native', 'build', 'Release', 'ironlb_native.node');
  await import(`../dist/${process.argv[2]}.js`);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
