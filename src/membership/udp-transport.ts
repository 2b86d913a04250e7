// The membership transport of the daemon: one UDP socket (node:dgram), default port 7946 on every
// address. An IPv6 bind address opens a dual-stack udp6 socket; IPv4 peers are then reached as
// v4-mapped addresses and reported back in their plain dotted form.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { Endpoint, Transport } from './transport.ts';

export const defaultMembershipUdpPort = 7946;

export interface UdpTransportOptions {
  /** Default 7946; 0 picks a free port (tests, benches). */
  readonly port?: number;
  /** Default 0.0.0.0; "::" for dual stack. */
  readonly address?: string;
  readonly log?: Logger;
}

export interface UdpTransportStats {
  sendErrors: number;
  receiveErrors: number;
}

export class UdpTransport implements Transport {
  private receiver: ((bytes: Uint8Array, from: Endpoint) => void) | undefined;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private closed = false;
  readonly stats: UdpTransportStats = { sendErrors: 0, receiveErrors: 0 };

  private constructor(
    private readonly socket: Socket,
    private readonly v6: boolean,
    private readonly log: Logger | undefined,
  ) {
    socket.on('message', (msg, rinfo) => {
      if (!this.receiver) return;
      const address = rinfo.family === 'IPv6' && rinfo.address.startsWith('::ffff:') && isIPv4(rinfo.address.slice(7)) ? rinfo.address.slice(7) : rinfo.address;
      this.receiver(msg, { address, port: rinfo.port });
    });
    socket.on('error', (err) => {
      this.stats.receiveErrors++;
      this.log?.warn({ err }, 'membership socket error');
    });
  }

  /** Binds the socket; rejects if the port is taken or the address is not local. */
  static open(options: UdpTransportOptions = {}): Promise<UdpTransport> {
    const address = options.address ?? '0.0.0.0';
    const v6 = isIPv6(address);
    if (!v6 && !isIPv4(address)) return Promise.reject(new RangeError(`bind address "${address}" is not an IP address`));
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(options.port ?? defaultMembershipUdpPort, address, () => {
        socket.off('error', onError);
        resolve(new UdpTransport(socket, v6, options.log));
      });
    });
  }

  /** The bound port (useful after binding port 0). */
  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  send(address: string, port: number, bytes: Uint8Array): void {
    if (this.closed) return;
    const to = this.v6 && isIPv4(address) ? `::ffff:${address}` : address;
    this.inFlight++;
    try {
      this.socket.send(bytes, port, to, (err) => this.sent(err, address, port));
    } catch (err) {
      this.sent(err as Error, address, port);
    }
  }

  onMessage(cb: (bytes: Uint8Array, from: Endpoint) => void): void {
    this.receiver = cb;
  }

  /** Waits (at most 1 s) for datagrams already handed to send(), then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private sent(err: Error | null | undefined, address: string, port: number): void {
    this.inFlight--;
    if (err) {
      this.stats.sendErrors++;
      this.log?.debug({ err, address, port }, 'membership send failed');
    }
    if (this.inFlight === 0 && this.drained) {
      const d = this.drained;
      this.drained = undefined;
      d();
    }
  }
}
