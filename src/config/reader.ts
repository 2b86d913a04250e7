// Typed reads from untrusted plain JSON. Each read either returns a well-typed value or records an error
// against the object and field and returns undefined; nothing here throws on any input.
import { type Origin, Problems } from './problems.ts';

export type JsonObject = Readonly<Record<string, unknown>>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own property, never one inherited from Object.prototype ("constructor", "__proto__"). */
export function own(obj: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** How a value is quoted in a message. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}…` : v);
  return String(v);
}

export const field = (base: string, key: string): string => (base ? `${base}.${key}` : key);
export const item = (base: string, index: number): string => `${base}[${index}]`;

/** Absent: JSON null counts as absent, as the API server prunes nulls of non-nullable fields. */
const absent = (v: unknown): v is undefined | null => v === undefined || v === null;

export class FieldReader {
  constructor(
    readonly origin: Origin,
    readonly problems: Problems,
  ) {}

  error(path: string, message: string): void {
    this.problems.error(this.origin, path, message);
  }

  warn(path: string, message: string): void {
    this.problems.warn(this.origin, path, message);
  }

  required(v: unknown, path: string): boolean {
    if (!absent(v)) return true;
    this.error(path, 'is required');
    return false;
  }

  object(v: unknown, path: string): JsonObject | undefined {
    if (absent(v)) return undefined;
    if (isObject(v)) return v;
    this.error(path, `must be an object, got ${show(v)}`);
    return undefined;
  }

  string(v: unknown, path: string): string | undefined {
    if (absent(v)) return undefined;
    if (typeof v === 'string') return v;
    this.error(path, `must be a string, got ${show(v)}`);
    return undefined;
  }

  /** A string that, when given, is not empty. */
  nonEmptyString(v: unknown, path: string): string | undefined {
    const s = this.string(v, path);
    if (s === '') {
      this.error(path, 'must not be empty');
      return undefined;
    }
    return s;
  }

  boolean(v: unknown, path: string): boolean | undefined {
    if (absent(v)) return undefined;
    if (typeof v === 'boolean') return v;
    this.error(path, `must be a boolean, got ${show(v)}`);
    return undefined;
  }

  integer(v: unknown, path: string, min: number, max: number): number | undefined {
    if (absent(v)) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      this.error(path, `must be an integer, got ${show(v)}`);
      return undefined;
    }
    if (v < min || v > max) {
      this.error(path, `must be between ${min} and ${max}, got ${v}`);
      return undefined;
    }
    return v;
  }

  list(v: unknown, path: string): readonly unknown[] | undefined {
    if (absent(v)) return undefined;
    if (Array.isArray(v)) return v;
    this.error(path, `must be a list, got ${show(v)}`);
    return undefined;
  }

  /**
   * A list of non-empty strings without repeats, each with its index in the list as written. Invalid
   * entries are reported and left out; the result is empty when the list is absent.
   */
  stringEntries(v: unknown, path: string): { value: string; index: number }[] {
    const list = this.list(v, path);
    if (list === undefined) return [];
    const out: { value: string; index: number }[] = [];
    const seen = new Map<string, number>();
    list.forEach((x, index) => {
      const s = this.nonEmptyString(x, item(path, index));
      if (s === undefined) {
        if (absent(x)) this.error(item(path, index), 'must be a string, got null');
        return;
      }
      const first = seen.get(s);
      if (first !== undefined) {
        this.error(item(path, index), `${show(s)} repeats ${item(path, first)}`);
        return;
      }
      seen.set(s, index);
      out.push({ value: s, index });
    });
    return out;
  }

  /** stringEntries without the indices. */
  stringList(v: unknown, path: string): string[] {
    return this.stringEntries(v, path).map((e) => e.value);
  }

  /**
   * A list of strings (empty strings allowed) without repeats: [] when absent, undefined when any entry is
   * wrong (each wrong entry reported).
   */
  stringListAllowEmpty(v: unknown, path: string): string[] | undefined {
    const list = this.list(v, path);
    if (list === undefined) return absent(v) ? [] : undefined;
    const out: string[] = [];
    const seen = new Map<string, number>();
    let ok = true;
    list.forEach((x, i) => {
      if (typeof x !== 'string') {
        this.error(item(path, i), `must be a string, got ${show(x)}`);
        ok = false;
        return;
      }
      const first = seen.get(x);
      if (first !== undefined) {
        this.error(item(path, i), `${show(x)} repeats ${item(path, first)}`);
        ok = false;
        return;
      }
      seen.set(x, i);
      out.push(x);
    });
    return ok ? out : undefined;
  }

  /** Reports keys of `obj` outside `known` (used only where unknown keys mean a mistake). */
  onlyKnownKeys(obj: JsonObject, known: readonly string[], path: string): void {
    for (const k of Object.keys(obj)) if (!known.includes(k)) this.error(field(path, k), 'is not a known field');
  }
}
