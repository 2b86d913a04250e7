// The lab layout the BGP integration tests and `ironlb lab` share:
//
//   segment "lan" 10.99.0.0/24 fd99::/64              segment "far" 10.98.0.0/24 fd98::/64
//   router  eth0 10.99.0.1   fd99::1   ──(forwards)──  router eth1 10.98.0.1  fd98::1
//   node<i> eth0 10.99.0.1<i> fd99::1<i> (i = 1..9)     far    eth0 10.98.0.2  fd98::2
//   client  eth0 10.99.0.100 fd99::100
//
// Every host but the router routes by default via the router. The far client reaches a service only
// through the router, i.e. only if BGP put a route there.
import type { HostSpec, TopologySpec } from './topology-plan.ts';

export interface StandardLabOptions {
  /** Kubernetes "nodes" (speakers), 1–9 (default 2). */
  readonly nodes?: number;
  /** A client on the nodes' segment (Layer2 tests), default true. */
  readonly client?: boolean;
  /** A client behind the router on its own segment, default true. */
  readonly farClient?: boolean;
  /** arp_ignore=1/arp_announce=2 on the nodes (service IPs on lo must not be answered by the kernel). */
  readonly arpIgnoreOnNodes?: boolean;
}

export const LAN = { name: 'lan', ipv4: '10.99.0.0/24', ipv6: 'fd99::/64', router4: '10.99.0.1', router6: 'fd99::1' } as const;
export const FAR = { name: 'far', ipv4: '10.98.0.0/24', ipv6: 'fd98::/64', router4: '10.98.0.1', router6: 'fd98::1' } as const;

export const nodeName = (i: number): string => `node${i}`;
export const nodeIPv4 = (i: number): string => `10.99.0.${10 + i}`;
export const nodeIPv6 = (i: number): string => `fd99::${10 + i}`;

export function standardLabSpec(options: StandardLabOptions = {}): TopologySpec {
  const nodes = options.nodes ?? 2;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new RangeError(`nodes must be 1..9, got ${nodes}`);
  const viaRouter = { gateway4: LAN.router4, gateway6: LAN.router6 };
  const hosts: HostSpec[] = [
    {
      name: 'router',
      router: true,
      interfaces: [
        { segment: LAN.name, ipv4: LAN.router4, ipv6: LAN.router6 },
        { segment: FAR.name, ipv4: FAR.router4, ipv6: FAR.router6 },
      ],
    },
  ];
  for (let i = 1; i <= nodes; i++) {
    hosts.push({
      name: nodeName(i),
      interfaces: [{ segment: LAN.name, ipv4: nodeIPv4(i), ipv6: nodeIPv6(i) }],
      ...viaRouter,
      ...(options.arpIgnoreOnNodes && { arpIgnore: true }),
    });
  }
  if (options.client ?? true) {
    hosts.push({ name: 'client', interfaces: [{ segment: LAN.name, ipv4: '10.99.0.100', ipv6: 'fd99::100' }], ...viaRouter });
  }
  if (options.farClient ?? true) {
    hosts.push({
      name: 'far',
      interfaces: [{ segment: FAR.name, ipv4: '10.98.0.2', ipv6: 'fd98::2' }],
      gateway4: FAR.router4,
      gateway6: FAR.router6,
    });
  }
  return {
    segments: [
      { name: LAN.name, ipv4: LAN.ipv4, ipv6: LAN.ipv6 },
      { name: FAR.name, ipv4: FAR.ipv4, ipv6: FAR.ipv6 },
    ],
    hosts,
  };
}
