// BGP communities as users write them: `a:b` (standard, 16 bits each), `large:a:b:c` (large, 32 bits
// each), or the name of an alias from a Community object (or the legacy `bgp-communities` map).
import type { Community } from './model.ts';
import { type Problems, describe } from './problems.ts';
import { FieldReader, field, item, own, show } from './reader.ts';
import type { SourceObject } from './sources.ts';

const standardForm = /^(\d+):(\d+)$/;
const largeForm = /^large:(\d+):(\d+):(\d+)$/i;

/**
 * A community literal; `{ error }` when the text has a community's shape but not its limits; undefined
 * when the text is not a literal at all (so it may be an alias).
 */
export function parseCommunity(text: string): Community | { readonly error: string } | undefined {
  const s = standardForm.exec(text);
  if (s) {
    const high = Number(s[1]);
    const low = Number(s[2]);
    if (high > 0xffff || low > 0xffff) return { error: 'is not a valid community: each half of a:b must be 0..65535' };
    return { kind: 'standard', value: high * 0x10000 + low };
  }
  if (/^large:/i.test(text)) {
    const l = largeForm.exec(text);
    const parts = l ? [Number(l[1]), Number(l[2]), Number(l[3])] : [];
    if (!l || parts.some((p) => p > 0xffffffff)) {
      return { error: 'is not a valid large community: write large:a:b:c with each part 0..4294967295' };
    }
    return { kind: 'large', globalAdmin: parts[0]!, localData1: parts[1]!, localData2: parts[2]! };
  }
  return undefined;
}

export function formatCommunity(c: Community): string {
  return c.kind === 'standard'
    ? `${Math.floor(c.value / 0x10000)}:${c.value % 0x10000}`
    : `large:${c.globalAdmin}:${c.localData1}:${c.localData2}`;
}

export function sameCommunity(a: Community, b: Community): boolean {
  return formatCommunity(a) === formatCommunity(b);
}

export interface CommunityAlias {
  readonly community: Community;
  readonly source: SourceObject;
  readonly path: string;
}

/** Every alias of every Community object, by name; a name defined twice is an error. */
export function readCommunityAliases(sources: readonly SourceObject[], problems: Problems): Map<string, CommunityAlias> {
  const aliases = new Map<string, CommunityAlias>();
  for (const source of sources) {
    const r = new FieldReader(source.origin, problems);
    const raw = own(source.spec, 'communities');
    const list = r.list(raw, 'communities') ?? [];
    list.forEach((entry, i) => {
      const path = item('communities', i);
      const obj = r.object(entry, path);
      if (!obj) {
        if (entry === null || entry === undefined) r.error(path, 'must be an object, got null');
        return;
      }
      const namePath = field(path, 'name');
      const valuePath = field(path, 'value');
      const name = r.nonEmptyString(own(obj, 'name'), namePath);
      if (name === undefined) r.required(own(obj, 'name'), namePath);
      const value = r.string(own(obj, 'value'), valuePath);
      if (value === undefined) r.required(own(obj, 'value'), valuePath);
      if (name === undefined || value === undefined) return;
      const parsed = parseCommunity(value);
      if (parsed === undefined) {
        r.error(valuePath, `${show(value)} is not a community: write a:b or large:a:b:c`);
        return;
      }
      if ('error' in parsed) {
        r.error(valuePath, `${show(value)} ${parsed.error}`);
        return;
      }
      const prev = aliases.get(name);
      if (prev) {
        r.error(namePath, `${show(name)} is already defined at ${describe(prev.source.origin, prev.path)}`);
        return;
      }
      aliases.set(name, { community: parsed, source, path: namePath });
    });
  }
  return aliases;
}

/** Resolves one entry of an advertisement's communities (an alias first, as MetalLB does, then a literal). */
export function resolveCommunity(text: string, aliases: ReadonlyMap<string, CommunityAlias>): Community | string {
  const alias = aliases.get(text);
  if (alias) return alias.community;
  const parsed = parseCommunity(text);
  if (parsed === undefined) {
    return `${show(text)} is neither a community (a:b or large:a:b:c) nor the name of a Community alias`;
  }
  if ('error' in parsed) return `${show(text)} ${parsed.error}`;
  return parsed;
}
