// IPv6 multicast group membership at the IP layer (IPV6_JOIN_GROUP), next to the link-layer membership a
// packet socket takes. The packet socket's membership only opens the NIC's MAC filter; joining at the IP
// layer also makes the kernel send MLD reports (and answer MLD queries), so a switch with MLD snooping
// keeps forwarding Neighbor Solicitations for the VIP to this node. MetalLB gets this from its ICMPv6
// socket's JoinGroup.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from '../log/logger.ts';

/** IP-layer membership of IPv6 multicast groups, per interface. Never throws: failures are logged. */
export interface Ipv6GroupMembership {
  join(group: string, interfaceName: string): void;
  leave(group: string, interfaceName: string): void;
  close(): Promise<void>;
}

/** Does nothing (tests, or an operator who does not want MLD reports). */
export const noIpv6GroupMembership: Ipv6GroupMembership = {
  join() {},
  leave() {},
  close: async () => {},
};

type Op = { readonly join: boolean; readonly group: string; readonly interfaceName: string };

/**
 * Memberships on one unconnected UDP/IPv6 socket bound to an ephemeral port (nothing is ever sent to
 * it). The bind is asynchronous: operations made before it completes are queued and applied in order.
 */
export class KernelIpv6GroupMembership implements Ipv6GroupMembership {
  readonly #log: Logger;
  readonly #socket: Socket;
  #state: 'binding' | 'ready' | 'failed' | 'closed' = 'binding';
  readonly #queue: Op[] = [];

  constructor(log: Logger) {
    this.#log = log;
    this.#socket = createSocket({ type: 'udp6', reuseAddr: false });
    this.#socket.on('error', (err) => {
      if (this.#state === 'binding') {
        this.#state = 'failed';
        this.#queue.length = 0;
        this.#log.warn({ err }, 'cannot open a UDP/IPv6 socket: IPv6 groups are joined at the link layer only (no MLD reports)');
      } else {
        this.#log.warn({ err }, 'multicast membership socket error');
      }
    });
    this.#socket.bind({ port: 0, address: '::' }, () => {
      if (this.#state !== 'binding') return;
      this.#state = 'ready';
      this.#socket.unref();
      for (const op of this.#queue.splice(0)) this.#apply(op);
    });
  }

  join(group: string, interfaceName: string): void {
    this.#do({ join: true, group, interfaceName });
  }

  leave(group: string, interfaceName: string): void {
    this.#do({ join: false, group, interfaceName });
  }

  close(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    const wasOpen = this.#state !== 'failed';
    this.#state = 'closed';
    this.#queue.length = 0;
    if (!wasOpen) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  #do(op: Op): void {
    if (this.#state === 'binding') this.#queue.push(op);
    else if (this.#state === 'ready') this.#apply(op);
  }

  #apply({ join, group, interfaceName }: Op): void {
    try {
      // libuv turns "::%eth0" into the interface index (ipv6mr_interface).
      if (join) this.#socket.addMembership(group, `::%${interfaceName}`);
      else this.#socket.dropMembership(group, `::%${interfaceName}`);
    } catch (err) {
      // E.g. IPv6 disabled on that interface, or the interface gone; the packet socket still listens.
      if (join) this.#log.warn({ err, group, interface: interfaceName }, 'cannot join IPv6 group at the IP layer (no MLD reports)');
      else this.#log.debug({ err, group, interface: interfaceName }, 'cannot leave IPv6 group');
    }
  }
}
