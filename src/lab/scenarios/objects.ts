// The configuration and Services the lab scenarios create, through the API as `kubectl apply` would.
import { labNamespace } from '../lab.ts';
import { until, type ScenarioContext } from '../scenario.ts';

const group = { group: 'metallb.io', namespace: 'metallb-system' };

/** Creates (or replaces) a metallb.io object in the install namespace. */
export async function applyConfig(ctx: ScenarioContext, kind: string, plural: string, version: string, name: string, spec: Record<string, unknown>): Promise<void> {
  const body = { apiVersion: `metallb.io/${version}`, kind, metadata: { name, namespace: group.namespace }, spec };
  try {
    await ctx.custom.createNamespacedCustomObject({ ...group, version, plural, body });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    const existing = (await ctx.custom.getNamespacedCustomObject({ ...group, version, plural, name })) as { metadata: { resourceVersion: string } };
    await ctx.custom.replaceNamespacedCustomObject({ ...group, version, plural, name, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion } } });
  }
  ctx.say(`applied ${kind} ${group.namespace}/${name}: ${JSON.stringify(spec)}`);
}

/** A dual-stack LoadBalancer Service in the lab namespace, port 80, from the given pool. */
export async function applyService(ctx: ScenarioContext, name: string, pool: string, extra: { externalTrafficPolicy?: 'Cluster' | 'Local' } = {}): Promise<void> {
  try {
    await ctx.core.createNamespacedService({
      namespace: labNamespace,
      body: {
        metadata: { name, namespace: labNamespace, annotations: { 'metallb.io/address-pool': pool } },
        spec: {
          type: 'LoadBalancer',
          ipFamilyPolicy: 'PreferDualStack',
          ipFamilies: ['IPv4', 'IPv6'],
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
          selector: { app: name },
          externalTrafficPolicy: extra.externalTrafficPolicy,
        },
      },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  ctx.say(`created Service ${labNamespace}/${name} (type LoadBalancer, port 80, pool ${pool})`);
}

export async function waitForIngress(ctx: ScenarioContext, name: string, timeoutMs = 20_000): Promise<string[]> {
  return until(
    `an IP for Service ${labNamespace}/${name}`,
    async () => {
      const svc = await ctx.core.readNamespacedService({ name, namespace: labNamespace });
      const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean);
      return ips.length > 0 ? ips : undefined;
    },
    timeoutMs,
  );
}

/** The node whose ServiceL2Status says it announces the service. */
export async function l2Announcer(ctx: ScenarioContext, service: string): Promise<string | undefined> {
  const list = (await ctx.custom.listNamespacedCustomObject({
    ...group,
    version: 'v1beta1',
    plural: 'servicel2statuses',
    labelSelector: `metallb.io/service-name=${service}`,
  })) as { items: { status?: { node?: string } }[] };
  const nodes = list.items.map((i) => i.status?.node).filter((n): n is string => !!n);
  return nodes.length === 1 ? nodes[0] : undefined;
}

/** One HTTP request from a lab host; the answering node's name, or undefined. */
export function curl(ctx: ScenarioContext, host: string, ip: string, opts: { quiet?: boolean; timeoutS?: number } = {}): string | undefined {
  const url = ip.includes(':') ? `http://[${ip}]/` : `http://${ip}/`;
  const r = ctx.runOn(host, ['curl', '-s', '--max-time', String(opts.timeoutS ?? 2), url], { quiet: opts.quiet, timeoutMs: (opts.timeoutS ?? 2) * 1000 + 2000 });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}
