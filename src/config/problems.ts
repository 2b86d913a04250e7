// Where a configuration object came from, and the list of problems found in it. Every error names the
// object the user wrote (a metallb.io CRD, or the legacy ConfigMap) and the field in the user's own
// spelling, so `kubectl edit` on what the message names leads straight to the mistake.
import type { ConfigError } from './model.ts';

/** The object a problem is reported against. */
export interface Origin {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /**
   * Maps a field path in metallb.io CRD spelling (`nodeSelectors[0].matchLabels`) to the path the user
   * wrote (the same for CRDs; `peers[2].node-selectors[0].match-labels` for the legacy ConfigMap).
   */
  readonly path: (field: string) => string;
}

export const identityPath = (field: string): string => field;

export function crdOrigin(kind: string, namespace: string, name: string): Origin {
  return { kind, namespace, name, path: identityPath };
}

/**
 * How another object's message refers to a field of this one:
 * `addresses[1] of IPAddressPool metallb-system/other`, or
 * `address-pools[0].addresses[1] of ConfigMap metallb-system/config`.
 */
export function describe(origin: Origin, field = ''): string {
  const path = origin.path(field);
  const object = `${origin.kind} ${origin.namespace}/${origin.name}`;
  return path ? `${path} of ${object}` : object;
}

export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Collects every error and warning of one parse; nothing stops at the first. */
export class Problems {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigError[] = [];

  error(origin: Origin, field: string, message: string): void {
    this.errors.push(toConfigError(origin, field, message));
  }

  warn(origin: Origin, field: string, message: string): void {
    this.warnings.push(toConfigError(origin, field, message));
  }

  get errorCount(): number {
    return this.errors.length;
  }
}

function toConfigError(origin: Origin, field: string, message: string): ConfigError {
  return Object.freeze({ kind: origin.kind, namespace: origin.namespace, name: origin.name, field: origin.path(field), message });
}

/**
 * A deterministic order for reports: by kind, namespace and object name; within one object, in the order
 * the fields were checked (the order of the spec). Repeats (one legacy entry standing for two objects
 * can fail the same way twice) are dropped.
 */
export function sortProblems(list: readonly ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return list
    .filter((e) => {
      const key = JSON.stringify([e.kind, e.namespace, e.name, e.field, e.message]);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((e, i) => ({ e, i }))
    .sort(
      (a, b) =>
        compareText(a.e.kind, b.e.kind) ||
        compareText(a.e.namespace, b.e.namespace) ||
        compareText(a.e.name, b.e.name) ||
        a.i - b.i,
    )
    .map((x) => x.e);
}
