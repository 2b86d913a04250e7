// Which address families a service wants, from spec.ipFamilies and spec.ipFamilyPolicy.
import { formatIP, type IPAddress, type IPFamily } from '../net/address.ts';

export type FamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/**
 * single: exactly `families[0]`. require: one address of each family, from one pool.
 * prefer: both if one pool can give both, else one (the primary if possible).
 */
export interface FamilyPlan {
  readonly mode: 'single' | 'prefer' | 'require';
  /** Primary first; one entry for 'single', two otherwise. */
  readonly families: readonly IPFamily[];
}

const SINGLE_V4: FamilyPlan = { mode: 'single', families: ['IPv4'] };
const SINGLE_V6: FamilyPlan = { mode: 'single', families: ['IPv6'] };
const REQUIRE_V4: FamilyPlan = { mode: 'require', families: ['IPv4', 'IPv6'] };
const REQUIRE_V6: FamilyPlan = { mode: 'require', families: ['IPv6', 'IPv4'] };
const PREFER_V4: FamilyPlan = { mode: 'prefer', families: ['IPv4', 'IPv6'] };
const PREFER_V6: FamilyPlan = { mode: 'prefer', families: ['IPv6', 'IPv4'] };

export function familyPlan(families: readonly IPFamily[], policy: FamilyPolicy): FamilyPlan {
  const primary = families[0] ?? 'IPv4';
  const v4 = primary === 'IPv4';
  if (policy === 'RequireDualStack') return v4 ? REQUIRE_V4 : REQUIRE_V6;
  // PreferDualStack with one family listed (a single-stack cluster) is that family alone.
  if (policy === 'PreferDualStack' && families.length > 1 && families[1] !== primary) return v4 ? PREFER_V4 : PREFER_V6;
  return v4 ? SINGLE_V4 : SINGLE_V6;
}

const familiesText = (plan: FamilyPlan): string =>
  plan.mode === 'single' ? `${plan.families[0]} only` : `${plan.families[0]} and ${plan.families[1]}`;

/** Why `ips` cannot be this service's addresses family-wise, or undefined if they fit the plan. */
export function familyProblem(ips: readonly IPAddress[], plan: FamilyPlan): string | undefined {
  if (ips.length === 0) return 'no IP given';
  for (let i = 0; i < ips.length; i++) {
    for (let j = i + 1; j < ips.length; j++) {
      if (ips[i]!.family === ips[j]!.family) {
        return `at most one IP per family: ${formatIP(ips[i]!)} and ${formatIP(ips[j]!)} are both ${ips[i]!.family}`;
      }
    }
  }
  for (const ip of ips) {
    if (!plan.families.includes(ip.family)) {
      return `IP ${formatIP(ip)} is ${ip.family}, but the service uses ${familiesText(plan)}`;
    }
  }
  if (plan.mode === 'require' && ips.length < 2) {
    return `the service is RequireDualStack and needs an IPv4 and an IPv6 address, but only ${formatIP(ips[0]!)} is given`;
  }
  return undefined;
}
