// The webhook's decision, as a pure function: would this change make the configuration worse?
//
// The candidate (created, updated or deleted object) is put into the current configuration, both are
// parsed with the one config parser, and the change is rejected when the result has an error the
// current configuration does not have. So a broken object cannot be created, a fix is never blocked by an
// unrelated object that is broken already, and deleting an object that others still need (a pool named
// by an advertisement, a BFDProfile used by a peer) is refused with the parser's own message, except
// while the install namespace is being deleted (then everything goes).
//
// Objects outside the install namespace are rejected on create and update: the daemons would ignore them.
// One kind of new error is let through with a warning: a CRD taking a name the legacy ConfigMap uses,
// which is how a move from the ConfigMap to CRDs starts (create the CRDs, then delete the ConfigMap).
//
// Secrets are not read (the controller has no access to BGP password Secrets): a passwordSecret
// reference is checked for its shape here, and for its content by the speaker, which reports problems in
// its ConfigurationState.
import { parseConfig } from '../config/parse.ts';
import { formatConfigError, type ConfigError } from '../config/model.ts';
import { basicAuthSecretType } from '../config/peer.ts';
import { isObject, own } from '../config/reader.ts';
import { type ConfigKind, type ConfigSources, sourceLists } from '../config/sources.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface ConfigChange {
  readonly operation: Operation;
  /** e.g. "IPAddressPool". */
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The object after the change (CREATE, UPDATE). */
  readonly object?: unknown;
}

export interface Verdict {
  readonly allowed: boolean;
  /** Why not, one error per line (the parser's messages). */
  readonly message?: string;
  /** The errors this change would introduce. */
  readonly errors: readonly ConfigError[];
  /** Shown by kubectl as "Warning: ..." on an allowed change. */
  readonly warnings: readonly string[];
}

export interface ReviewContext {
  /** The install namespace is being deleted: deletions are always allowed. */
  readonly namespaceTerminating?: boolean;
}

const listOf = new Map<string, keyof ConfigSources>(sourceLists.map(([kind, key]) => [kind, key]));

/** True for the kinds the webhook validates. */
export const isConfigKind = (kind: string): kind is ConfigKind => listOf.has(kind);

export function wrongNamespaceMessage(kind: string, namespace: string, name: string, installNamespace: string): string {
  return (
    `${kind} ${namespace}/${name}: IronLB reads its configuration only from namespace "${installNamespace}"; ` +
    `an object in namespace "${namespace}" would be ignored (create it in "${installNamespace}")`
  );
}

function nameOf(o: unknown): string | undefined {
  if (!isObject(o)) return undefined;
  const md = own(o, 'metadata');
  if (!isObject(md)) return undefined;
  const n = own(md, 'name');
  return typeof n === 'string' ? n : undefined;
}

/** The sources with the candidate put in place of (or added to, or removed from) its kind's list. */
export function withChange(current: ConfigSources, change: ConfigChange): ConfigSources {
  const key = listOf.get(change.kind);
  if (!key) return current;
  const others = (current[key] as readonly unknown[]).filter((o) => nameOf(o) !== change.name);
  let list = others;
  if (change.operation !== 'DELETE' && change.object !== undefined) {
    let object = change.object;
    // The API server always sends the namespace; make sure the parser sees it even if a caller did not.
    if (isObject(object) && isObject(own(object, 'metadata'))) {
      object = { ...object, metadata: { ...(own(object, 'metadata') as object), namespace: change.namespace } };
    }
    list = [...others, object];
  }
  return { ...current, [key]: list };
}

/**
 * Stand-ins for the Secrets BGPPeers name in passwordSecret: the webhook does not read Secrets, so every
 * referenced one is taken to exist and be well formed.
 */
function assumedSecrets(src: ConfigSources): unknown[] {
  const names = new Set<string>();
  for (const p of Array.isArray(src.bgpPeers) ? (src.bgpPeers as unknown[]) : []) {
    if (!isObject(p)) continue;
    const spec = own(p, 'spec');
    if (!isObject(spec)) continue;
    const ref = own(spec, 'passwordSecret');
    if (!isObject(ref)) continue;
    const name = own(ref, 'name');
    if (typeof name === 'string' && name !== '') names.add(name);
  }
  return [...names].map((name) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: src.namespace },
    type: basicAuthSecretType,
    data: { password: Buffer.from('assumed-by-the-webhook').toString('base64') },
  }));
}

function parse(src: ConfigSources) {
  return parseConfig({ ...src, secrets: assumedSecrets(src) });
}

const isLegacyNameClash = (e: ConfigError): boolean => e.kind === 'ConfigMap' && / is also used by /.test(e.message);

/** Decides one admission request against the current configuration sources (`current`). */
export function reviewConfigChange(change: ConfigChange, current: ConfigSources, ctx: ReviewContext = {}): Verdict {
  if (!isConfigKind(change.kind) || change.operation === 'CONNECT') return { allowed: true, errors: [], warnings: [] };
  if (change.namespace !== current.namespace) {
    if (change.operation === 'DELETE') return { allowed: true, errors: [], warnings: [] };
    const message = wrongNamespaceMessage(change.kind, change.namespace, change.name, current.namespace);
    return { allowed: false, message, errors: [], warnings: [] };
  }
  if (change.operation === 'DELETE' && ctx.namespaceTerminating) return { allowed: true, errors: [], warnings: [] };

  const before = parse(current);
  const after = parse(withChange(current, change));
  const known = new Set((before.ok ? [] : before.errors).map(formatConfigError));
  const all = (after.ok ? [] : after.errors).filter((e) => !known.has(formatConfigError(e)));
  // Moving from the legacy ConfigMap to CRDs means creating CRDs with the ConfigMap's names, then deleting
  // the ConfigMap. In between the configuration is invalid (the daemons keep the last good one, which is
  // the ConfigMap's): allowed, with a warning saying how to finish.
  const migrating = all.filter(isLegacyNameClash);
  const introduced = all.filter((e) => !isLegacyNameClash(e));
  if (introduced.length > 0) {
    return { allowed: false, message: introduced.map(formatConfigError).join('\n'), errors: introduced, warnings: [] };
  }
  const knownWarnings = new Set((before.warnings ?? []).map(formatConfigError));
  const warnings = (after.warnings ?? []).map(formatConfigError).filter((w) => !knownWarnings.has(w));
  for (const e of migrating) {
    warnings.push(`${formatConfigError(e)}: delete the legacy ConfigMap to finish moving to CRDs (until then the last good configuration stays in use)`);
  }
  if (!after.ok && migrating.length === 0) {
    const first = after.errors[0]!;
    const more = after.errors.length > 1 ? ` (and ${after.errors.length - 1} more)` : '';
    warnings.push(`the configuration is still invalid, as it was before this change: ${formatConfigError(first)}${more}`);
  }
  return { allowed: true, errors: [], warnings };
}
