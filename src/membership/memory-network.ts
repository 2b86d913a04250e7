// An in-memory datagram network for membership tests in virtual time: per-datagram latency on an
// injected clock, random loss, cut links (partitions), slow senders and dead hosts.
import type { Clock } from '../clock/clock.ts';
import type { Endpoint, Transport } from './transport.ts';

export interface MemoryNetworkOptions {
  /** One-way latency of every datagram. Default 1 ms. */
  readonly latencyMs?: number;
  /** Probability that a datagram is lost. Default 0. */
  readonly loss?: number;
  /** Default Math.random; tests pass seededRandom(…). */
  readonly random?: () => number;
}

const key = (address: string, port: number): string => `${address}:${port}`;

/** mulberry32: a small deterministic PRNG for reproducible tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class MemoryNetwork {
  private readonly hosts = new Map<string, { endpoint: Endpoint; receive?: (bytes: Uint8Array, from: Endpoint) => void }>();
  private readonly cuts = new Set<string>();
  private readonly down = new Set<string>();
  private readonly slow = new Map<string, number>();
  private readonly random: () => number;
  private latencyMs: number;
  private loss: number;
  delivered = 0;
  dropped = 0;
  /** Largest datagram ever sent. */
  maxDatagramBytes = 0;

  constructor(
    private readonly clock: Clock,
    options: MemoryNetworkOptions = {},
  ) {
    this.latencyMs = options.latencyMs ?? 1;
    this.loss = options.loss ?? 0;
    this.random = options.random ?? Math.random;
  }

  /** A transport bound to address:port. */
  attach(address: string, port: number): Transport {
    const k = key(address, port);
    const host: { endpoint: Endpoint; receive?: (bytes: Uint8Array, from: Endpoint) => void } = { endpoint: { address, port } };
    this.hosts.set(k, host);
    return {
      send: (toAddress, toPort, bytes) => this.send(host.endpoint, toAddress, toPort, bytes),
      onMessage: (cb) => {
        host.receive = cb;
      },
    };
  }

  /** Injects raw bytes as if `from` had sent them (for auth/malformed tests). */
  inject(from: Endpoint, to: Endpoint, bytes: Uint8Array): void {
    this.send(from, to.address, to.port, bytes);
  }

  setLoss(p: number): void {
    this.loss = p;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Extra latency on everything `address` sends (a slow member). */
  setSlow(address: string, extraMs: number): void {
    if (extraMs > 0) this.slow.set(address, extraMs);
    else this.slow.delete(address);
  }

  /** No datagram reaches or leaves `address` (host crashed or unplugged). */
  setDown(address: string, isDown: boolean): void {
    if (isDown) this.down.add(address);
    else this.down.delete(address);
  }

  /** Cuts every link between a member of `a` and a member of `b` (addresses), both ways. */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) this.cuts.add(`${x}|${y}`).add(`${y}|${x}`);
  }

  /** Cuts `address` from every other attached address. */
  isolate(address: string): void {
    const others = [...new Set([...this.hosts.values()].map((h) => h.endpoint.address))].filter((a) => a !== address);
    this.partition([address], others);
  }

  /** Restores every cut link (not hosts set down, not slowness). */
  heal(): void {
    this.cuts.clear();
  }

  private send(from: Endpoint, toAddress: string, toPort: number, bytes: Uint8Array): void {
    this.maxDatagramBytes = Math.max(this.maxDatagramBytes, bytes.length);
    if (this.down.has(from.address) || this.cuts.has(`${from.address}|${toAddress}`) || this.random() < this.loss) {
      this.dropped++;
      return;
    }
    const copy = Uint8Array.from(bytes);
    const delay = this.latencyMs + (this.slow.get(from.address) ?? 0);
    this.clock.setTimer(delay, () => {
      const host = this.hosts.get(key(toAddress, toPort));
      if (!host?.receive || this.down.has(toAddress) || this.cuts.has(`${from.address}|${toAddress}`)) {
        this.dropped++;
        return;
      }
      this.delivered++;
      host.receive(copy, from);
    });
  }
}
