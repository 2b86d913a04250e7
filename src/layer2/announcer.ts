// The Layer2 announcer a speaker drives. Given the IPs this node must answer for (and on which
// interfaces), it answers ARP requests and IPv6 Neighbor Solicitations for exactly those IPs with the
// interface's MAC, and sends a burst of gratuitous ARP / unsolicited Neighbor Advertisements whenever an
// IP starts being answered on an interface (takeover).
//
// Desired state, then diff: setTargets() replaces the wanted set; reconcile() scans the interfaces,
// derives per interface the sockets (one ARP, one IPv6 with a Neighbor Solicitation filter), the
// multicast memberships and the set of answered IPs, and applies the difference. Frame handlers read the
// answered set of their interface, so an IP removed by setTargets() is not answered from then on.
// Interfaces are re-scanned on every setTargets() and periodically, so one that comes up later is used.
import type { Clock, Timer } from '../clock/clock.ts';
import type { Logger } from '../log/logger.ts';
import { formatIP, type IPAddress } from '../net/address.ts';
import { neighborSolicitationFilter, PacketSocket, type PacketSocketOptions, type PacketType } from '../net/packet-socket.ts';
import { KernelIpv6GroupMembership, type Ipv6GroupMembership } from './announcer-multicast.ts';
import { decodeArpFrame, encodeArpReplyFrame, encodeGratuitousArpReplyFrame, encodeGratuitousArpRequestFrame } from './arp.ts';
import { describeDecodeError, type DecodeError } from './decode-result.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, isMulticastMac, ZERO_MAC, type MacAddress } from './ethernet.ts';
import {
  DEFAULT_EXCLUDED_INTERFACES,
  ineligibility,
  inspectSystemInterface,
  isExcludedName,
  systemInterfaceNames,
  type LinkFacts,
} from './interfaces.ts';
import {
  decodeNdpFrame,
  encodeNeighborAdvertisementReplyFrame,
  encodeUnsolicitedNeighborAdvertisementFrame,
  solicitedNodeMac,
  solicitedNodeMulticast,
} from './ndp.ts';

export { DEFAULT_EXCLUDED_INTERFACES } from './interfaces.ts';

/** One IP to answer for. */
export interface L2Target {
  readonly ip: IPAddress;
  /** Interface names to answer on; empty = every eligible interface. Ineligible names are skipped. */
  readonly interfaces: readonly string[];
  /**
   * Answer requests for it but send no gratuitous ARP/NA (and stop a burst in progress): for an IP this
   * node is handing over to another one. Its announcements would pull clients back from the new owner.
   */
  readonly quiet?: boolean;
}

/** Counters (metallb_layer2_*). Only IPs being answered appear as `ip`; `reason` is a decode layer. */
export interface L2Metrics {
  requestReceived(ip: string): void;
  responseSent(ip: string): void;
  /** Once per gratuitous frame: an ARP round is a request and a reply (2), an IPv6 round one NA. */
  gratuitousSent(ip: string): void;
  /** A malformed frame was dropped; `reason` is one of ethernet|arp|ipv6|icmpv6|ndp (a bounded label). */
  badFrame(iface: string, reason: string): void;
}

/** The part of PacketSocket the announcer uses (the injection seam for tests). */
export interface L2Socket {
  onFrame(listener: (frame: Buffer, packetType: PacketType) => void): unknown;
  onError(listener: (error: Error & { code?: string | undefined }) => void): unknown;
  send(frame: Uint8Array): void;
  join(mac: MacAddress): void;
  leave(mac: MacAddress): void;
  close(): void;
}

export type OpenL2Socket = (interfaceName: string, etherType: number, options: PacketSocketOptions) => L2Socket;

export interface Layer2AnnouncerOptions {
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: L2Metrics;
  /** Interface names never used (matched with String.search). Default DEFAULT_EXCLUDED_INTERFACES. */
  readonly excludeInterfaces?: readonly RegExp[];
  /**
   * When each gratuitous round of a burst goes out, in ms after an IP starts being answered on an
   * interface; non-decreasing. Default [0, 1100, 2200, 3300, 4400]: repeats more than 1 s apart, since
   * Linux ignores a second ARP update of one neighbour within its locktime (1 s).
   */
  readonly gratuitousDelaysMs?: readonly number[];
  /** Periodic gratuitous round for every answered IP; 0 (default) = off. */
  readonly refreshIntervalMs?: number;
  /** Interface re-scan period. Default 5000. */
  readonly rescanIntervalMs?: number;
  /** Interface names of this namespace. Default: /sys/class/net. */
  readonly listInterfaces?: () => string[];
  /** Facts about one interface, undefined if it does not exist. Default: the native addon + sysfs. */
  readonly inspectInterface?: (name: string) => LinkFacts | undefined;
  /** Default: PacketSocket.open. */
  readonly openSocket?: OpenL2Socket;
  /** IP-layer joins of solicited-node groups (MLD reports). Default: a UDP/IPv6 socket, made on first use. */
  readonly ipv6Groups?: Ipv6GroupMembership;
}

export const DEFAULT_GRATUITOUS_DELAYS_MS: readonly number[] = [0, 1100, 2200, 3300, 4400];
export const DEFAULT_RESCAN_INTERVAL_MS = 5000;

interface Wanted {
  readonly ip: IPAddress;
  readonly text: string;
  readonly v6: boolean;
  /** undefined = every eligible interface */
  readonly interfaces: ReadonlySet<string> | undefined;
  readonly quiet: boolean;
}

/** What is open on one interface. Replaced (closed and opened again) if its ifindex or MAC changes. */
interface Link {
  readonly name: string;
  readonly log: Logger;
  facts: LinkFacts;
  arp: L2Socket | undefined;
  ndp: L2Socket | undefined;
  /** IPs answered here: only those whose family's socket is open. */
  answers: ReadonlySet<string>;
  /** Those of `answers` that are answered but never announced (quiet targets). */
  quiet: ReadonlySet<string>;
  /** Link-layer memberships of the IPv6 socket. */
  readonly macGroups: Set<MacAddress>;
  /** IP-layer memberships (solicited-node groups). */
  readonly ipGroups: Set<string>;
  sendError: string | undefined;
}

const compareIP = (a: IPAddress, b: IPAddress): number =>
  a.family !== b.family ? (a.family === 'IPv4' ? -1 : 1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0;

const errorCode = (err: unknown): string => (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));

export class Layer2Announcer {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #metrics: L2Metrics;
  readonly #exclude: readonly RegExp[];
  readonly #delays: readonly number[];
  readonly #refreshMs: number;
  readonly #rescanMs: number;
  readonly #listInterfaces: () => string[];
  readonly #inspect: (name: string) => LinkFacts | undefined;
  readonly #open: OpenL2Socket;
  #ipv6Groups: Ipv6GroupMembership | undefined;

  #targets = new Map<string, Wanted>();
  readonly #links = new Map<string, Link>();
  readonly #bursts = new Map<string, Timer>();
  /** Eligible interfaces of the last successful scan. */
  #eligible = new Map<string, LinkFacts>();
  /** Why other interfaces are not used (for log messages). */
  #ineligible = new Map<string, string>();
  /** Problems already logged, so a 5 s re-scan does not repeat them. */
  #reported = new Set<string>();
  #rescanTimer: Timer | undefined;
  #refreshTimer: Timer | undefined;
  #stopped = false;

  constructor(opts: Layer2AnnouncerOptions) {
    this.#log = opts.log;
    this.#clock = opts.clock;
    this.#metrics = opts.metrics;
    this.#exclude = opts.excludeInterfaces ?? DEFAULT_EXCLUDED_INTERFACES;
    this.#delays = opts.gratuitousDelaysMs ?? DEFAULT_GRATUITOUS_DELAYS_MS;
    this.#refreshMs = opts.refreshIntervalMs ?? 0;
    this.#rescanMs = opts.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS;
    this.#listInterfaces = opts.listInterfaces ?? systemInterfaceNames;
    this.#inspect = opts.inspectInterface ?? inspectSystemInterface;
    this.#open = opts.openSocket ?? ((name, etherType, options) => PacketSocket.open(name, etherType, options));
    this.#ipv6Groups = opts.ipv6Groups;
    this.#delays.forEach((d, i) => {
      if (!Number.isFinite(d) || d < 0 || (i > 0 && d < this.#delays[i - 1]!)) {
        throw new RangeError(`gratuitousDelaysMs must be non-negative and non-decreasing: [${this.#delays.join(', ')}]`);
      }
    });
    if (!(this.#rescanMs > 0)) throw new RangeError(`rescanIntervalMs ${this.#rescanMs} must be positive`);
    if (!(this.#refreshMs >= 0)) throw new RangeError(`refreshIntervalMs ${this.#refreshMs} must be 0 or positive`);
    this.#scheduleRescan();
    this.#scheduleRefresh();
  }

  /**
   * Desired state: exactly these IPs are answered, on these interfaces. An IP newly answered on an
   * interface gets the gratuitous burst there; a removed IP is not answered from now on. Idempotent.
   */
  setTargets(targets: readonly L2Target[]): void {
    if (this.#stopped) throw new Error('Layer2Announcer is stopped');
    const next = new Map<string, Wanted>();
    for (const t of targets) {
      const text = formatIP(t.ip);
      const prev = next.get(text);
      // The same IP twice (two advertisements): union of interfaces; "all" wins.
      let interfaces: Set<string> | undefined = t.interfaces.length === 0 ? undefined : new Set(t.interfaces);
      if (prev) interfaces = prev.interfaces === undefined || interfaces === undefined ? undefined : new Set([...prev.interfaces, ...interfaces]);
      // Quiet only if every mention of the IP is quiet.
      const quiet = (prev?.quiet ?? true) && t.quiet === true;
      next.set(text, { ip: t.ip, text, v6: t.ip.family === 'IPv6', interfaces, quiet });
    }
    this.#targets = next;
    this.#reconcile();
  }

  /** One gratuitous round now, on every interface answering them, for these IPs (default: all answered but quiet ones). */
  announceNow(ips?: readonly IPAddress[]): void {
    if (this.#stopped) return;
    const only = ips ? new Set(ips.map(formatIP)) : undefined;
    for (const link of this.#links.values()) {
      for (const ip of link.answers) if ((!only || only.has(ip)) && !link.quiet.has(ip)) this.#sendGratuitous(link, ip);
    }
  }

  /**
   * Every target with the interfaces it is answered on, sorted by IP (IPv4 first). An IP with no
   * interface is wanted but answered nowhere (no eligible interface, or its socket could not open).
   */
  answeredIPs(): { ip: string; interfaces: string[] }[] {
    return [...this.#targets.values()]
      .sort((a, b) => compareIP(a.ip, b.ip))
      .map((t) => ({
        ip: t.text,
        interfaces: [...this.#links.values()].filter((l) => l.answers.has(t.text)).map((l) => l.name).sort(),
      }));
  }

  /** Closes every socket and membership and cancels every timer. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#rescanTimer?.cancel();
    this.#refreshTimer?.cancel();
    for (const link of this.#links.values()) this.#closeLink(link);
    this.#links.clear();
    this.#targets.clear();
    for (const t of this.#bursts.values()) t.cancel();
    this.#bursts.clear();
    await this.#ipv6Groups?.close();
  }

  // ---------------------------------------------------------------------------------------------------
  // Reconciliation

  #reconcile(): void {
    if (this.#stopped) return;
    if (this.#targets.size === 0 && this.#links.size === 0) return; // nothing to scan for
    this.#scan();
    const reported = new Set<string>();
    const report = (key: string, log: () => void): void => {
      reported.add(key);
      if (!this.#reported.has(key)) log();
    };

    const desired = new Map<string, Wanted[]>();
    for (const t of this.#targets.values()) {
      let used = 0;
      for (const name of t.interfaces ?? this.#eligible.keys()) {
        if (!this.#eligible.has(name)) {
          const reason = this.#ineligible.get(name) ?? 'does not exist';
          report(`${t.text} ${name} ${reason}`, () =>
            this.#log.warn({ ip: t.text, interface: name, reason }, 'interface chosen for the IP is not usable'),
          );
          continue;
        }
        let list = desired.get(name);
        if (!list) desired.set(name, (list = []));
        list.push(t);
        used++;
      }
      if (used === 0) {
        report(`${t.text} nowhere`, () => this.#log.warn({ ip: t.text }, 'no usable interface for the IP: it is not answered'));
      }
    }

    for (const [name, link] of this.#links) {
      const facts = this.#eligible.get(name);
      if (!desired.has(name) || !facts || facts.ifindex !== link.facts.ifindex || facts.mac !== link.facts.mac) {
        this.#closeLink(link);
        this.#links.delete(name);
      }
    }
    for (const [name, wanted] of desired) {
      const facts = this.#eligible.get(name)!;
      let link = this.#links.get(name);
      if (link) link.facts = facts;
      else {
        link = {
          name,
          log: this.#log.child({ interface: name }),
          facts,
          arp: undefined,
          ndp: undefined,
          answers: new Set(),
          quiet: new Set(),
          macGroups: new Set(),
          ipGroups: new Set(),
          sendError: undefined,
        };
        this.#links.set(name, link);
      }
      this.#applyLink(link, wanted, report);
      if (!link.arp && !link.ndp) this.#links.delete(name);
    }
    this.#reported = reported;
  }

  /** Refreshes #eligible and #ineligible; on a listing failure keeps the previous view. */
  #scan(): void {
    let names: string[];
    try {
      names = this.#listInterfaces();
    } catch (err) {
      this.#log.error({ err }, 'cannot list network interfaces; keeping the previous view');
      return;
    }
    const eligible = new Map<string, LinkFacts>();
    const ineligible = new Map<string, string>();
    for (const name of names) {
      if (isExcludedName(name, this.#exclude)) {
        ineligible.set(name, 'excluded by name');
        continue;
      }
      let facts: LinkFacts | undefined;
      try {
        facts = this.#inspect(name);
      } catch (err) {
        ineligible.set(name, `cannot inspect: ${errorCode(err)}`);
        continue;
      }
      if (!facts) continue; // gone since the listing
      const reason = ineligibility(facts, this.#exclude);
      if (reason) ineligible.set(name, reason);
      else eligible.set(name, facts);
    }
    this.#eligible = eligible;
    this.#ineligible = ineligible;
  }

  #applyLink(link: Link, wanted: readonly Wanted[], report: (key: string, log: () => void) => void): void {
    link.arp = this.#ensureSocket(link, ETHERTYPE_ARP, wanted.some((w) => !w.v6), link.arp, report);
    const hadNdp = link.ndp !== undefined;
    link.ndp = this.#ensureSocket(link, ETHERTYPE_IPV6, wanted.some((w) => w.v6), link.ndp, report);
    if (hadNdp && !link.ndp) link.macGroups.clear(); // memberships went with the socket

    const answers = new Set(wanted.filter((w) => (w.v6 ? link.ndp : link.arp)).map((w) => w.text));
    const v6 = [...answers].filter((ip) => ip.includes(':'));

    // Link-layer memberships: the solicited-node MAC of every answered IPv6 address. Several addresses
    // can share one MAC (same low 24 bits): a set, so it is joined once and left when none needs it.
    const macs = new Set(v6.map(solicitedNodeMac));
    if (link.ndp) {
      for (const mac of link.macGroups) {
        if (macs.has(mac)) continue;
        try {
          link.ndp.leave(mac);
        } catch (err) {
          link.log.warn({ err, group: mac }, 'cannot leave multicast MAC');
        }
        link.macGroups.delete(mac);
      }
      for (const mac of macs) {
        if (link.macGroups.has(mac)) continue;
        try {
          link.ndp.join(mac);
          link.macGroups.add(mac);
        } catch (err) {
          // Unicast solicitations (NUD) are still answered; the join is retried on the next re-scan.
          report(`${link.name} join ${mac}`, () => link.log.warn({ err, group: mac }, 'cannot join multicast MAC'));
        }
      }
    }
    // IP-layer memberships (MLD reports for snooping switches).
    const groups = new Set(v6.map(solicitedNodeMulticast));
    for (const g of link.ipGroups) {
      if (groups.has(g)) continue;
      this.#ipv6Groups?.leave(g, link.name);
      link.ipGroups.delete(g);
    }
    for (const g of groups) {
      if (link.ipGroups.has(g)) continue;
      this.#groups().join(g, link.name);
      link.ipGroups.add(g);
    }

    const previous = link.answers;
    const previousQuiet = link.quiet;
    const quiet = new Set(wanted.filter((w) => w.quiet && answers.has(w.text)).map((w) => w.text));
    link.answers = answers;
    link.quiet = quiet;
    for (const ip of previous) if (!answers.has(ip) || quiet.has(ip)) this.#cancelBurst(link, ip);
    // A burst for an IP answered here anew, or one that stops being handed over (it is ours again).
    for (const ip of answers) if (!quiet.has(ip) && (!previous.has(ip) || previousQuiet.has(ip))) this.#startBurst(link, ip);
  }

  #ensureSocket(
    link: Link,
    etherType: number,
    wanted: boolean,
    current: L2Socket | undefined,
    report: (key: string, log: () => void) => void,
  ): L2Socket | undefined {
    const kind = etherType === ETHERTYPE_ARP ? 'ARP' : 'IPv6';
    if (!wanted) {
      if (current) {
        current.close();
        link.log.info(`closed ${kind} socket`);
      }
      return undefined;
    }
    if (current) return current;
    let socket: L2Socket;
    try {
      socket = this.#open(link.name, etherType, etherType === ETHERTYPE_IPV6 ? { filter: neighborSolicitationFilter() } : {});
    } catch (err) {
      // Retried on the next re-scan; logged once per cause.
      report(`${link.name} open ${kind} ${errorCode(err)}`, () => link.log.error({ err }, `cannot open ${kind} socket`));
      return undefined;
    }
    socket.onError((err) => link.log.warn({ code: err.code, err }, `${kind} socket error (socket kept)`));
    socket.onFrame((frame, packetType) => {
      try {
        if (etherType === ETHERTYPE_ARP) this.#onArpFrame(link, socket, frame, packetType);
        else this.#onNdpFrame(link, socket, frame, packetType);
      } catch (err) {
        link.log.error({ err }, `failed to handle ${kind} frame`);
      }
    });
    link.log.info({ mac: link.facts.mac }, `opened ${kind} socket`);
    return socket;
  }

  #closeLink(link: Link): void {
    for (const ip of link.answers) this.#cancelBurst(link, ip);
    link.answers = new Set();
    link.quiet = new Set();
    for (const g of link.ipGroups) this.#ipv6Groups?.leave(g, link.name);
    link.ipGroups.clear();
    link.macGroups.clear();
    for (const socket of [link.arp, link.ndp]) {
      try {
        socket?.close();
      } catch (err) {
        link.log.warn({ err }, 'cannot close socket');
      }
    }
    if (link.arp || link.ndp) link.log.info('closed sockets');
    link.arp = undefined;
    link.ndp = undefined;
  }

  #groups(): Ipv6GroupMembership {
    this.#ipv6Groups ??= new KernelIpv6GroupMembership(this.#log);
    return this.#ipv6Groups;
  }

  // ---------------------------------------------------------------------------------------------------
  // Answers

  #onArpFrame(link: Link, socket: L2Socket, frame: Buffer, packetType: PacketType): void {
    // 'otherhost': not addressed to this host (promiscuous mode, or a VLAN-tagged frame on the parent).
    if (packetType === 'otherhost') return;
    const d = decodeArpFrame(frame);
    if (!d.ok) return this.#dropped(link, d.error);
    const { ethernet, arp } = d.value;
    if (ethernet.vlan !== undefined || arp.operation !== 'request') return;
    if (!link.answers.has(arp.targetIp)) return;
    if (arp.senderMac === link.facts.mac) return; // our own, seen through another socket
    if (arp.senderIp === arp.targetIp) {
      // Someone announcing the IP (gratuitous ARP), e.g. the node we hand over to: not a question.
      link.log.debug({ ip: arp.targetIp, mac: arp.senderMac }, 'another host announces the IP');
      return;
    }
    if (isMulticastMac(arp.senderMac) || arp.senderMac === ZERO_MAC) {
      return this.#dropped(link, { layer: 'arp', kind: 'malformed', reason: `request from hardware address ${arp.senderMac}` });
    }
    this.#metrics.requestReceived(arp.targetIp);
    if (this.#send(link, socket, encodeArpReplyFrame(arp, link.facts.mac!))) this.#metrics.responseSent(arp.targetIp);
  }

  #onNdpFrame(link: Link, socket: L2Socket, frame: Buffer, packetType: PacketType): void {
    if (packetType === 'otherhost') return;
    const d = decodeNdpFrame(frame);
    if (!d.ok) return this.#dropped(link, d.error);
    const { ethernet, message } = d.value;
    if (ethernet.vlan !== undefined || message.type !== 'neighbor-solicitation') return;
    if (!link.answers.has(message.target)) return;
    if (ethernet.source === link.facts.mac) return;
    this.#metrics.requestReceived(message.target);
    // From the target address itself, as Linux answers for its own addresses (ndisc6, for one, ignores
    // an answer from a link-local source for a global target).
    const reply = encodeNeighborAdvertisementReplyFrame(message, ethernet.source, link.facts.mac!);
    if (this.#send(link, socket, reply)) this.#metrics.responseSent(message.target);
  }

  #dropped(link: Link, error: DecodeError): void {
    if (error.kind !== 'malformed') return; // well-formed but not ours (other ICMPv6, ARP op 3, QinQ ...)
    this.#metrics.badFrame(link.name, error.layer);
    link.log.debug({ reason: describeDecodeError(error) }, 'dropped a malformed frame');
  }

  /** Sends; a failure (ENETDOWN while the link is down, ENOBUFS) is logged once per cause, never thrown. */
  #send(link: Link, socket: L2Socket, frame: Uint8Array): boolean {
    try {
      socket.send(frame);
      if (link.sendError !== undefined) link.log.info('sending works again');
      link.sendError = undefined;
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (link.sendError !== code) link.log.warn({ err }, 'cannot send frame');
      link.sendError = code;
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Gratuitous announcements

  #sendGratuitous(link: Link, ip: string): void {
    const mac = link.facts.mac!;
    if (ip.includes(':')) {
      if (!link.ndp) return;
      const frame = encodeUnsolicitedNeighborAdvertisementFrame(ip, mac);
      if (this.#send(link, link.ndp, frame)) this.#metrics.gratuitousSent(ip);
    } else {
      if (!link.arp) return;
      if (this.#send(link, link.arp, encodeGratuitousArpRequestFrame(ip, mac))) this.#metrics.gratuitousSent(ip);
      if (this.#send(link, link.arp, encodeGratuitousArpReplyFrame(ip, mac))) this.#metrics.gratuitousSent(ip);
    }
  }

  #startBurst(link: Link, ip: string): void {
    this.#cancelBurst(link, ip);
    const key = `${link.name} ${ip}`;
    const delays = this.#delays;
    const round = (i: number): void => {
      this.#bursts.delete(key);
      if (this.#links.get(link.name) !== link || !link.answers.has(ip) || link.quiet.has(ip)) return;
      this.#sendGratuitous(link, ip);
      if (i + 1 < delays.length) schedule(i + 1);
    };
    const schedule = (i: number): void => {
      this.#bursts.set(key, this.#clock.setTimer(delays[i]! - (i > 0 ? delays[i - 1]! : 0), () => round(i)));
    };
    if (delays.length === 0) return;
    if (delays[0] === 0) round(0);
    else schedule(0);
  }

  #cancelBurst(link: Link, ip: string): void {
    const key = `${link.name} ${ip}`;
    this.#bursts.get(key)?.cancel();
    this.#bursts.delete(key);
  }

  // ---------------------------------------------------------------------------------------------------
  // Timers

  #scheduleRescan(): void {
    this.#rescanTimer = this.#clock.setTimer(this.#rescanMs, () => {
      if (this.#stopped) return;
      try {
        this.#reconcile();
      } catch (err) {
        this.#log.error({ err }, 'interface re-scan failed');
      }
      this.#scheduleRescan();
    });
  }

  #scheduleRefresh(): void {
    if (this.#refreshMs <= 0) return;
    this.#refreshTimer = this.#clock.setTimer(this.#refreshMs, () => {
      if (this.#stopped) return;
      this.announceNow();
      this.#scheduleRefresh();
    });
  }
}
