// What a BGP session needs from BFD: a per-peer liveness signal it can subscribe to. The BFD engine
// (codec, RFC 5880 state machine, UDP transport) sits behind this boundary.
import type { BFDProfile } from '../../config/model.ts';

export type BfdState = 'AdminDown' | 'Down' | 'Init' | 'Up';

export interface BfdSessionHandle {
  state(): BfdState;
  /** Called on every state change; `Down` after `Up` means the path to the peer failed. */
  onStateChange(listener: (state: BfdState, diagnostic: string) => void): void;
  close(): void;
}

export interface BfdFactory {
  /** Single-hop session to peerAddress from localAddress (RFC 5881), with the profile's timers. */
  open(peerAddress: string, localAddress: string, profile: BFDProfile): BfdSessionHandle;
}
