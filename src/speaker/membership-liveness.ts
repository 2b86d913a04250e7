// Who is alive, for the Layer2 election: the membership protocol (fast, sub-second) as the first source,
// Kubernetes (Node Ready) as the second: a node Kubernetes reports NotReady is not a candidate even if
// gossip still hears it, and only nodes Kubernetes reports Ready are on the membership roster.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { WatchCache } from '../k8s/watch-cache.ts';
import type { Seed } from '../membership/membership.ts';
import type { LivenessSource } from './drivers.ts';
import { nodeInternalIP, nodeReady, type NodeObject } from './inputs.ts';

/** The part of Membership this adapter uses. */
export interface MembershipLike {
  start(): void;
  stop(): void;
  leave(): Promise<void>;
  alive(): ReadonlySet<string>;
  isolated(): boolean;
  /** False until the first exchange with another member: until then it sees only itself. */
  joined(): boolean;
  onChange(cb: (alive: ReadonlySet<string>) => void): unknown;
  onIsolationChange(cb: (isolated: boolean) => void): unknown;
}

export interface MembershipLivenessOptions {
  readonly log: Logger;
  readonly selfName: string;
  readonly port: number;
  readonly createMembership: (seeds: () => readonly Seed[]) => MembershipLike;
  readonly onClose?: () => void;
}

/** Other speakers' membership endpoints: every other Ready node's InternalIP. */
export function rosterFromNodes(nodes: readonly NodeObject[], selfName: string, port: number): Seed[] {
  const out: Seed[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name;
    if (!name || name === selfName || !nodeReady(n)) continue;
    const address = nodeInternalIP(n, 'IPv4') ?? nodeInternalIP(n, 'IPv6');
    if (address) out.push({ name, address, port });
  }
  return out.sort((a, b) => a.name!.localeCompare(b.name!));
}

export class MembershipLiveness implements LivenessSource {
  private readonly nodes: WatchCache<NodeObject & KubernetesObject>;
  private readonly membership: MembershipLike;
  private readonly listeners: (() => void)[] = [];

  constructor(
    kc: KubeConfig,
    private readonly opts: MembershipLivenessOptions,
  ) {
    this.nodes = new WatchCache(kc, { apiVersion: 'v1', plural: 'nodes' }, opts.log);
    this.membership = opts.createMembership(() => rosterFromNodes(this.nodes.list(), opts.selfName, opts.port));
    const notify = () => {
      for (const l of this.listeners) l();
    };
    this.membership.onChange(notify);
    this.membership.onIsolationChange(notify);
    this.nodes.onChange(notify);
  }

  async start(): Promise<void> {
    await this.nodes.start();
    this.membership.start();
  }

  alive(): ReadonlySet<string> {
    const notReady = new Set(
      this.nodes
        .list()
        .filter((n) => !nodeReady(n))
        .map((n) => n.metadata?.name ?? ''),
    );
    const out = new Set<string>();
    for (const name of this.membership.alive()) if (!notReady.has(name) || name === this.opts.selfName) out.add(name);
    return out;
  }

  /** Not joined yet counts as isolated: a fresh speaker that sees only itself would claim every IP. */
  isolated(): boolean {
    return !this.membership.joined() || this.membership.isolated();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  leave(): Promise<void> {
    return this.membership.leave();
  }

  async stop(): Promise<void> {
    this.membership.stop();
    this.opts.onClose?.();
    await this.nodes.stop();
  }
}
