// `ironlb controller`: allocates LoadBalancer IPs. Runs until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { Controller } from '../controller/controller.ts';
import { loadKubeConfig } from '../k8s/kubeconfig.ts';
import { createLogger } from '../log/logger.ts';
import { ControllerMetrics } from '../metrics/metrics.ts';
import { startMetricsServer } from '../metrics/server.ts';

export const controllerUsage = `ironlb controller [flags]
  --kubeconfig PATH     kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace NS        namespace holding the configuration (default metallb-system)
  --lb-class CLASS      only handle Services with spec.loadBalancerClass=CLASS (default: only Services without a class)
  --metrics-port PORT   serve /metrics, /healthz, /readyz on this port (default 7472; 0 disables)
  --metrics-host HOST   address to listen on (default 0.0.0.0)
  --log-level LEVEL     fatal|error|warn|info|debug|trace (default info)`;

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
  const log = createLogger(values['log-level'], 'controller');
  const metrics = new ControllerMetrics();
  const controller = new Controller(loadKubeConfig(values.kubeconfig), {
    namespace: values.namespace!,
    lbClass: values['lb-class'],
    log,
    metrics,
  });
  const server =
    port > 0
      ? await startMetricsServer(metrics.registry, { ready: () => controller.isReady(), notReadyReason: () => 'restoring assignments' }, port, values['metrics-host'])
      : undefined;
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    server?.close();
    await controller.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await controller.start();
}
