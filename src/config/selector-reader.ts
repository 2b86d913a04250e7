// Reads Kubernetes label selectors (metav1.LabelSelector) from untrusted JSON, with the checks
// metav1.LabelSelectorAsSelector makes: known operators, values only where the operator takes them,
// valid label keys and values, and no repeated selector in one list.
import type { LabelSelector, LabelSelectorRequirement, SelectorOperator } from './model.ts';
import { type FieldReader, field, item, own, show } from './reader.ts';

const operators: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !dnsSubdomain.test(prefix)) return false;
  }
  return name.length <= 63 && labelName.test(name);
}

export const isLabelValue = (value: string): boolean => value === '' || (value.length <= 63 && labelName.test(value));

/** A namespace name (RFC 1123 label). */
export const isNamespaceName = (name: string): boolean => name.length <= 63 && dnsLabel.test(name);

/** An object name (RFC 1123 subdomain), as metadata.name of most kinds must be. */
export const isObjectName = (name: string): boolean => name.length <= 253 && dnsSubdomain.test(name);

/** Reads a map of label key to value (matchLabels, metadata.labels). */
export function readLabels(r: FieldReader, v: unknown, path: string): Record<string, string> {
  const obj = r.object(v, path);
  if (obj === undefined) return {};
  const entries: [string, string][] = [];
  for (const key of Object.keys(obj).sort()) {
    const value = obj[key];
    if (typeof value !== 'string') {
      r.error(field(path, key), `must be a string, got ${show(value)}`);
      continue;
    }
    if (!isLabelKey(key)) r.error(path, `key ${show(key)} is not a valid label key`);
    else if (!isLabelValue(value)) r.error(field(path, key), `${show(value)} is not a valid label value`);
    else entries.push([key, value]);
  }
  // fromEntries defines own properties, so a "__proto__" key cannot reach the prototype.
  return Object.fromEntries(entries);
}

export function readSelector(r: FieldReader, v: unknown, path: string): LabelSelector | undefined {
  const obj = r.object(v, path);
  if (obj === undefined) {
    if (v === null || v === undefined) r.error(path, 'must be an object, got null');
    return undefined;
  }
  const before = r.problems.errorCount;
  const matchLabels = readLabels(r, own(obj, 'matchLabels'), field(path, 'matchLabels'));
  const exprPath = field(path, 'matchExpressions');
  const matchExpressions: LabelSelectorRequirement[] = [];
  const seenExpr = new Map<string, number>();
  (r.list(own(obj, 'matchExpressions'), exprPath) ?? []).forEach((raw, i) => {
    const req = readRequirement(r, raw, item(exprPath, i));
    if (!req) return;
    const key = requirementKey(req);
    const first = seenExpr.get(key);
    if (first !== undefined) r.error(item(exprPath, i), `repeats ${item(exprPath, first)}`);
    else {
      seenExpr.set(key, i);
      matchExpressions.push(req);
    }
  });
  if (r.problems.errorCount > before) return undefined;
  return { matchLabels, matchExpressions };
}

function readRequirement(r: FieldReader, v: unknown, path: string): LabelSelectorRequirement | undefined {
  const obj = r.object(v, path);
  if (obj === undefined) {
    if (v === null || v === undefined) r.error(path, 'must be an object, got null');
    return undefined;
  }
  const keyPath = field(path, 'key');
  const key = r.string(own(obj, 'key'), keyPath);
  if (key === undefined) r.required(own(obj, 'key'), keyPath);
  else if (!isLabelKey(key)) {
    r.error(keyPath, `${show(key)} is not a valid label key`);
    return undefined;
  }
  const opPath = field(path, 'operator');
  const op = r.string(own(obj, 'operator'), opPath);
  if (op === undefined) r.required(own(obj, 'operator'), opPath);
  else if (!(operators as readonly string[]).includes(op)) {
    r.error(opPath, `${show(op)} is not one of ${operators.join(', ')}`);
    return undefined;
  }
  const valuesPath = field(path, 'values');
  const values = r.stringListAllowEmpty(own(obj, 'values'), valuesPath);
  if (key === undefined || op === undefined || values === undefined) return undefined;
  const operator = op as SelectorOperator;
  if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
    r.error(valuesPath, `must not be empty for operator ${operator}`);
    return undefined;
  }
  if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
    r.error(valuesPath, `must be empty for operator ${operator}`);
    return undefined;
  }
  for (const [i, value] of values.entries()) {
    if (!isLabelValue(value)) {
      r.error(item(valuesPath, i), `${show(value)} is not a valid label value`);
      return undefined;
    }
  }
  return { key, operator, values };
}

const requirementKey = (req: LabelSelectorRequirement): string =>
  JSON.stringify([req.key, req.operator, [...req.values].sort()]);

/** A text form equal for selectors that select the same thing in the same way. */
export function selectorKey(s: LabelSelector): string {
  const labels = Object.keys(s.matchLabels)
    .sort()
    .map((k) => [k, s.matchLabels[k]]);
  const exprs = s.matchExpressions.map(requirementKey).sort();
  return JSON.stringify([labels, exprs]);
}

/** A list of selectors (an OR); repeats are errors, as in MetalLB. Empty when absent. */
export function readSelectors(r: FieldReader, v: unknown, path: string): LabelSelector[] {
  const list = r.list(v, path);
  if (list === undefined) return [];
  const out: LabelSelector[] = [];
  const seen = new Map<string, number>();
  list.forEach((raw, i) => {
    const sel = readSelector(r, raw, item(path, i));
    if (!sel) return;
    const key = selectorKey(sel);
    const first = seen.get(key);
    if (first !== undefined) {
      r.error(item(path, i), `repeats ${item(path, first)}`);
      return;
    }
    seen.set(key, i);
    out.push(sel);
  });
  return out;
}
