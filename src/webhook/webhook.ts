// The validating admission webhook as the controller runs it (--webhook-mode enabled or onlywebhook):
// certificates from their Secret (created and rotated by cert-manager.ts), the CA bundle kept in IronLB's
// ValidatingWebhookConfiguration, and the HTTPS server answering the API server with validate.ts.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import type { CertificatePolicy, WebhookCertificates } from './certificates.ts';
import { WebhookCertManager, serviceHosts } from './cert-manager.ts';
import { ApiConfigReader, type ConfigReader } from './config-reader.ts';
import { WebhookServer } from './server.ts';
import { type ConfigChange, type Verdict, isConfigKind, reviewConfigChange } from './validate.ts';

export const webhookModes = ['enabled', 'disabled', 'onlywebhook'] as const;
export type WebhookMode = (typeof webhookModes)[number];

export const webhookDefaults = {
  port: 9443,
  host: '0.0.0.0',
  secretName: 'ironlb-webhook-cert',
  serviceName: 'ironlb-webhook-service',
  configurationName: 'ironlb-webhook-configuration',
} as const;

export interface ConfigWebhookOptions {
  /** The install namespace (where the configuration, the Secret and the Service are). */
  readonly namespace: string;
  readonly port: number;
  readonly host: string;
  readonly secretName: string;
  readonly serviceName: string;
  readonly configurationName: string;
  /** More names or IPs for the serving certificate (e.g. 127.0.0.1 when called by URL). */
  readonly extraHosts?: readonly string[];
  readonly log: Logger;
  /** How often certificates and the CA bundle are checked. Default 30 s. */
  readonly checkIntervalMs?: number;
  /**
   * After a new CA enters the bundle, how long to keep serving the old certificate (still valid, its CA
   * still in the bundle) so every API server has seen the new bundle first. Default 10 s.
   */
  readonly caPropagationDelayMs?: number;
  readonly policy?: CertificatePolicy;
  readonly now?: () => Date;
  /** Where the current configuration comes from; default: the API. */
  readonly reader?: ConfigReader;
}

/** Decides one change: objects elsewhere are refused without reading anything. */
export async function decide(change: ConfigChange, namespace: string, reader: ConfigReader): Promise<Verdict> {
  if (!isConfigKind(change.kind)) return { allowed: true, errors: [], warnings: [] };
  if (change.namespace !== namespace) {
    const empty = { namespace, ipAddressPools: [], l2Advertisements: [], bgpAdvertisements: [], bgpPeers: [], communities: [], bfdProfiles: [], legacyConfigMap: undefined, secrets: [], nodes: [] };
    return reviewConfigChange(change, empty);
  }
  const [current, namespaceTerminating] = await Promise.all([
    reader.read(),
    change.operation === 'DELETE' ? reader.namespaceTerminating() : Promise.resolve(false),
  ]);
  return reviewConfigChange(change, current, { namespaceTerminating });
}

export class ConfigWebhook {
  private readonly certs: WebhookCertManager;
  private readonly reader: ConfigReader;
  private server: WebhookServer | undefined;
  private served: WebhookCertificates | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined = 'starting';
  private tick: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;

  constructor(
    kc: KubeConfig,
    private readonly opts: ConfigWebhookOptions,
  ) {
    const hosts = [...serviceHosts(opts.serviceName, opts.namespace), ...(opts.extraHosts ?? [])];
    this.certs = new WebhookCertManager(kc, {
      namespace: opts.namespace,
      secretName: opts.secretName,
      webhookConfigurationName: opts.configurationName,
      hosts,
      log: opts.log,
      ...(opts.policy ? { policy: opts.policy } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.reader = opts.reader ?? new ApiConfigReader(kc, opts.namespace);
  }

  /** Gets certificates (retrying until it can), starts serving, and keeps the certificates fresh. */
  async start(): Promise<void> {
    let backoffMs = 500;
    for (;;) {
      if (this.stopped) return;
      try {
        const { certificates } = await this.certs.sync();
        await this.injectQuietly(certificates);
        this.server = await WebhookServer.start({
          port: this.opts.port,
          host: this.opts.host,
          cert: certificates.cert,
          key: certificates.key,
          handle: (req) => decide(req.change, this.opts.namespace, this.reader),
          log: this.opts.log,
        });
        this.served = certificates;
        this.lastError = undefined;
        this.opts.log.info({ port: this.server.port, namespace: this.opts.namespace }, 'webhook serving');
        break;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.opts.log.error({ err: this.lastError }, 'webhook cannot start yet; retrying');
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw err;
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.refresh().finally(() => this.schedule());
    }, this.opts.checkIntervalMs ?? 30_000);
  }

  /** One check: rotate if due, adopt what another replica wrote, repair the CA bundle. */
  async refresh(): Promise<void> {
    try {
      const { certificates } = await this.certs.sync();
      // The API server must trust the new CA before we present a certificate signed by it.
      await this.certs.injectCABundle(certificates);
      const newCA = this.served !== undefined && this.served.caCert !== certificates.caCert;
      if (newCA && !this.stopped) {
        const delay = this.opts.caPropagationDelayMs ?? 10_000;
        this.opts.log.info({ delayMs: delay }, 'new webhook CA in the bundle; switching certificates after the delay');
        await new Promise<void>((r) => {
          const t = setTimeout(r, delay);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = undefined;
      }
      if (this.stopped) return;
      this.server?.setCertificate(certificates.cert, certificates.key);
      this.served = certificates;
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.opts.log.error({ err: this.lastError }, 'webhook certificate check failed; serving the current certificate');
    }
  }

  private async injectQuietly(c: WebhookCertificates): Promise<void> {
    try {
      await this.certs.injectCABundle(c);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'cannot write the CA bundle yet; retrying later');
    }
  }

  /** Serving (the CA bundle may still be pending; the API server then retries). */
  isReady(): boolean {
    return this.server !== undefined && !this.stopped;
  }

  notReadyReason(): string {
    return this.lastError ?? 'webhook starting';
  }

  /** The certificates being served (tests). */
  servedCertificates(): WebhookCertificates | undefined {
    return this.served;
  }

  get port(): number | undefined {
    return this.server?.port;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.tick;
    await this.server?.close();
    this.server = undefined;
  }
}
