// Test support for the real-router tests: a BGPSpeaker running in a child process inside a lab host's
// namespace (test/bgp/speaker-child.ts), driven over its stdin/stdout.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BGPSpeakerOptions } from '../../src/bgp/bgp-speaker.ts';
import type { BgpPeerStatus } from '../../src/bgp/session.ts';
import type { BGPPeer } from '../../src/config/model.ts';
import type { LabProcess } from '../../src/lab/network/lab-process.ts';
import type { Topology } from '../../src/lab/network/topology.ts';
import type { ChildCommand, ChildRoute } from './speaker-child.ts';

const CHILD = fileURLToPath(new URL('./speaker-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type { ChildRoute };
export type SpeakerChildOptions = Omit<BGPSpeakerOptions, 'log' | 'clock' | 'transport' | 'bfd'>;

type Line = Record<string, unknown>;

export class LabSpeaker {
  private readonly lines: Line[] = [];
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  private latest: BgpPeerStatus[] = [];
  private readonly statusListeners = new Set<(status: BgpPeerStatus[], receivedAt: number) => void>();

  private constructor(
    readonly host: string,
    readonly proc: LabProcess,
  ) {
    createInterface({ input: proc.child.stdout! }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as Line;
        if (line.event === 'status' && Array.isArray(line.status)) {
          this.latest = line.status as BgpPeerStatus[];
          const at = Date.now();
          for (const l of this.statusListeners) l(this.latest, at);
          if (line.id === undefined) return; // pushed, not an answer: nobody waits for it
        }
        this.lines.push(line);
      } catch {
        // not ours
      }
      for (const w of this.waiters) w();
    });
    void proc.exited.then(() => {
      for (const w of this.waiters) w();
    });
  }

  static async start(topology: Topology, host: string, options: SpeakerChildOptions = {}): Promise<LabSpeaker> {
    const proc = topology.spawn(host, [process.execPath, '--import', 'tsx', CHILD, JSON.stringify(options)], {
      name: 'speaker',
      output: 'pipe',
      stdin: true,
      cwd: REPO_ROOT,
      env: { ...process.env, IRONLB_LOG_LEVEL: process.env.IRONLB_LOG_LEVEL ?? 'info' },
    });
    const s = new LabSpeaker(host, proc);
    await s.next((l) => l.event === 'ready', 15_000, 'the speaker child to start');
    return s;
  }

  private next(match: (l: Line) => boolean, timeoutMs: number, what: string): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const i = this.lines.findIndex(match);
        if (i >= 0) {
          done();
          resolve(this.lines.splice(i, 1)[0]!);
        } else if (!this.proc.running) {
          done();
          reject(new Error(`speaker on ${this.host} exited before ${what}: ${this.proc.tail(20)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what} on ${this.host}: ${this.proc.tail(20)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  private async request(cmd: Omit<ChildCommand, 'id'>, timeoutMs = 10_000): Promise<Line> {
    const id = this.nextId++;
    this.proc.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    const answer = await this.next((l) => l.id === id, timeoutMs, `answer to ${cmd.cmd}`);
    if (answer.event === 'error') throw new Error(`speaker on ${this.host}: ${String(answer.error)}`);
    return answer;
  }

  async apply(peers: readonly BGPPeer[], routes: Readonly<Record<string, readonly ChildRoute[]>>): Promise<void> {
    await this.request({ cmd: 'apply', peers, routes });
  }

  async status(): Promise<BgpPeerStatus[]> {
    const answer = await this.request({ cmd: 'status' });
    return answer.status as BgpPeerStatus[];
  }

  /** Polls status until `check` holds for the named peer; resolves with that peer's status. */
  async waitPeer(peer: string, check: (s: BgpPeerStatus) => boolean, what: string, timeoutMs = 15_000): Promise<BgpPeerStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = (await this.status()).find((x) => x.peer === peer);
      if (s && check(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (peer ${peer} on ${this.host}): ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Called with every status the child pushes, and the wall-clock time it arrived. Returns an unsubscribe. */
  onStatus(listener: (status: BgpPeerStatus[], receivedAt: number) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** The last status the child pushed (no round trip). */
  lastStatus(): BgpPeerStatus[] {
    return this.latest;
  }

  /** Graceful: the speaker withdraws, sends Cease and exits. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.proc.running) return;
    try {
      await this.request({ cmd: 'stop' }, timeoutMs);
    } catch {
      // fall through to the signal
    }
    await this.proc.stop({ timeoutMs: 3000 });
  }

  kill(): void {
    this.proc.kill();
  }
}

/** A BGPPeer for the lab: fast timers (hold 9 s, keepalive 3 s, connect 2 s). */
export function labPeer(overrides: Partial<BGPPeer> & Pick<BGPPeer, 'peerAddress'>): BGPPeer {
  return {
    name: 'router',
    myASN: 64512,
    peerASN: 64512,
    dynamicASN: undefined,
    peerFamily: overrides.peerAddress.includes(':') ? 'IPv6' : 'IPv4',
    sourceAddress: undefined,
    peerPort: 179,
    holdTimeSeconds: 9,
    keepaliveTimeSeconds: 3,
    connectTimeSeconds: 2,
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
