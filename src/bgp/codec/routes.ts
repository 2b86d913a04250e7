// What a decoded UPDATE means for the routes learned from a peer: which prefixes it announces, which it
// withdraws (RFC 7606 treat-as-withdraw folded in), and whether it is an End-of-RIB marker (RFC 4724 §2).
import type { IPFamily } from '../../net/address.ts';
import type { Prefix, UpdateMessage } from './messages.ts';
import { familyOf } from './nlri.ts';

/** Prefixes the UPDATE announces (NLRI field and MP_REACH_NLRI); none when it is to be treated as withdraw. */
export function announcedPrefixes(update: UpdateMessage): Prefix[] {
  if (update.treatAsWithdraw) return [];
  const mp = update.attributes.mpReach?.nlri ?? [];
  return mp.length === 0 ? [...update.nlri] : [...update.nlri, ...mp];
}

/** Prefixes the UPDATE withdraws, including everything it announces when it is to be treated as withdraw. */
export function withdrawnPrefixes(update: UpdateMessage): Prefix[] {
  const out = [...update.withdrawn, ...(update.attributes.mpUnreach?.withdrawn ?? [])];
  if (update.treatAsWithdraw) out.push(...update.nlri, ...(update.attributes.mpReach?.nlri ?? []));
  return out;
}

/** The family an End-of-RIB marker closes, or undefined if the UPDATE is not one. */
export function endOfRibFamily(update: UpdateMessage): IPFamily | undefined {
  if (update.withdrawn.length > 0 || update.nlri.length > 0 || update.problems.length > 0) return undefined;
  const { mpUnreach, ...rest } = update.attributes;
  if (Object.values(rest).some((v) => v !== undefined)) return undefined;
  if (mpUnreach === undefined) return 'IPv4';
  if (mpUnreach.withdrawn.length > 0) return undefined;
  return familyOf(mpUnreach.afi, mpUnreach.safi);
}
