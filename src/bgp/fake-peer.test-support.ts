// Test support for the session's unit tests: an in-memory transport (connections are pairs of pipes that
// deliver on the microtask queue) and a scripted BGP peer built from the codec. Not used by production code.
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock/clock.ts';
import type { BGPPeer } from '../config/model.ts';
import type { IPFamily } from '../net/address.ts';
import {
  afiOf,
  BgpParser,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  fourOctetAsCapability,
  multiprotocolCapability,
  routeRefreshCapability,
  Safi,
  type BgpMessage,
  type NotificationInput,
  type NotificationMessage,
  type OpenInput,
  type OpenMessage,
  type UpdateMessage,
} from './codec/index.ts';
import type { BgpConnection, BgpTransport, ConnectRequest } from './transport.ts';

/** Lets every queued microtask and immediate run (deliveries, promise chains). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** One end of an in-memory connection. */
export class MemoryConnection extends EventEmitter implements BgpConnection {
  other!: MemoryConnection;
  destroyed = false;
  private ended = false;
  /** While true, everything written in either direction is lost (a cut link). */
  blackhole = false;

  constructor(
    readonly localAddress: string,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }

  write(data: Uint8Array): boolean {
    if (this.destroyed || this.ended) return false;
    if (this.blackhole || this.other.blackhole) return true;
    const copy = Buffer.from(data);
    queueMicrotask(() => {
      if (!this.other.destroyed) this.other.emit('data', copy);
    });
    return true;
  }

  end(): void {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    queueMicrotask(() => this.destroy());
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => {
      this.emit('close');
      this.other.destroy();
    });
  }
}

export function memoryPair(a: string, b: string, port = 179): [MemoryConnection, MemoryConnection] {
  const x = new MemoryConnection(a, b, port);
  const y = new MemoryConnection(b, a, 40000);
  x.other = y;
  y.other = x;
  return [x, y];
}

export interface Attempt {
  readonly at: number;
  readonly request: ConnectRequest;
}

/**
 * A transport whose connect() asks `answer`: return a FakePeer to connect to it, 'refuse' to reject at
 * once (ECONNREFUSED), or 'hang' to never answer (until the session aborts).
 */
export class MemoryTransport implements BgpTransport {
  readonly attempts: Attempt[] = [];
  readonly ttls: number[] = [];
  answer: (request: ConnectRequest) => FakePeer | 'refuse' | 'hang' = () => 'refuse';
  localAddress = '10.0.0.1';
  /** Every peer handed out, in order. */
  readonly peers: FakePeer[] = [];

  constructor(private readonly clock: Clock) {}

  connect(request: ConnectRequest): Promise<BgpConnection> {
    this.attempts.push({ at: this.clock.now(), request });
    const answer = this.answer(request);
    if (answer === 'refuse') {
      const err = Object.assign(new Error(`connect ECONNREFUSED ${request.peer}:${request.port}`), { code: 'ECONNREFUSED' });
      return Promise.reject(err);
    }
    if (answer === 'hang') {
      return new Promise((_resolve, reject) => {
        request.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true });
      });
    }
    return Promise.resolve(answer.conn.other);
  }

  setTtl(_conn: BgpConnection, ttl: number): void {
    this.ttls.push(ttl);
  }

  /** A peer the next connect() reaches (the session's end is local, `peerAddress` remote). */
  peer(peerAddress: string, options: FakePeerOptions = {}): FakePeer {
    const [, remote] = memoryPair(options.localAddress ?? this.localAddress, peerAddress);
    const p = new FakePeer(remote, options);
    this.peers.push(p);
    return p;
  }

  /** Connects every attempt to a new FakePeer. */
  acceptAll(options: FakePeerOptions = {}): void {
    this.answer = (req) => this.peer(req.peer, options);
  }
}

export interface FakePeerOptions {
  readonly localAddress?: string;
  /** Decode the session's UPDATEs with 4-octet ASNs (default: when both OPENs carry the capability). */
  readonly fourOctetAs?: boolean;
}

/** The router side: records what the session sends and sends what the test says. */
export class FakePeer {
  readonly received: BgpMessage[] = [];
  readonly parser: BgpParser;
  closed = false;
  private sentFourOctet = false;

  constructor(
    readonly conn: MemoryConnection,
    private readonly options: FakePeerOptions = {},
  ) {
    this.parser = new BgpParser();
    conn.on('data', (chunk: Buffer) => {
      const err = this.parser.feed(chunk, (m) => {
        this.received.push(m);
        if (m.type === 'open') this.updateFourOctet();
      });
      if (err) throw err;
    });
    conn.on('close', () => (this.closed = true));
  }

  private updateFourOctet(): void {
    const theirs = this.open()?.capabilities.some((c) => c.kind === 'four-octet-as') ?? false;
    this.parser.options.fourOctetAs = this.options.fourOctetAs ?? (theirs && this.sentFourOctet);
  }

  /** Sends an OPEN; defaults: AS 64512, hold 90, id 10.0.0.254, MP v4+v6, route refresh, 4-octet AS. */
  sendOpen(input: Partial<OpenInput> = {}): void {
    const asn = input.asn ?? 64512;
    const open: OpenInput = {
      asn,
      holdTime: input.holdTime ?? 90,
      bgpId: input.bgpId ?? 0x0a0000fe,
      capabilities: input.capabilities ?? [multiprotocolCapability('IPv4'), multiprotocolCapability('IPv6'), routeRefreshCapability(), fourOctetAsCapability(asn)],
    };
    this.sentFourOctet = open.capabilities.some((c) => c.kind === 'four-octet-as');
    this.updateFourOctet();
    this.conn.write(encodeOpen(open));
  }

  sendKeepalive(): void {
    this.conn.write(encodeKeepalive());
  }

  sendNotification(n: NotificationInput): void {
    this.conn.write(encodeNotification(n));
  }

  sendRouteRefresh(family: IPFamily): void {
    this.conn.write(encodeRouteRefresh({ afi: afiOf(family), safi: Safi.Unicast }));
  }

  sendRaw(data: Buffer): void {
    this.conn.write(data);
  }

  close(): void {
    this.conn.end();
  }

  open(): OpenMessage | undefined {
    return this.received.find((m): m is OpenMessage => m.type === 'open');
  }

  updates(): UpdateMessage[] {
    return this.received.filter((m): m is UpdateMessage => m.type === 'update');
  }

  notifications(): NotificationMessage[] {
    return this.received.filter((m): m is NotificationMessage => m.type === 'notification');
  }

  count(type: BgpMessage['type']): number {
    return this.received.filter((m) => m.type === type).length;
  }

  /** Removes and returns everything received so far. */
  take(): BgpMessage[] {
    return this.received.splice(0);
  }
}

/** A BGPPeer with test defaults: iBGP 64512 to 10.0.0.2, hold 90 s, keepalive 30 s. */
export function testPeer(overrides: Partial<BGPPeer> = {}): BGPPeer {
  return {
    name: 'router',
    myASN: 64512,
    peerASN: 64512,
    dynamicASN: undefined,
    peerAddress: '10.0.0.2',
    peerFamily: 'IPv4',
    sourceAddress: undefined,
    peerPort: 179,
    holdTimeSeconds: 90,
    keepaliveTimeSeconds: 30,
    connectTimeSeconds: undefined,
    routerID: undefined,
    nodeSelectors: [],
    password: undefined,
    bfdProfile: undefined,
    ebgpMultiHop: false,
    vrf: undefined,
    enableGracefulRestart: false,
    ...overrides,
  };
}
