// Updates waiting to be piggybacked on outgoing messages (SWIM's dissemination component). One entry
// per member: a newer update about a member replaces the queued one. Each message takes the updates sent
// the fewest times first (newest first among equals), as many as fit its byte budget; an update is dropped
// after `limit` transmissions (λ·log n, computed by the caller from the cluster size).
import { encodedUpdateSize, type Update } from './codec.ts';

interface Entry {
  readonly update: Update;
  readonly size: number;
  readonly order: number;
  transmits: number;
}

export class GossipQueue {
  private readonly entries = new Map<string, Entry>();
  private order = 0;

  enqueue(update: Update): void {
    this.entries.set(update.name, { update, size: encodedUpdateSize(update), order: this.order++, transmits: 0 });
  }

  /** Updates for one message, at most `budgetBytes` of them; counts one transmission each. */
  take(budgetBytes: number, limit: number): Update[] {
    if (this.entries.size === 0 || budgetBytes <= 0) return [];
    const sorted = [...this.entries.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order);
    const out: Update[] = [];
    let left = budgetBytes;
    for (const e of sorted) {
      if (e.size > left) continue;
      left -= e.size;
      out.push(e.update);
      e.transmits++;
      if (e.transmits >= limit) this.entries.delete(e.update.name);
    }
    return out;
  }

  /** The queued update about `name`, if any. */
  get(name: string): Update | undefined {
    return this.entries.get(name)?.update;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
