// Deep freezing for the parsed configuration: what the parser hands out cannot be changed by anyone.

/** Freezes `value` and everything reachable from it (Map contents too; the Map itself is typed read-only). */
export function deepFreeze<T>(value: T): T {
  freeze(value, new Set());
  return value;
}

function freeze(v: unknown, seen: Set<unknown>): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) {
      freeze(k, seen);
      freeze(x, seen);
    }
  } else {
    for (const x of Object.values(v)) freeze(x, seen);
  }
  Object.freeze(v);
}
