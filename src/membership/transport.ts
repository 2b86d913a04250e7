// What the membership engine needs from the network: fire-and-forget datagrams. The daemon uses
// udp-transport.ts; tests use memory-network.ts (virtual time, loss, partitions, delay).

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface Transport {
  /** Sends one datagram; never throws (a failure is the transport's to count and log). */
  send(address: string, port: number, bytes: Uint8Array): void;
  /** Registers the one receiver of incoming datagrams. */
  onMessage(cb: (bytes: Uint8Array, from: Endpoint) => void): void;
}
