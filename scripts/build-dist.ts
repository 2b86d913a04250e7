// npm run build: compiles the product (src/, native/addon.ts) to JavaScript in dist/, which
// bin/ironlb.js runs for the long-lived daemons while it is newer than every source file (tsx alone
// costs each process ~150 MB). The container image ships the same compilation.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from './build-image.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const dist = join(repo, 'dist');
const work = join(repo, '.cache', 'build-dist');
mkdirSync(work, { recursive: true });
// The stamp is written before compiling: a source edited during the build is newer, so stale.
const stamp = join(dist, '.build-stamp');
const started = new Date();
compile(dist, work);
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
console.log(`built ${dist}`);
