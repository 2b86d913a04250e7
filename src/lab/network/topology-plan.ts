// What a lab topology is (spec), and the pure plan that builds it: namespace names, interfaces, MACs,
// addresses and the exact commands, in order. Planning does no I/O, so it is tested without root;
// topology.ts executes the plan and records what it created.
import { isIPv4, isIPv6 } from 'node:net';

/** A layer-2 segment: one Linux bridge in the switch namespace. */
export interface SegmentSpec {
  /** 1–12 characters [a-z0-9]; the bridge is `br-<name>`. */
  readonly name: string;
  /** The segment's subnets; an interface address given without a prefix length takes it from here. */
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface InterfaceSpec {
  readonly segment: string;
  /** `10.99.0.11/24`, or `10.99.0.11` when the segment has an ipv4 subnet. */
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Default: 02:49:4c:<segment index>:<host index>:<interface index>. */
  readonly mac?: string;
}

export interface HostSpec {
  /** 1–11 characters [a-z0-9], not "sw"; the namespace is `<prefix>-<name>`. */
  readonly name: string;
  /** eth0, eth1, … in this order; each is attached to its segment's bridge. */
  readonly interfaces: readonly InterfaceSpec[];
  readonly gateway4?: string;
  readonly gateway6?: string;
  /** ip_forward (v4 and v6) and fib_multipath_hash_policy=1 (L4 hash, so ECMP spreads flows). */
  readonly router?: boolean;
  /** arp_ignore=1 and arp_announce=2: the kernel no longer answers ARP for addresses on other interfaces (lo). */
  readonly arpIgnore?: boolean;
  /** Extra sysctls, e.g. { 'net.ipv4.conf.all.rp_filter': 0 }. */
  readonly sysctls?: Readonly<Record<string, string | number>>;
}

export interface TopologySpec {
  readonly segments: readonly SegmentSpec[];
  readonly hosts: readonly HostSpec[];
}

export interface LabInterface {
  /** Name inside the host: eth0, eth1, … */
  readonly name: string;
  readonly segment: string;
  readonly mac: string;
  /** The veth end in the switch namespace (`p-<host>` for eth0, `p-<host>-<n>` for ethN). */
  readonly switchPort: string;
  readonly ipv4?: string;
  readonly ipv4Cidr?: string;
  readonly ipv6?: string;
  readonly ipv6Cidr?: string;
}

export interface LabHost {
  readonly name: string;
  readonly ns: string;
  readonly interfaces: readonly LabInterface[];
  /** eth0's addresses, for convenience. */
  readonly ipv4?: string;
  readonly ipv6?: string;
  readonly gateway4?: string;
  readonly gateway6?: string;
  readonly router: boolean;
}

export interface LabSegment {
  readonly name: string;
  readonly bridge: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface TopologyPlan {
  readonly prefix: string;
  readonly switchNs: string;
  /** Switch first, then hosts in spec order. */
  readonly namespaces: readonly string[];
  readonly segments: readonly LabSegment[];
  readonly hosts: readonly LabHost[];
  /** Commands (argv) to run in order; the first ones create the namespaces. */
  readonly steps: readonly (readonly string[])[];
}

export class TopologySpecError extends Error {
  override readonly name = 'TopologySpecError';
}

const HOST_NAME = /^[a-z][a-z0-9]{0,10}$/;
const SEGMENT_NAME = /^[a-z][a-z0-9]{0,11}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SYSCTL_KEY = /^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/;

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** `<prefix>-sw` is the switch; prefixes look like `ilb-1a2b3c`. */
export function planTopology(spec: TopologySpec, prefix: string): TopologyPlan {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(prefix)) throw new TopologySpecError(`invalid namespace prefix "${prefix}"`);
  const segmentIndex = new Map<string, number>();
  const segments: LabSegment[] = spec.segments.map((s, i) => {
    if (!SEGMENT_NAME.test(s.name)) throw new TopologySpecError(`segment "${s.name}": name must match ${SEGMENT_NAME}`);
    if (segmentIndex.has(s.name)) throw new TopologySpecError(`segment "${s.name}" is defined twice`);
    if (s.ipv4 !== undefined) parseCidr(s.ipv4, 4, `segment ${s.name} ipv4`);
    if (s.ipv6 !== undefined) parseCidr(s.ipv6, 6, `segment ${s.name} ipv6`);
    segmentIndex.set(s.name, i);
    return { name: s.name, bridge: `br-${s.name}`, ...(s.ipv4 && { ipv4: s.ipv4 }), ...(s.ipv6 && { ipv6: s.ipv6 }) };
  });
  if (spec.hosts.length === 0) throw new TopologySpecError('a topology needs at least one host');
  if (spec.hosts.length > 250) throw new TopologySpecError('at most 250 hosts');

  const switchNs = `${prefix}-sw`;
  const hostNames = new Set<string>();
  const macs = new Map<string, string>();
  const hosts: LabHost[] = spec.hosts.map((h, hostIdx) => {
    const where = `host "${h.name}"`;
    if (!HOST_NAME.test(h.name) || h.name === 'sw') throw new TopologySpecError(`${where}: name must match ${HOST_NAME} and not be "sw"`);
    if (hostNames.has(h.name)) throw new TopologySpecError(`${where} is defined twice`);
    hostNames.add(h.name);
    if (h.interfaces.length > 8) throw new TopologySpecError(`${where}: at most 8 interfaces`);
    const interfaces = h.interfaces.map((ifc, ifIdx): LabInterface => {
      const name = `eth${ifIdx}`;
      const seg = segmentIndex.get(ifc.segment);
      if (seg === undefined) throw new TopologySpecError(`${where} ${name}: unknown segment "${ifc.segment}"`);
      const segment = segments[seg]!;
      const mac = (ifc.mac ?? `02:49:4c:${hex2(seg)}:${hex2(hostIdx + 1)}:${hex2(ifIdx)}`).toLowerCase();
      if (!MAC.test(mac)) throw new TopologySpecError(`${where} ${name}: "${ifc.mac}" is not a MAC address`);
      if (macs.has(mac)) throw new TopologySpecError(`${where} ${name}: MAC ${mac} is already used by ${macs.get(mac)}`);
      macs.set(mac, `${h.name} ${name}`);
      const v4 = ifc.ipv4 === undefined ? undefined : interfaceAddress(ifc.ipv4, segment.ipv4, 4, `${where} ${name} ipv4`);
      const v6 = ifc.ipv6 === undefined ? undefined : interfaceAddress(ifc.ipv6, segment.ipv6, 6, `${where} ${name} ipv6`);
      return {
        name,
        segment: segment.name,
        mac,
        switchPort: ifIdx === 0 ? `p-${h.name}` : `p-${h.name}-${ifIdx}`,
        ...(v4 && { ipv4: v4.address, ipv4Cidr: v4.cidr }),
        ...(v6 && { ipv6: v6.address, ipv6Cidr: v6.cidr }),
      };
    });
    if (h.gateway4 !== undefined && !isIPv4(h.gateway4)) throw new TopologySpecError(`${where}: gateway4 "${h.gateway4}" is not an IPv4 address`);
    if (h.gateway6 !== undefined && !isIPv6(h.gateway6)) throw new TopologySpecError(`${where}: gateway6 "${h.gateway6}" is not an IPv6 address`);
    if (h.gateway4 !== undefined && !interfaces.some((i) => i.ipv4)) throw new TopologySpecError(`${where}: gateway4 without an IPv4 address`);
    if (h.gateway6 !== undefined && !interfaces.some((i) => i.ipv6)) throw new TopologySpecError(`${where}: gateway6 without an IPv6 address`);
    for (const key of Object.keys(h.sysctls ?? {})) {
      if (!SYSCTL_KEY.test(key)) throw new TopologySpecError(`${where}: "${key}" is not a sysctl name`);
    }
    const eth0 = interfaces[0];
    return {
      name: h.name,
      ns: `${prefix}-${h.name}`,
      interfaces,
      ...(eth0?.ipv4 && { ipv4: eth0.ipv4 }),
      ...(eth0?.ipv6 && { ipv6: eth0.ipv6 }),
      ...(h.gateway4 && { gateway4: h.gateway4 }),
      ...(h.gateway6 && { gateway6: h.gateway6 }),
      router: h.router ?? false,
    };
  });

  const steps: string[][] = [];
  const namespaces = [switchNs, ...hosts.map((h) => h.ns)];
  for (const ns of namespaces) steps.push(['ip', 'netns', 'add', ns]);
  // The switch only bridges: no IPv6 on its bridges and ports, so it sends nothing of its own.
  steps.push(['ip', 'netns', 'exec', switchNs, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  // Before any interface exists: DAD off (it would hold IPv6 addresses, link-local ones included, ~2 s).
  spec.hosts.forEach((h, i) => steps.push(['ip', 'netns', 'exec', hosts[i]!.ns, 'sysctl', '-qw', ...hostSysctls(h)]));
  for (const ns of namespaces) steps.push(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  for (const s of segments) {
    steps.push(['ip', '-n', switchNs, 'link', 'add', s.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
    steps.push(['ip', '-n', switchNs, 'link', 'set', s.bridge, 'up']);
  }
  for (const h of hosts) {
    for (const ifc of h.interfaces) {
      // Created inside the switch namespace with the peer placed straight into the host: the root
      // namespace never sees either name, so runs cannot collide on interface names.
      steps.push(['ip', '-n', switchNs, 'link', 'add', ifc.switchPort, 'type', 'veth', 'peer', 'name', ifc.name, 'netns', h.ns, 'address', ifc.mac]);
      steps.push(['ip', '-n', switchNs, 'link', 'set', ifc.switchPort, 'master', segments[segmentIndex.get(ifc.segment)!]!.bridge]);
      steps.push(['ip', '-n', switchNs, 'link', 'set', ifc.switchPort, 'up']);
    }
  }
  for (const h of hosts) {
    for (const ifc of h.interfaces) {
      steps.push(['ip', '-n', h.ns, 'link', 'set', ifc.name, 'up']);
      if (ifc.ipv4Cidr) steps.push(['ip', '-n', h.ns, 'addr', 'add', ifc.ipv4Cidr, 'dev', ifc.name]);
      if (ifc.ipv6Cidr) steps.push(['ip', '-n', h.ns, 'addr', 'add', ifc.ipv6Cidr, 'dev', ifc.name, 'nodad']);
    }
    if (h.gateway4) steps.push(['ip', '-n', h.ns, 'route', 'add', 'default', 'via', h.gateway4]);
    if (h.gateway6) steps.push(['ip', '-n', h.ns, 'route', 'add', 'default', 'via', h.gateway6]); // family from the gateway
  }
  return { prefix, switchNs, namespaces, segments, hosts, steps };
}

function hostSysctls(h: HostSpec): string[] {
  const values: Record<string, string | number> = {
    'net.ipv6.conf.all.accept_dad': 0,
    'net.ipv6.conf.default.accept_dad': 0,
  };
  if (h.router) {
    Object.assign(values, {
      'net.ipv4.ip_forward': 1,
      'net.ipv6.conf.all.forwarding': 1,
      'net.ipv4.fib_multipath_hash_policy': 1,
      'net.ipv6.fib_multipath_hash_policy': 1,
    });
  }
  if (h.arpIgnore) Object.assign(values, { 'net.ipv4.conf.all.arp_ignore': 1, 'net.ipv4.conf.all.arp_announce': 2 });
  Object.assign(values, h.sysctls ?? {});
  return Object.entries(values).map(([k, v]) => `${k}=${v}`);
}

function parseCidr(text: string, family: 4 | 6, where: string): { address: string; length: number } {
  const [address = '', len, extra] = text.split('/');
  const length = Number(len);
  const max = family === 4 ? 32 : 128;
  const ok = family === 4 ? isIPv4(address) : isIPv6(address);
  if (!ok || extra !== undefined || len === undefined || !/^\d+$/.test(len) || length > max) {
    throw new TopologySpecError(`${where}: "${text}" is not an IPv${family} CIDR`);
  }
  return { address, length };
}

function interfaceAddress(text: string, segmentCidr: string | undefined, family: 4 | 6, where: string): { address: string; cidr: string } {
  if (text.includes('/')) {
    const { address } = parseCidr(text, family, where);
    return { address, cidr: text };
  }
  if (!(family === 4 ? isIPv4(text) : isIPv6(text))) throw new TopologySpecError(`${where}: "${text}" is not an IPv${family} address`);
  if (!segmentCidr) throw new TopologySpecError(`${where}: "${text}" has no prefix length and the segment has no IPv${family} subnet`);
  const { length } = parseCidr(segmentCidr, family, where);
  return { address: text, cidr: `${text}/${length}` };
}
