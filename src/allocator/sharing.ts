// When two services may hold the same address (metallb.io/allow-shared-ip).
//
// Both carry the same non-empty sharing key, no (protocol, port) pair collides, and their
// externalTrafficPolicy agrees; Local services must also select the same pods (they are announced
// from the nodes with local endpoints, so they must land on the same nodes). Local never shares with Cluster.
import { formatIP, type IPAddress } from '../net/address.ts';

/** What the sharing rules need to know about one service. */
export interface SharingProfile {
  readonly key: string;
  /** '' when the service does not allow sharing. */
  readonly sharingKey: string;
  readonly local: boolean;
  /** Canonical text of the pod selector (only compared for Local services). */
  readonly selectorKey: string;
  /** "TCP/80" style, upper-case protocol. */
  readonly ports: readonly string[];
}

export const portKey = (protocol: string, port: number): string => `${protocol.toUpperCase()}/${port}`;

/** A selector as canonical text; no selector and an empty one are the same. */
export function selectorKey(selector: Readonly<Record<string, string>> | undefined): string {
  if (selector === undefined) return '';
  const keys = Object.keys(selector);
  if (keys.length === 0) return '';
  keys.sort();
  return JSON.stringify(keys.map((k) => [k, selector[k]]));
}

/** Port lists as keys. A service's single port is the common case, so those lists are shared, not rebuilt. */
const NO_PORTS: readonly string[] = [];
const singlePorts = new Map<string, Map<number, readonly string[]>>();

export function portKeys(ports: readonly { protocol: string; port: number }[]): readonly string[] {
  if (ports.length === 0) return NO_PORTS;
  if (ports.length === 1) {
    const { protocol, port } = ports[0]!;
    let byPort = singlePorts.get(protocol);
    if (byPort === undefined) singlePorts.set(protocol, (byPort = new Map()));
    let keys = byPort.get(port);
    if (keys === undefined) byPort.set(port, (keys = [portKey(protocol, port)]));
    return keys;
  }
  return [...new Set(ports.map((p) => portKey(p.protocol, p.port)))];
}

const policy = (p: SharingProfile): string => (p.local ? 'Local' : 'Cluster');

/**
 * Why `candidate` may not hold `ip` next to `holder` (another service already holding it), or
 * undefined if they may share. The reason is only formatted when there is one.
 */
export function sharingConflict(ip: IPAddress, holder: SharingProfile, candidate: SharingProfile): string | undefined {
  const conflict = sharingRuleBroken(holder, candidate);
  if (conflict === undefined) return undefined;
  const ipText = formatIP(ip);
  const inUse = `IP ${ipText} is already in use by ${holder.key}`;
  switch (conflict.rule) {
    case 'holderNoKey':
      return `${inUse}, which does not allow sharing (no metallb.io/allow-shared-ip annotation)`;
    case 'candidateNoKey':
      return `${inUse}, and this service has no metallb.io/allow-shared-ip annotation`;
    case 'keyDiffers':
      return `${inUse} with sharing key "${holder.sharingKey}", not "${candidate.sharingKey}"`;
    case 'policyDiffers':
      return `${inUse} with externalTrafficPolicy ${policy(holder)}; a ${policy(candidate)} service cannot share it`;
    case 'selectorDiffers':
      return `${inUse}, an externalTrafficPolicy Local service with a different pod selector; Local services share an IP only with the same selector`;
    case 'portCollides':
      return `port ${conflict.port} on IP ${ipText} is already used by ${holder.key}`;
  }
}

type BrokenRule =
  | { rule: 'holderNoKey' | 'candidateNoKey' | 'keyDiffers' | 'policyDiffers' | 'selectorDiffers' }
  | { rule: 'portCollides'; port: string };

const HOLDER_NO_KEY: BrokenRule = { rule: 'holderNoKey' };
const CANDIDATE_NO_KEY: BrokenRule = { rule: 'candidateNoKey' };
const KEY_DIFFERS: BrokenRule = { rule: 'keyDiffers' };
const POLICY_DIFFERS: BrokenRule = { rule: 'policyDiffers' };
const SELECTOR_DIFFERS: BrokenRule = { rule: 'selectorDiffers' };

function sharingRuleBroken(holder: SharingProfile, candidate: SharingProfile): BrokenRule | undefined {
  if (holder.sharingKey === '') return HOLDER_NO_KEY;
  if (candidate.sharingKey === '') return CANDIDATE_NO_KEY;
  if (holder.sharingKey !== candidate.sharingKey) return KEY_DIFFERS;
  if (holder.local !== candidate.local) return POLICY_DIFFERS;
  if (holder.local && holder.selectorKey !== candidate.selectorKey) return SELECTOR_DIFFERS;
  for (const port of candidate.ports) if (holder.ports.includes(port)) return { rule: 'portCollides', port };
  return undefined;
}
