// Reads the current configuration sources from the API for one admission decision: the six metallb.io
// kinds and the legacy ConfigMap "config" in the install namespace, and the Nodes (the pool-contains-a-
// node-address rule). Fresh on every request, so the webhook needs no cache and works without the
// controller (--webhook-mode=onlywebhook). Secrets are never read (see validate.ts).
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ConfigSources } from '../config/sources.ts';

const kinds = [
  ['ipAddressPools', 'ipaddresspools', 'v1beta1'],
  ['l2Advertisements', 'l2advertisements', 'v1beta1'],
  ['bgpAdvertisements', 'bgpadvertisements', 'v1beta1'],
  ['bgpPeers', 'bgppeers', 'v1beta2'],
  ['communities', 'communities', 'v1beta1'],
  ['bfdProfiles', 'bfdprofiles', 'v1beta1'],
] as const;

export interface ConfigReader {
  /** The install namespace's configuration as it is now. */
  read(): Promise<ConfigSources>;
  /** True when the install namespace is being deleted (or is gone). */
  namespaceTerminating(): Promise<boolean>;
}

function statusCode(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown };
  const c = x?.code ?? x?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

export class ApiConfigReader implements ConfigReader {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async read(): Promise<ConfigSources> {
    const namespace = this.namespace;
    const listKind = async (plural: string, version: string): Promise<unknown[]> => {
      try {
        const list = (await this.custom.listNamespacedCustomObject({ group: 'metallb.io', version, namespace, plural })) as { items?: unknown[] };
        return list.items ?? [];
      } catch (e) {
        if (statusCode(e) === 404) return []; // the CRD is not installed
        throw e;
      }
    };
    const configMap = async (): Promise<unknown> => {
      try {
        // Raw JSON, not the typed model: the parser takes API objects as plain data.
        return await this.core.readNamespacedConfigMap({ name: 'config', namespace });
      } catch (e) {
        if (statusCode(e) === 404) return undefined;
        throw e;
      }
    };
    const [lists, legacyConfigMap, nodes] = await Promise.all([
      Promise.all(kinds.map(([, plural, version]) => listKind(plural, version))),
      configMap(),
      this.core.listNode().then((l) => l.items as unknown[]),
    ]);
    const byKey = Object.fromEntries(kinds.map(([key], i) => [key, lists[i]!])) as Record<(typeof kinds)[number][0], unknown[]>;
    return { namespace, ...byKey, legacyConfigMap, secrets: [], nodes };
  }

  async namespaceTerminating(): Promise<boolean> {
    try {
      const ns = await this.core.readNamespace({ name: this.namespace });
      return ns.metadata?.deletionTimestamp !== undefined || ns.status?.phase === 'Terminating';
    } catch (e) {
      if (statusCode(e) === 404) return true;
      throw e;
    }
  }
}
