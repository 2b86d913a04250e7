// `ironlb controller`: allocates LoadBalancer IPs. Runs until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { Controller } from '../controller/controller.ts';
import { loadKubeConfig } from '../k8s/kubeconfig.ts';
import { createLogger } from '../log/logger.ts';
import { ControllerMetrics } from '../metrics/metrics.ts';
import { startMetricsServer } from '../metrics/server.ts';
import { ensureRandomKey, SecretStore } from '../webhook/secret-store.ts';
import { ConfigWebhook, type WebhookMode, webhookDefaults, webhookModes } from '../webhook/webhook.ts';

export const controllerUsage = `ironlb controller [flags]
  --kubeconfig PATH     kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace NS        namespace holding the configuration (default metallb-system)
  --lb-class CLASS      only handle Services with spec.loadBalancerClass=CLASS (default: only Services without a class)
  --metrics-port PORT   serve /metrics, /healthz, /readyz on this port (default 7472; 0 disables)
  --metrics-host HOST   address to listen on (default 0.0.0.0)
  --log-level LEVEL     fatal|error|warn|info|debug|trace (default info)
  --webhook-mode MODE   enabled (allocate IPs and serve the validating webhook), disabled (allocate only),
                        onlywebhook (serve the webhook only) (default disabled; the manifests set enabled)
  --webhook-port PORT   HTTPS port of the webhook (default 9443)
  --webhook-host HOST   address the webhook listens on (default 0.0.0.0)
  --webhook-secret NAME      Secret holding the webhook's CA and serving certificate (default ironlb-webhook-cert)
  --webhook-service NAME     Service in front of the webhook, named in its certificate (default ironlb-webhook-service)
  --webhook-configuration NAME
                        ValidatingWebhookConfiguration that gets the CA bundle (default ironlb-webhook-configuration)
  --webhook-cert-hosts LIST  more DNS names or IPs for the serving certificate, comma separated
  --memberlist-secret NAME   fill key "secretkey" of this Secret with a random memberlist key if empty
                        (the speakers' shared gossip key; default: leave it alone)`;

export async function controllerCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', default: 'metallb-system' },
      'lb-class': { type: 'string' },
      'metrics-port': { type: 'string', default: '7472' },
      'metrics-host': { type: 'string', default: '0.0.0.0' },
      'log-level': { type: 'string', default: 'info' },
      'webhook-mode': { type: 'string', default: 'disabled' },
      'webhook-port': { type: 'string', default: String(webhookDefaults.port) },
      'webhook-host': { type: 'string', default: webhookDefaults.host },
      'webhook-secret': { type: 'string', default: webhookDefaults.secretName },
      'webhook-service': { type: 'string', default: webhookDefaults.serviceName },
      'webhook-configuration': { type: 'string', default: webhookDefaults.configurationName },
      'webhook-cert-hosts': { type: 'string', default: '' },
      'memberlist-secret': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(controllerUsage);
    return;
  }
  const port = Number(values['metrics-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-port: "${values['metrics-port']}" is not a port number`);
  const mode = values['webhook-mode'] as WebhookMode;
  if (!webhookModes.includes(mode)) throw new Error(`--webhook-mode: "${mode}" is not one of ${webhookModes.join(', ')}`);
  const webhookPort = Number(values['webhook-port']);
  if (!Number.isInteger(webhookPort) || webhookPort < 0 || webhookPort > 65535) throw new Error(`--webhook-port: "${values['webhook-port']}" is not a port number`);
  const log = createLogger(values['log-level'], 'controller');
  const metrics = new ControllerMetrics();
  const kc = loadKubeConfig(values.kubeconfig);
  const namespace = values.namespace!;
  const controller =
    mode === 'onlywebhook'
      ? undefined
      : new Controller(kc, {
          namespace,
          lbClass: values['lb-class'],
          log,
          metrics,
        });
  const webhook =
    mode === 'disabled'
      ? undefined
      : new ConfigWebhook(kc, {
          namespace,
          port: webhookPort,
          host: values['webhook-host']!,
          secretName: values['webhook-secret']!,
          serviceName: values['webhook-service']!,
          configurationName: values['webhook-configuration']!,
          extraHosts: values['webhook-cert-hosts']!.split(',').map((h) => h.trim()).filter(Boolean),
          log: log.child({ component: 'webhook' }),
        });
  const ready = (): boolean => (controller?.isReady() ?? true) && (webhook?.isReady() ?? true);
  const notReadyReason = (): string =>
    controller && !controller.isReady() ? 'restoring assignments' : (webhook?.notReadyReason() ?? 'starting');
  const server = port > 0 ? await startMetricsServer(metrics.registry, { ready, notReadyReason }, port, values['metrics-host']) : undefined;
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    server?.close();
    await Promise.all([controller?.stop(), webhook?.stop()]);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  if (values['memberlist-secret']) {
    const key = await ensureRandomKey(new SecretStore(kc, namespace, values['memberlist-secret']), 'secretkey');
    log.info({ secret: `${namespace}/${values['memberlist-secret']}`, bytes: Buffer.from(key, 'base64').length }, 'memberlist key present');
  }
  await Promise.all([controller?.start(), webhook?.start()]);
}
