// The legacy ConfigMap's YAML, read the way MetalLB read it (Go's yaml.v2 into typed structs): a plain
// scalar becomes whatever the field it lands in needs — `hold-time: 90` is the string "90", `auto-assign:
// yes` is true, `64500:100` stays text — so the YAML is parsed with every scalar kept as its text, and
// plain (unquoted) scalars are marked so legacy.ts can convert them per field.
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, Scalar } from 'yaml';

/** An unquoted scalar's text; the field it lands in decides whether it is a number, a boolean or text. */
export class PlainScalar {
  constructor(readonly text: string) {}
}

const nullWords = new Set(['', '~', 'null', 'Null', 'NULL']);
const maxNodes = 100_000; // alias expansion ("billion laughs") stops here

export type LegacyYaml = { readonly value: unknown } | { readonly error: string };

export function parseLegacyYaml(text: string): LegacyYaml {
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false, logLevel: 'error' });
  } catch (err) {
    return { error: firstLine((err as Error).message) };
  }
  if (doc.errors.length > 0) return { error: firstLine(doc.errors[0]!.message) };
  const budget = { left: maxNodes };
  try {
    return { value: convert(doc.contents, doc, budget, 0) };
  } catch (err) {
    if (err instanceof LegacyYamlError) return { error: err.message };
    throw err;
  }
}

class LegacyYamlError extends Error {}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/:\s*$/, '');
}

function convert(node: unknown, doc: Document.Parsed, budget: { left: number }, depth: number): unknown {
  if (--budget.left < 0) throw new LegacyYamlError(`has more than ${maxNodes} values (after expanding aliases)`);
  if (depth > 200) throw new LegacyYamlError('nests deeper than 200 levels');
  if (node === null || node === undefined) return null;
  if (isAlias(node)) return convert(node.resolve(doc), doc, budget, depth + 1);
  if (isScalar(node)) {
    const text = node.value === null || node.value === undefined ? '' : String(node.value);
    if (node.type === Scalar.PLAIN || node.type === undefined) return nullWords.has(text) ? null : new PlainScalar(text);
    return text;
  }
  if (isSeq(node)) return node.items.map((x) => convert(x, doc, budget, depth + 1));
  if (isMap(node)) {
    const entries: [string, unknown][] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      if (!isScalar(key)) throw new LegacyYamlError('has a map key that is not a plain value');
      entries.push([String(key.value ?? ''), convert(pair.value, doc, budget, depth + 1)]);
    }
    return Object.fromEntries(entries);
  }
  return null;
}

/** Go yaml.v2's booleans (YAML 1.1). */
export function yamlBool(text: string): boolean | undefined {
  if (/^(y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(text)) return true;
  if (/^(n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/.test(text)) return false;
  return undefined;
}

/** Go yaml.v2's integers: decimal, 0x hex, 0o or leading-0 octal, 0b binary, underscores allowed. */
export function yamlInt(text: string): number | undefined {
  const s = text.replace(/_/g, '');
  const m = /^([-+]?)(0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const digits = m[2]!;
  let v: bigint;
  if (/^0o/.test(digits)) v = BigInt(`0o${digits.slice(2)}`);
  else if (/^0[0-7]+$/.test(digits)) v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}
