// The small interfaces the speaker drives its protocols through (MetalLB's "set config, set balancer"
// boundary, as desired state): each driver is told the whole desired state and applies the difference.
import type { BFDProfile, BGPPeer } from '../config/model.ts';
import type { IPAddress } from '../net/address.ts';
import type { BGPRoute } from './plan.ts';

export interface PeerStatus {
  readonly peer: string;
  readonly address: string;
  /** RFC 4271 state name: Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  readonly state: string;
  readonly since: number;
  readonly prefixesSent: number;
  readonly lastError: string | undefined;
  /** BFD state when a profile is set: Down, Init, Up, AdminDown. */
  readonly bfdState: string | undefined;
  /** UPDATE messages sent since the speaker started (cumulative). */
  readonly updatesSent?: number;
  /** Prefixes wanted on this session but not advertised (session down, no usable next hop). */
  readonly pendingPrefixes?: number;
}

export interface BGPDriver {
  /** Desired state: the peers selecting this node, and per peer name the routes to advertise. */
  apply(peers: readonly BGPPeer[], routes: ReadonlyMap<string, readonly BGPRoute[]>, bfdProfiles: ReadonlyMap<string, BFDProfile>): void;
  status(): readonly PeerStatus[];
  onStatusChange(listener: () => void): void;
  /** Graceful: withdraw everything and close sessions with a Cease NOTIFICATION. */
  stop(): Promise<void>;
}

export interface L2Target {
  readonly ip: IPAddress;
  readonly interfaces: readonly string[];
  /** Answer requests but send no gratuitous announcements: the IP is being handed over to another node. */
  readonly quiet?: boolean;
}

export interface L2Driver {
  setTargets(targets: readonly L2Target[]): void;
  answeredIPs(): { ip: string; interfaces: string[] }[];
  stop(): Promise<void>;
}

/** Liveness of speakers, from the membership protocol (or Kubernetes alone when it is off). */
export interface LivenessSource {
  alive(): ReadonlySet<string>;
  /** True when this node is cut off from every other speaker: it must stop Layer2 announcements. */
  isolated(): boolean;
  onChange(listener: () => void): void;
  /** Tell the others we are leaving on purpose (planned handover). */
  leave(): Promise<void>;
  stop(): Promise<void>;
}
