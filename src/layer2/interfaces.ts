// Which interfaces of this node the Layer2 announcer may answer on, and the facts it needs about them.
// As MetalLB: skip interfaces that are down, loopback, NOARP, enslaved (bond members, bridge and OVS
// ports: their frames go to the master's receive handler and never reach a packet socket bound to the
// port) or named like a CNI, tunnel or container device.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { interfaceInfo } from '../net/packet-socket.ts';
import type { MacAddress } from './ethernet.ts';

/**
 * MetalLB's default exclusions (container veths, CNI bridges and tunnels, kube-proxy's dummy device,
 * loopback), plus Cilium's per-pod `lxc*` veths and Geneve tunnels.
 */
export const DEFAULT_EXCLUDED_INTERFACES: readonly RegExp[] = [
  /^(docker|veth|cali|flannel|kube-ipvs|cni|lo$|cilium|lxc|vxlan|genev|tunl|weave|kube-bridge|nodelocaldns)/,
];

/** What the announcer needs to know about one interface. */
export interface LinkFacts {
  readonly name: string;
  readonly ifindex: number;
  /** Undefined when the interface has no Ethernet-style MAC (tun, wireguard, ...). */
  readonly mac: MacAddress | undefined;
  /** IFF_UP (administratively up; carrier loss does not clear it). */
  readonly up: boolean;
  readonly loopback: boolean;
  readonly noarp: boolean;
  /** IFF_SLAVE: a bond or team member. */
  readonly slave: boolean;
  /** The device this one is enslaved to (bridge, bond, OVS, VRF), if any. */
  readonly master?: string | undefined;
}

/** Whether a name matches an exclusion pattern (checked before inspecting: nodes have many pod veths). */
export function isExcludedName(name: string, exclude: readonly RegExp[] = DEFAULT_EXCLUDED_INTERFACES): boolean {
  // String.search ignores `lastIndex`, so a caller's /g or /y pattern cannot make this flip-flop.
  return exclude.some((pattern) => name.search(pattern) !== -1);
}

/** Why the announcer must not use this interface, or undefined if it may. */
export function ineligibility(facts: LinkFacts, exclude: readonly RegExp[] = DEFAULT_EXCLUDED_INTERFACES): string | undefined {
  if (isExcludedName(facts.name, exclude)) return 'excluded by name';
  if (facts.loopback) return 'loopback';
  if (!facts.up) return 'down';
  if (facts.noarp) return 'NOARP';
  if (facts.slave) return 'bond member';
  if (facts.master !== undefined) return `enslaved to ${facts.master}`;
  if (facts.mac === undefined) return 'no Ethernet address';
  return undefined;
}

/**
 * Names of the interfaces in this process's network namespace: /sys/class/net (right under `ip netns
 * exec` and in a hostNetwork pod, which mount sysfs for their namespace), else /proc/self/net/dev (always
 * the process's namespace).
 */
export function systemInterfaceNames(): string[] {
  try {
    return readdirSync('/sys/class/net').sort();
  } catch {
    return readFileSync('/proc/self/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0]!.trim())
      .filter(Boolean)
      .sort();
  }
}

/**
 * Facts about one interface of this namespace; undefined if it does not exist (any more). Throws other
 * errors (the native addon missing, ...).
 */
export function inspectSystemInterface(name: string): LinkFacts | undefined {
  let info;
  try {
    info = interfaceInfo(name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENODEV') return undefined;
    throw err;
  }
  let master: string | undefined;
  try {
    master = basename(readlinkSync(`/sys/class/net/${name}/master`));
  } catch {
    master = undefined;
  }
  return {
    name,
    ifindex: info.ifindex,
    mac: info.hardwareType === 1 ? info.mac : undefined,
    up: info.up,
    loopback: info.loopback,
    noarp: info.noarp,
    slave: info.slave,
    master,
  };
}
