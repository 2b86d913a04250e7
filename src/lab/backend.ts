// A lab node's stand-in for kube-proxy and an application pod, run inside the node's namespace:
// - every LoadBalancer service IP is put on the node's `lo` (as kube-proxy's IPVS mode does on
//   kube-ipvs0), so traffic the load balancer delivers to this node is accepted; the lab's nodes set
//   arp_ignore=1/arp_announce=2, so the kernel itself never answers ARP for them (only IronLB does);
// - an HTTP server on port 80 answers every request with this node's name;
// - one EndpointSlice per service names this node as a ready endpoint, so speakers see a serving endpoint.
//
//   node --import tsx src/lab/backend.ts --kubeconfig PATH --node NAME --ipv4 A --ipv6 B [--namespace NS]
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { DiscoveryV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { loadKubeConfig } from '../k8s/kubeconfig.ts';
import { WatchCache } from '../k8s/watch-cache.ts';
import { createLogger } from '../log/logger.ts';
import type { ServiceObject } from '../controller/service-request.ts';
import { statusIPs } from '../controller/service-request.ts';
import { formatIP } from '../net/address.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    node: { type: 'string' },
    ipv4: { type: 'string' },
    ipv6: { type: 'string' },
    namespace: { type: 'string', default: 'lab' },
    port: { type: 'string', default: '80' },
  },
});
const node = values.node!;
const log = createLogger('info', 'lab-backend').child({ node });
const kc = loadKubeConfig(values.kubeconfig);
const discovery = kc.makeApiClient(DiscoveryV1Api);
const services = new WatchCache<ServiceObject & KubernetesObject>(kc, { apiVersion: 'v1', plural: 'services', namespace: values.namespace }, log);

const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close' });
  res.end(`${node}\n`);
});
server.listen(Number(values.port), '::');

const onLo = new Set<string>();
const slices = new Set<string>();

function sliceName(svc: string): string {
  return `${svc}-${node}`.slice(0, 63);
}

async function sync(): Promise<void> {
  const want = new Set<string>();
  const wantSlices = new Map<string, ServiceObject>();
  for (const svc of services.list()) {
    if (svc.spec?.type !== 'LoadBalancer') continue;
    wantSlices.set(svc.metadata?.name ?? '', svc);
    for (const ip of statusIPs(svc)) want.add(`${formatIP(ip)}/${ip.family === 'IPv4' ? 32 : 128}`);
  }
  for (const cidr of want) {
    if (onLo.has(cidr)) continue;
    execFileSync('ip', ['addr', 'replace', cidr, 'dev', 'lo']);
    onLo.add(cidr);
  }
  for (const cidr of onLo) {
    if (want.has(cidr)) continue;
    execFileSync('ip', ['addr', 'del', cidr, 'dev', 'lo'], { stdio: 'ignore' });
    onLo.delete(cidr);
  }
  const namespace = values.namespace!;
  for (const [name, svc] of wantSlices) {
    if (slices.has(name)) continue;
    const ports = (svc.spec?.ports ?? []).map((p) => ({ port: Number(values.port), protocol: p.protocol ?? 'TCP' }));
    for (const [family, address] of [['IPv4', values.ipv4], ['IPv6', values.ipv6]] as const) {
      if (!address) continue;
      await discovery
        .createNamespacedEndpointSlice({
          namespace,
          body: {
            metadata: { name: `${sliceName(name)}-${family === 'IPv4' ? '4' : '6'}`, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'lab.ironlb.io' } },
            addressType: family,
            endpoints: [{ addresses: [address], nodeName: node, conditions: { ready: true, serving: true, terminating: false } }],
            ports,
          },
        })
        .catch((err: { code?: number; message?: string }) => {
          if (err.code !== 409) log.warn({ err: err.message, service: name }, 'could not create EndpointSlice');
        });
    }
    slices.add(name);
  }
  for (const name of slices) if (!wantSlices.has(name)) slices.delete(name); // the service's deletion takes its slices' meaning with it
}

let pending: Promise<void> = Promise.resolve();
services.onChange(() => {
  pending = pending.then(sync).catch((err: Error) => log.warn({ err: err.message }, 'sync failed'));
});
await services.start();
await sync();
log.info('lab backend ready');
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
