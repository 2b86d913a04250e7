// The daemons' memory policy: V8's heap, and the C library's allocator underneath Node.
//
// V8 heap (the speaker). V8's defaults aim at throughput: under a steady stream of watch events
// the young generation doubles up to 2×16 MB, and the old generation grows well past its live data
// before a full collection, so a speaker holding ~30 MB of live objects reached 130 MB RSS while 1,000
// services arrived. A daemon on every node should stay small: the young generation keeps its initial
// size (short-lived garbage is still collected by cheap scavenges) and a full collection runs once the
// old generation has grown 30% past what survived the last one. Both flags are read by V8 whenever it
// sizes the heap, so setting them at start-up (no node command-line flag needed) takes effect.
import { setFlagsFromString } from 'node:v8';

/**
 * The environment the daemons run with (the image, the lab). glibc gives every thread that allocates
 * its own malloc arena, and V8's compiler and GC threads allocate: a speaker's RSS grew ~13 MB over a
 * burst of 1,000 services outside the V8 heap, in arenas that are never trimmed. One arena: peak 94 MB
 * instead of 103 MB, no measurable cost (BENCHMARKS.md). glibc reads it at process start, so it can
 * only come from whoever starts the process.
 */
export const daemonEnv: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

export const daemonHeapFlags = ['--semi-space-growth-factor=1', '--heap-growing-percent=30'] as const;

export function tuneDaemonHeap(): void {
  for (const flag of daemonHeapFlags) setFlagsFromString(flag);
}
