// What the parser needs to know about Nodes: names, labels (for selector overlap checks) and the
// addresses a pool must not contain. Nodes are not configuration, so malformed parts are skipped.
import { type IPAddress, parseIP } from '../net/address.ts';
import { isObject, own } from './reader.ts';

export interface NodeAddress {
  readonly type: 'InternalIP' | 'ExternalIP';
  readonly ip: IPAddress;
  readonly text: string;
}

export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly addresses: readonly NodeAddress[];
}

export function readNodes(nodes: unknown): NodeInfo[] {
  if (!Array.isArray(nodes)) return [];
  const out: NodeInfo[] = [];
  for (const n of nodes as unknown[]) {
    if (!isObject(n)) continue;
    const md = own(n, 'metadata');
    if (!isObject(md)) continue;
    const name = own(md, 'name');
    if (typeof name !== 'string' || name === '') continue;
    const rawLabels = own(md, 'labels');
    const labels = isObject(rawLabels)
      ? Object.fromEntries(Object.entries(rawLabels).filter((e): e is [string, string] => typeof e[1] === 'string'))
      : {};
    const addresses: NodeAddress[] = [];
    const status = own(n, 'status');
    const list = isObject(status) ? own(status, 'addresses') : undefined;
    if (Array.isArray(list)) {
      for (const a of list as unknown[]) {
        if (!isObject(a)) continue;
        const type = own(a, 'type');
        const text = own(a, 'address');
        if ((type !== 'InternalIP' && type !== 'ExternalIP') || typeof text !== 'string') continue;
        const ip = parseIP(text);
        if (ip) addresses.push({ type, ip, text });
      }
    }
    out.push({ name, labels, addresses });
  }
  return out;
}
