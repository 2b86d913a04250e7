// npm run build: bundles each long-lived daemon (`ironlb controller`, `ironlb speaker`) with every
// dependency into one file, dist/controller.js and dist/speaker.js, with esbuild. bin/ironlb.js runs them
// while they are newer than every source file; the container image ships the same bundles.
//
// Why bundles and not tsc's file-per-module output: tree shaking. client-node's index pulls ~2,500
// generated model classes into memory (~60 MB per process); the daemons use only its KubeConfig and
// Watch (src/k8s/api.ts does the rest), and a bundle keeps only those. One bundle per daemon, not one
// split bundle: chunks shared with the other commands (which use the typed API) would bring them back.
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync, type Metafile } from 'esbuild';

const repo = fileURLToPath(new URL('../', import.meta.url));

export const daemons = {
  controller: { module: 'src/cli/controller-command.ts', run: 'controllerCommand' },
  speaker: { module: 'src/cli/speaker-command.ts', run: 'speakerCommand' },
} as const;

/**
 * V8 keeps a script's source in memory as long as the script lives, one byte per character if every
 * character is Latin-1 and two otherwise. esbuild escapes non-ASCII characters in strings and regular
 * expressions but copies comments as they are, and a single dash from a dependency's comment made the
 * whole 2.7 MB source two-byte (5.4 MB of every daemon's heap). Escaping what is left as \uXXXX keeps the
 * meaning everywhere: in strings, regular expressions and templates it is the same character, in a
 * comment it is only text.
 */
export function asciiOnly(source: string): string {
  return source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Bundles every daemon into `outDir` (emptied first); returns esbuild's metafile per daemon. */
export function bundle(outDir: string): Record<keyof typeof daemons, Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const out = {} as Record<keyof typeof daemons, Metafile>;
  for (const [name, d] of Object.entries(daemons) as [keyof typeof daemons, (typeof daemons)[keyof typeof daemons]][]) {
    const result = buildSync({
      stdin: {
        // argv: node <launcher> <daemon> flags...
        contents: `import { ${d.run} } from './${d.module}';\nimport { exitOnFailure } from './src/cli/exit.ts';\nexitOnFailure(${d.run}(process.argv.slice(3)));\n`,
        resolveDir: repo,
        sourcefile: `${name}-entry.ts`,
        loader: 'ts',
      },
      outfile: join(outDir, `${name}.js`),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      metafile: true,
      logLevel: 'warning',
      // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
      banner: { js: "import { createRequire as __ironlbRequire } from 'node:module'; const require = __ironlbRequire(import.meta.url);" },
      // native/addon.ts finds the addon by IRONLB_NATIVE_ADDON in a bundle (the launcher and the image set it).
      external: ['*.node'],
    });
    out[name] = result.metafile;
    const file = join(outDir, `${name}.js`);
    writeFileSync(file, asciiOnly(readFileSync(file, 'utf8')));
  }
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  return out;
}

/** `npm run build`: the bundles in dist/ and the stamp bin/ironlb.js compares with the sources. */
export function buildDist(dist = join(repo, 'dist')): string {
  // The stamp's time is taken before bundling: a source edited during the build is newer, so stale.
  const started = new Date();
  bundle(dist);
  const stamp = join(dist, '.build-stamp');
  writeFileSync(stamp, `${started.toISOString()}\n`);
  utimesSync(stamp, started, started);
  return dist;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`built ${buildDist()}`);
