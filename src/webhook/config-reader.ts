// Reads the current configuration sources from the API for one admission decision: the six metallb.io
// kinds and the legacy ConfigMap "config" in the install namespace, and the Nodes (the pool-contains-a-
// node-address rule). Fresh on every request, so the webhook needs no cache and works without the
// controller (--webhook-mode=onlywebhook). Secrets are never read (see validate.ts).
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApi, statusCodeOf as statusCode } from '../k8s/api.ts';
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


export class ApiConfigReader implements ConfigReader {
  private readonly api: KubeApi;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
  ) {
    this.api = new KubeApi(kc);
  }

  async read(): Promise<ConfigSources> {
    const namespace = this.namespace;
    const listKind = async (plural: string, version: string): Promise<unknown[]> => {
      try {
        return (await this.api.list<unknown>({ apiVersion: `metallb.io/${version}`, plural, namespace })).items;
      } catch (e) {
        if (statusCode(e) === 404) return []; // the CRD is not installed
        throw e;
      }
    };
    const configMap = async (): Promise<unknown> => {
      try {
        return await this.api.get<unknown>({ apiVersion: 'v1', plural: 'configmaps', namespace, name: 'config' });
      } catch (e) {
        if (statusCode(e) === 404) return undefined;
        throw e;
      }
    };
    const [lists, legacyConfigMap, nodes] = await Promise.all([
      Promise.all(kinds.map(([, plural, version]) => listKind(plural, version))),
      configMap(),
      this.api.list<unknown>({ apiVersion: 'v1', plural: 'nodes' }).then((l) => l.items),
    ]);
    const byKey = Object.fromEntries(kinds.map(([key], i) => [key, lists[i]!])) as Record<(typeof kinds)[number][0], unknown[]>;
    return { namespace, ...byKey, legacyConfigMap, secrets: [], nodes };
  }

  async namespaceTerminating(): Promise<boolean> {
    try {
      const ns = await this.api.get<{ metadata?: { deletionTimestamp?: string }; status?: { phase?: string } }>({ apiVersion: 'v1', plural: 'namespaces', name: this.namespace });
      return ns.metadata?.deletionTimestamp !== undefined || ns.status?.phase === 'Terminating';
    } catch (e) {
      if (statusCode(e) === 404) return true;
      throw e;
    }
  }
}
