// Watches every configuration source (metallb.io CRDs, the legacy ConfigMap, Secrets for BGP passwords,
// Nodes for the node-address rule), parses them with the one config parser, and hands a new Config to
// its owner only when it is valid and different. An invalid configuration is never applied: the last good
// one keeps serving, and the problem is published as a ConfigurationState, Warning Events on the
// offending objects, and the stale metric.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { KubeApi } from './api.ts';
import { parseConfig, type ConfigSources } from '../config/parse.ts';
import { formatConfigError, type Config, type ConfigError } from '../config/model.ts';
import type { Logger } from '../log/logger.ts';
import type { EventRecorder } from './event-recorder.ts';
import { WatchCache } from './watch-cache.ts';

export const metallbGroup = 'metallb.io';

const configKinds = {
  ipAddressPools: { plural: 'ipaddresspools', version: 'v1beta1', kind: 'IPAddressPool' },
  l2Advertisements: { plural: 'l2advertisements', version: 'v1beta1', kind: 'L2Advertisement' },
  bgpAdvertisements: { plural: 'bgpadvertisements', version: 'v1beta1', kind: 'BGPAdvertisement' },
  bgpPeers: { plural: 'bgppeers', version: 'v1beta2', kind: 'BGPPeer' },
  communities: { plural: 'communities', version: 'v1beta1', kind: 'Community' },
  bfdProfiles: { plural: 'bfdprofiles', version: 'v1beta1', kind: 'BFDProfile' },
} as const;

type ConfigKindKey = keyof typeof configKinds;

export interface ConfigStatusSink {
  configLoaded: { set(v: number): void };
  configStale: { set(v: number): void };
}

export interface ConfigWatcherOptions {
  readonly namespace: string;
  /** Name of this component's ConfigurationState object, e.g. "controller" or "speaker-node1". */
  readonly stateName: string;
  readonly recorder: EventRecorder;
  readonly metrics: ConfigStatusSink;
  readonly log: Logger;
  /** Nodes cache shared with the owner (the node-address rule needs it). */
  readonly nodes: WatchCache<KubernetesObject>;
  /** Called with each new valid configuration, in order. */
  readonly onConfig: (config: Config) => void;
  readonly debounceMs?: number;
  /** Read Secrets (BGP passwords). The controller does not: least privilege. */
  readonly watchSecrets: boolean;
}


/** A stable text form of a Config, to tell a real change from a resync. */
export function configFingerprint(config: Config): string {
  return JSON.stringify(config, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Map) return [...v.entries()];
    return v;
  });
}

export class ConfigWatcher {
  private readonly caches: Record<ConfigKindKey, WatchCache<KubernetesObject>>;
  private readonly configMap: WatchCache<KubernetesObject>;
  private readonly secrets: WatchCache<KubernetesObject> | undefined;
  private readonly api: KubeApi;
  private good: Config | undefined;
  private goodFingerprint = '';
  private lastErrorsText = '';
  private timer: NodeJS.Timeout | undefined;
  private lastNodeAddresses = '';
  private stateWrite: Promise<void> = Promise.resolve();

  constructor(
    kc: KubeConfig,
    private readonly opts: ConfigWatcherOptions,
  ) {
    const { namespace, log } = opts;
    this.api = new KubeApi(kc);
    const cache = (k: ConfigKindKey) =>
      new WatchCache<KubernetesObject>(kc, { apiVersion: `${metallbGroup}/${configKinds[k].version}`, plural: configKinds[k].plural, namespace }, log);
    this.caches = {
      ipAddressPools: cache('ipAddressPools'),
      l2Advertisements: cache('l2Advertisements'),
      bgpAdvertisements: cache('bgpAdvertisements'),
      bgpPeers: cache('bgpPeers'),
      communities: cache('communities'),
      bfdProfiles: cache('bfdProfiles'),
    };
    this.configMap = new WatchCache(kc, { apiVersion: 'v1', plural: 'configmaps', namespace, name: 'config' }, log);
    this.secrets = opts.watchSecrets ? new WatchCache(kc, { apiVersion: 'v1', plural: 'secrets', namespace }, log) : undefined;
    for (const c of this.allCaches()) c.onChange(() => this.schedule());
    opts.nodes.onChange(() => {
      // Node heartbeats change status often; only their addresses matter here.
      if (this.nodeAddresses() !== this.lastNodeAddresses) this.schedule();
    });
  }

  private allCaches(): WatchCache<KubernetesObject>[] {
    return [...Object.values(this.caches), this.configMap, ...(this.secrets ? [this.secrets] : [])];
  }

  async start(): Promise<void> {
    await Promise.all(this.allCaches().map((c) => c.start()));
    this.reload();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.allCaches().map((c) => c.stop()));
    await this.stateWrite;
  }

  current(): Config | undefined {
    return this.good;
  }

  private nodeAddresses(): string {
    return this.opts.nodes
      .list()
      .map((n) => `${n.metadata?.name}=${JSON.stringify((n as { status?: { addresses?: unknown } }).status?.addresses ?? [])}`)
      .sort()
      .join(';');
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.opts.debounceMs ?? 50);
  }

  sources(): ConfigSources {
    return {
      namespace: this.opts.namespace,
      ipAddressPools: this.caches.ipAddressPools.list(),
      l2Advertisements: this.caches.l2Advertisements.list(),
      bgpAdvertisements: this.caches.bgpAdvertisements.list(),
      bgpPeers: this.caches.bgpPeers.list(),
      communities: this.caches.communities.list(),
      bfdProfiles: this.caches.bfdProfiles.list(),
      legacyConfigMap: this.configMap.get('config', this.opts.namespace),
      secrets: this.secrets?.list(),
      nodes: this.opts.nodes.list(),
    };
  }

  /** Parses the current sources; applies the result if valid and new, reports it if invalid. */
  reload(): void {
    const { log, metrics } = this.opts;
    this.lastNodeAddresses = this.nodeAddresses();
    const result = parseConfig(this.sources());
    if (result.ok) {
      const fingerprint = configFingerprint(result.config);
      metrics.configLoaded.set(1);
      metrics.configStale.set(0);
      if (this.lastErrorsText !== '' || this.good === undefined) this.writeState('Valid', '');
      this.lastErrorsText = '';
      if (fingerprint === this.goodFingerprint) return;
      this.good = result.config;
      this.goodFingerprint = fingerprint;
      log.info({ pools: [...result.config.pools.keys()], peers: result.config.peers.length }, 'configuration loaded');
      this.opts.onConfig(result.config);
      return;
    }
    const text = result.errors.map(formatConfigError).join('; ');
    metrics.configStale.set(this.good ? 1 : 0);
    if (text === this.lastErrorsText) return;
    this.lastErrorsText = text;
    log.error({ errors: result.errors.map(formatConfigError) }, 'configuration is invalid; keeping the last good one');
    this.writeState('Invalid', text);
    for (const err of result.errors) void this.warnOn(err);
  }

  private async warnOn(err: ConfigError): Promise<void> {
    const obj = this.findObject(err);
    const suffix = this.good ? ' (the last valid configuration is still in use)' : ' (no valid configuration has been loaded yet)';
    await this.opts.recorder.record(
      obj ?? { apiVersion: `${metallbGroup}/v1beta1`, kind: 'ConfigurationState', namespace: this.opts.namespace, name: this.opts.stateName },
      'Warning',
      'InvalidConfiguration',
      formatConfigError(err) + suffix,
    );
  }

  private findObject(err: ConfigError) {
    const entry = Object.entries(configKinds).find(([, v]) => v.kind === err.kind) as [ConfigKindKey, (typeof configKinds)[ConfigKindKey]] | undefined;
    const cache = entry ? this.caches[entry[0]] : err.kind === 'ConfigMap' ? this.configMap : undefined;
    const found = cache?.get(err.name, err.namespace);
    if (!found) return undefined;
    return {
      apiVersion: found.apiVersion ?? (entry ? `${metallbGroup}/${entry[1].version}` : 'v1'),
      kind: err.kind,
      namespace: err.namespace,
      name: err.name,
      uid: found.metadata?.uid,
    };
  }

  private writeState(result: 'Valid' | 'Invalid', errorSummary: string): void {
    const { namespace, stateName, log } = this.opts;
    const body = { status: { result, errorSummary, lastTransitionTime: new Date().toISOString() } };
    const state = { apiVersion: `${metallbGroup}/v1beta1`, plural: 'configurationstates', namespace, name: stateName, subresource: 'status' };
    this.stateWrite = this.stateWrite.then(async () => {
      try {
        try {
          await this.api.mergePatch(state, body);
        } catch (err) {
          if ((err as { code?: number }).code !== 404) throw err;
          await this.api.create(
            { apiVersion: state.apiVersion, plural: state.plural, namespace },
            { apiVersion: `${metallbGroup}/v1beta1`, kind: 'ConfigurationState', metadata: { name: stateName, namespace } },
          );
          await this.api.mergePatch(state, body);
        }
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not write ConfigurationState');
      }
    });
  }
}
