// Prometheus metrics. Names are MetalLB's, because users' dashboards and alerts depend on them.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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
  readonly configLoaded = new Gauge({
    name: 'metallb_k8s_client_config_loaded_bool',
    help: '1 if the configuration was ever loaded successfully',
    registers: [this.registry],
  });
  readonly configStale = new Gauge({
    name: 'metallb_k8s_client_config_stale_bool',
    help: '1 if running on a stale configuration, because the latest configuration is invalid',
    registers: [this.registry],
  });
  readonly allocationFailures = new Counter({
    name: 'ironlb_allocator_failures_total',
    help: 'Allocation attempts that failed, per reason kind',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
    this.configLoaded.set(0);
    this.configStale.set(0);
  }
}

/** A bigint count as a float gauge value; exact up to 2^53, saturating beyond. */
export const gaugeValue = (n: bigint): number => (n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n));
