// `ironlb speaker`: one per node (host network). Announces the services this node should announce, by
// BGP and/or Layer2, with fast failure detection among speakers through the membership protocol.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { BGPSpeaker } from '../bgp/bgp-speaker.ts';
import { UdpBfdFactory } from '../bgp/bfd/udp.ts';
import { systemClock } from '../clock/clock.ts';
import { KubeApi, retryTransient } from '../k8s/api.ts';
import { waitForMemberlistKey } from '../k8s/memberlist-key.ts';
import { loadKubeConfig } from '../k8s/kubeconfig.ts';
import { Layer2Announcer } from '../layer2/announcer.ts';
import { createLogger } from '../log/logger.ts';
import { tuneDaemonHeap } from './daemon-heap.ts';
import { Membership } from '../membership/membership.ts';
import { UdpTransport } from '../membership/udp-transport.ts';
import { SpeakerMetrics } from '../metrics/metrics.ts';
import { startMetricsServer } from '../metrics/server.ts';
import { MembershipLiveness } from '../speaker/membership-liveness.ts';
import { Speaker } from '../speaker/speaker.ts';
import { nodeInternalIP, type NodeObject } from '../speaker/inputs.ts';

export const speakerUsage = `ironlb speaker [flags]
  --kubeconfig PATH          kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --node-name NAME           this node (default $NODE_NAME, else the host name)
  --namespace NS             namespace holding the configuration (default metallb-system)
  --lb-class CLASS           only Services with this loadBalancerClass (default: only Services without one)
  --metrics-port PORT        /metrics, /healthz, /readyz (default 7473; 0 disables)
  --metrics-host HOST        (default 0.0.0.0)
  --memberlist-port PORT     membership (failure detection) UDP port (default 7946; 0 disables membership)
  --memberlist-bind ADDR     address to bind membership to (default: this node's InternalIP)
  --memberlist-secret NAME   Secret in --namespace holding the membership key under "secretkey"
  --memberlist-key KEY       the membership key itself (for labs; prefer --memberlist-secret)
  --bgp-listen PORT          accept BGP connections from peers on this port (default 179; 0 = dial out only)
  --no-layer2                do not answer ARP/NDP (BGP only)
  --ignore-exclude-lb        announce even from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers
  --handover-grace-ms MS     keep answering for an IP that moved away this long (default 1000)
  --log-level LEVEL          fatal|error|warn|info|debug|trace (default info)`;

export async function speakerCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'node-name': { type: 'string' },
      namespace: { type: 'string', default: 'metallb-system' },
      'lb-class': { type: 'string' },
      'metrics-port': { type: 'string', default: '7473' },
      'metrics-host': { type: 'string', default: '0.0.0.0' },
      'memberlist-port': { type: 'string', default: '7946' },
      'memberlist-bind': { type: 'string' },
      'memberlist-secret': { type: 'string' },
      'memberlist-key': { type: 'string' },
      'bgp-listen': { type: 'string', default: '179' },
      'no-layer2': { type: 'boolean', default: false },
      'ignore-exclude-lb': { type: 'boolean', default: false },
      'handover-grace-ms': { type: 'string', default: '1000' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(speakerUsage);
    return;
  }
  tuneDaemonHeap();
  const port = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${flag}: "${v}" is not a port number`);
    return n;
  };
  const metricsPort = port('metrics-port', values['metrics-port']);
  const memberPort = port('memberlist-port', values['memberlist-port']);
  const bgpListen = port('bgp-listen', values['bgp-listen']);
  const grace = Number(values['handover-grace-ms']);
  if (!Number.isFinite(grace) || grace < 0) throw new Error(`--handover-grace-ms: "${values['handover-grace-ms']}" is not a duration in ms`);
  const nodeName = values['node-name'] ?? process.env.NODE_NAME ?? hostname();
  const namespace = values.namespace!;
  const log = createLogger(values['log-level'], 'speaker').child({ node: nodeName });
  const kc = loadKubeConfig(values.kubeconfig);
  const api = new KubeApi(kc);
  const metrics = new SpeakerMetrics();

  // The API server (or the local path to it) may not answer yet when the node boots: wait for it.
  const self = (await retryTransient(() => api.get<NodeObject>({ apiVersion: 'v1', plural: 'nodes', name: nodeName }), {
    onRetry: (err) => log.warn({ err: (err as Error).message }, 'API server not reachable yet; retrying'),
  }).catch((err: Error) => {
    throw new Error(`cannot read Node ${nodeName}: ${err.message} (is --node-name right?)`);
  })) as NodeObject;
  const nodeIPv4 = nodeInternalIP(self, 'IPv4');
  const nodeIPv6 = nodeInternalIP(self, 'IPv6');

  let liveness: MembershipLiveness | undefined;
  if (memberPort > 0) {
    const keys: string[] = [];
    if (values['memberlist-key']) keys.push(values['memberlist-key']);
    if (values['memberlist-secret']) {
      keys.push(await waitForMemberlistKey(api, namespace, values['memberlist-secret'], log));
    }
    if (keys.length === 0) throw new Error('membership needs a key: --memberlist-secret NAME or --memberlist-key KEY (or --memberlist-port 0 to disable)');
    const bind = values['memberlist-bind'] ?? nodeIPv4 ?? nodeIPv6;
    if (!bind) throw new Error(`Node ${nodeName} has no InternalIP; pass --memberlist-bind`);
    const transport = await UdpTransport.open({ address: bind, port: memberPort, log: log.child({ component: 'membership' }) });
    liveness = new MembershipLiveness(kc, {
      log,
      createMembership: (seeds) =>
        new Membership({
          self: { name: nodeName, address: bind, port: memberPort },
          keys,
          clock: systemClock,
          transport,
          log: log.child({ component: 'membership' }),
          seeds,
        }),
      port: memberPort,
      selfName: nodeName,
      onClose: () => transport.close(),
    });
    await liveness.start();
  }

  const l2 = values['no-layer2']
    ? undefined
    : new Layer2Announcer({
        log: log.child({ component: 'layer2' }),
        clock: systemClock,
        metrics: {
          requestReceived: (ip) => metrics.layer2RequestsReceived.inc({ ip }),
          responseSent: (ip) => metrics.layer2ResponsesSent.inc({ ip }),
          gratuitousSent: (ip) => metrics.layer2GratuitousSent.inc({ ip }),
          badFrame: (iface, reason) => metrics.layer2BadFrames.inc({ interface: iface, reason }),
        },
      });
  const bgp = new BGPSpeaker({
    clock: systemClock,
    log: log.child({ component: 'bgp' }),
    bfd: new UdpBfdFactory({ clock: systemClock, logger: log.child({ component: 'bfd' }) }),
    ipv4NextHop: nodeIPv4,
    ipv6NextHop: nodeIPv6,
    listen: bgpListen > 0 ? { port: bgpListen } : false,
  });

  const speaker = new Speaker(kc, {
    nodeName,
    namespace,
    lbClass: values['lb-class'],
    log,
    metrics,
    bgp,
    l2,
    liveness,
    ignoreExcludeLabel: values['ignore-exclude-lb'],
    handoverGraceMs: grace,
  });
  const server =
    metricsPort > 0
      ? await startMetricsServer(metrics.registry, { ready: () => speaker.isReady(), notReadyReason: () => 'no valid configuration yet' }, metricsPort, values['metrics-host'])
      : undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: handing over, withdrawing');
    await speaker.stop();
    server?.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await speaker.start();
}
