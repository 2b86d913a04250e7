// Prometheus metrics. Names are MetalLB's, because users' dashboards and alerts depend on them.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Both daemons report whether their configuration loaded and whether it is stale (MetalLB's names). */
function configLoadedGauge(registry: Registry): Gauge {
  const g = new Gauge({ name: 'metallb_k8s_client_config_loaded_bool', help: '1 if the configuration was ever loaded successfully', registers: [registry] });
  g.set(0);
  return g;
}

function configStaleGauge(registry: Registry): Gauge {
  const g = new Gauge({
    name: 'metallb_k8s_client_config_stale_bool',
    help: '1 if running on a stale configuration, because the latest configuration is invalid',
    registers: [registry],
  });
  g.set(0);
  return g;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly addressesTotal = new Gauge({
    name: 'metallb_allocator_addresses_total',
    help: 'Number of usable IP addresses, per pool',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly addressesInUse = new Gauge({
    name: 'metallb_allocator_addresses_in_use_total',
    help: 'Number of IP addresses in use, per pool',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly ipv4AddressesTotal = new Gauge({
    name: 'metallb_allocator_ipv4_addresses_total',
    help: 'Number of usable IPv4 addresses, per pool',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly ipv4AddressesInUse = new Gauge({
    name: 'metallb_allocator_ipv4_addresses_in_use_total',
    help: 'Number of IPv4 addresses in use, per pool',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly ipv6AddressesTotal = new Gauge({
    name: 'metallb_allocator_ipv6_addresses_total',
    help: 'Number of usable IPv6 addresses, per pool (saturates at 2^53 in this float metric; exact counts are in IPAddressPool status)',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly ipv6AddressesInUse = new Gauge({
    name: 'metallb_allocator_ipv6_addresses_in_use_total',
    help: 'Number of IPv6 addresses in use, per pool',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly configLoaded = configLoadedGauge(this.registry);
  readonly configStale = configStaleGauge(this.registry);
  readonly allocationFailures = new Counter({
    name: 'ironlb_allocator_failures_total',
    help: 'Allocation attempts that failed, per reason kind',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

/** A bigint count as a float gauge value; exact up to 2^53, saturating beyond. */
export const gaugeValue = (n: bigint): number => (n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n));

export class SpeakerMetrics {
  readonly registry = new Registry();
  readonly announced = new Gauge({
    name: 'metallb_speaker_announced',
    help: 'Services being announced from this node (1) per service, protocol and IP',
    labelNames: ['service', 'protocol', 'node', 'ip'],
    registers: [this.registry],
  });
  readonly layer2RequestsReceived = new Counter({
    name: 'metallb_layer2_requests_received',
    help: 'ARP/NDP requests received for owned IPs',
    labelNames: ['ip'],
    registers: [this.registry],
  });
  readonly layer2ResponsesSent = new Counter({
    name: 'metallb_layer2_responses_sent',
    help: 'ARP/NDP responses sent for owned IPs',
    labelNames: ['ip'],
    registers: [this.registry],
  });
  readonly layer2GratuitousSent = new Counter({
    name: 'metallb_layer2_gratuitous_sent',
    help: 'Gratuitous ARP / unsolicited NA packets sent',
    labelNames: ['ip'],
    registers: [this.registry],
  });
  readonly layer2BadFrames = new Counter({
    name: 'ironlb_layer2_bad_frames_total',
    help: 'Malformed ARP/NDP frames received and dropped, per interface and reason',
    labelNames: ['interface', 'reason'],
    registers: [this.registry],
  });
  readonly bgpSessionUp = new Gauge({
    name: 'metallb_bgp_session_up',
    help: 'BGP session state (1 established, 0 otherwise)',
    labelNames: ['peer'],
    registers: [this.registry],
  });
  readonly bgpUpdatesTotal = new Counter({
    name: 'metallb_bgp_updates_total',
    help: 'BGP UPDATE messages sent',
    labelNames: ['peer'],
    registers: [this.registry],
  });
  readonly bgpAnnouncedPrefixes = new Gauge({
    name: 'metallb_bgp_announced_prefixes_total',
    help: 'Prefixes currently advertised on the session',
    labelNames: ['peer'],
    registers: [this.registry],
  });
  readonly bgpPendingPrefixes = new Gauge({
    name: 'metallb_bgp_pending_prefixes_total',
    help: 'Prefixes that should be advertised but are not yet (session down or queued)',
    labelNames: ['peer'],
    registers: [this.registry],
  });
  readonly bfdSessionUp = new Gauge({
    name: 'metallb_bfd_session_up',
    help: 'BFD session state (1 up, 0 otherwise)',
    labelNames: ['peer'],
    registers: [this.registry],
  });
  readonly configLoaded = configLoadedGauge(this.registry);
  readonly configStale = configStaleGauge(this.registry);
  readonly membersAlive = new Gauge({
    name: 'ironlb_membership_members_alive',
    help: 'Speakers this node sees alive through membership (including itself)',
    registers: [this.registry],
  });
  readonly membershipIsolated = new Gauge({
    name: 'ironlb_membership_isolated_bool',
    help: '1 while this node is cut off from every other speaker and has stopped Layer2 announcements',
    registers: [this.registry],
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
