// Keeps the webhook's certificates in their Secret (so restarts and replicas share them), replaces them
// ahead of expiry (certificates.ts decides), and writes the CA bundle into IronLB's own
// ValidatingWebhookConfiguration. The RBAC grants exactly that: get/update/patch on the Secret and on the
// ValidatingWebhookConfiguration, both by name.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApi, statusCodeOf as statusCode } from '../k8s/api.ts';

/** The parts of a ValidatingWebhookConfiguration written here (plain JSON, everything else kept). */
interface WebhookConfigurationObject {
  webhooks?: { clientConfig: { caBundle?: string } }[];
}
import type { Logger } from '../log/logger.ts';
import {
  type CertificatePolicy,
  type WebhookCertificates,
  caBundle,
  certificatesFromSecretData,
  certificatesToSecretData,
  defaultCertificatePolicy,
  planCertificates,
  secretKeys,
} from './certificates.ts';
import { SecretConflictError, SecretStore } from './secret-store.ts';

export interface CertManagerOptions {
  readonly namespace: string;
  readonly secretName: string;
  /** IronLB's ValidatingWebhookConfiguration; every webhook in it gets the CA bundle. */
  readonly webhookConfigurationName: string;
  /** Names the serving certificate must hold (the webhook Service's DNS names, extra hosts). */
  readonly hosts: readonly string[];
  readonly log: Logger;
  readonly policy?: CertificatePolicy;
  /** Wall-clock time (certificate validity); default `new Date()`. */
  readonly now?: () => Date;
}

export interface SyncResult {
  readonly certificates: WebhookCertificates;
  /** New certificates were written by this call. */
  readonly rotated: boolean;
}


/** The DNS names of a Service, as clients inside the cluster (and the API server) may use them. */
export function serviceHosts(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

export class WebhookCertManager {
  private readonly store: SecretStore;
  private readonly api: KubeApi;
  private readonly now: () => Date;
  private warnedMissingConfiguration = false;

  constructor(
    kc: KubeConfig,
    private readonly opts: CertManagerOptions,
  ) {
    this.store = new SecretStore(kc, opts.namespace, opts.secretName);
    this.api = new KubeApi(kc);
    this.now = opts.now ?? (() => new Date());
  }

  /** Reads the Secret, replaces what needs replacing (writing it back), and returns what to serve. */
  async sync(): Promise<SyncResult> {
    for (let attempt = 0; ; attempt++) {
      const stored = await this.store.read();
      const current = certificatesFromSecretData(stored.data);
      const plan = planCertificates(current, this.opts.hosts, this.now(), this.opts.policy ?? defaultCertificatePolicy);
      if (!plan.changed) return { certificates: plan.certificates, rotated: false };
      try {
        // Other keys in the Secret (if any) are kept.
        const ours = new Set<string>(Object.values(secretKeys));
        const keep = Object.fromEntries(Object.entries(stored.data).filter(([k]) => !ours.has(k)));
        await this.store.write(stored, { ...keep, ...certificatesToSecretData(plan.certificates) });
        this.opts.log.info({ secret: `${this.opts.namespace}/${this.opts.secretName}`, reasons: plan.reasons }, 'webhook certificates written');
        return { certificates: plan.certificates, rotated: true };
      } catch (e) {
        // Another replica wrote first: take theirs (read again; it is good, so nothing is written).
        if (e instanceof SecretConflictError && attempt < 5) continue;
        throw e;
      }
    }
  }

  /**
   * Makes every webhook of the ValidatingWebhookConfiguration trust `certificates`' CA bundle. Returns
   * false when the configuration does not exist (the webhook is then simply not called by the API server).
   */
  async injectCABundle(certificates: WebhookCertificates): Promise<boolean> {
    const bundle = Buffer.from(caBundle(certificates, this.now())).toString('base64');
    const name = this.opts.webhookConfigurationName;
    for (let attempt = 0; ; attempt++) {
      let vwc: WebhookConfigurationObject;
      const ref = { apiVersion: 'admissionregistration.k8s.io/v1', plural: 'validatingwebhookconfigurations', name };
      try {
        vwc = await this.api.get<WebhookConfigurationObject>(ref);
      } catch (e) {
        if (statusCode(e) === 404) {
          if (!this.warnedMissingConfiguration) this.opts.log.warn({ name }, 'ValidatingWebhookConfiguration not found: no CA bundle to write');
          this.warnedMissingConfiguration = true;
          return false;
        }
        throw e;
      }
      this.warnedMissingConfiguration = false;
      const webhooks = vwc.webhooks ?? [];
      if (webhooks.every((w) => w.clientConfig.caBundle === bundle)) return true;
      for (const w of webhooks) w.clientConfig.caBundle = bundle;
      try {
        // The read resourceVersion makes this conditional: 409 when it changed since (helm upgrade).
        await this.api.replace(ref, vwc);
        this.opts.log.info({ name, webhooks: webhooks.length }, 'CA bundle written to the ValidatingWebhookConfiguration');
        return true;
      } catch (e) {
        if (statusCode(e) === 409 && attempt < 5) continue;
        throw e;
      }
    }
  }
}
