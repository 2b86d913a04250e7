#!/usr/bin/env node
// npm run bench -- NAME [args…]: runs bench/NAME.ts with tsx. Each bench prints its figures as JSON lines:
// {"bench":"alloc","metric":"ns_per_alloc_v4_16","value":850.2,"unit":"ns","n":65536}
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const benchDir = join(root, 'bench');
const available = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => f.slice(0, -'.ts'.length))
      .sort()
  : [];

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(
    `${name ? `unknown bench "${name}"` : 'no bench named'}; usage: npm run bench -- NAME\n` +
      `available: ${available.length > 0 ? available.join(', ') : '(none)'}`,
  );
  process.exit(2);
}

// Benches on one machine never overlap (a second waits for the first): two at once on 2 cores would
// each measure the other. IRONLB_BENCH_LOCK=0 turns this off.
const command = [process.execPath, '--import', 'tsx', join(benchDir, `${name}.ts`), ...args];
const locked = process.env.IRONLB_BENCH_LOCK !== '0' ? ['flock', process.env.IRONLB_BENCH_LOCK_FILE ?? '/tmp/ironlb-bench.lock', ...command] : command;
const child = spawn(locked[0], locked.slice(1), { stdio: 'inherit', cwd: root });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
