// Layer2: a pool on the node subnet; a Service gets an IP; the client curls it; the announcing node is
// cut off; another node takes over; the downtime is measured.
import { performance } from 'node:perf_hooks';
import { until, type Scenario } from '../scenario.ts';
import { applyConfig, applyService, curl, l2Announcer, waitForIngress } from './objects.ts';

export const layer2Scenario: Scenario = {
  name: 'layer2',
  summary: 'Layer2 mode: ARP/NDP from one elected node, and failover when that node is cut off',
  async run(ctx) {
    ctx.step('Configure a Layer2 pool on the nodes\' own subnet');
    await applyConfig(ctx, 'IPAddressPool', 'ipaddresspools', 'v1beta1', 'demo-l2', { addresses: ['10.99.0.200-10.99.0.219', 'fd99::200-fd99::219'] });
    await applyConfig(ctx, 'L2Advertisement', 'l2advertisements', 'v1beta1', 'demo-l2', { ipAddressPools: ['demo-l2'] });

    ctx.step('Create a LoadBalancer Service');
    await applyService(ctx, 'demo-l2', 'demo-l2');
    const ips = await waitForIngress(ctx, 'demo-l2');
    ctx.kubectl(['get', 'service', '-n', 'lab', 'demo-l2', '-o', 'wide']);
    const vip = ips.find((ip) => !ip.includes(':'))!;
    ctx.check('IP assigned', !!vip, `demo-l2 got ${ips.join(', ')}`);

    ctx.step('Which node answers ARP for it');
    const announcer = await until('a ServiceL2Status for demo-l2', () => l2Announcer(ctx, 'demo-l2'));
    ctx.kubectl(['get', 'servicel2statuses', '-n', 'metallb-system', '-l', 'metallb.io/service-name=demo-l2']);
    ctx.say(`elected node: ${announcer}`);

    ctx.step('The client on the same segment curls the service');
    const first = await until('an answer from the service', () => curl(ctx, 'client', vip, { quiet: true }), 20_000);
    curl(ctx, 'client', vip);
    ctx.runOn('client', ['ip', 'neigh', 'show', vip]);
    ctx.check('curl answered', first === announcer, `answered by ${first}, elected ${announcer}`);

    ctx.step(`Cut ${announcer} off the network (its switch port goes down)`);
    const port = `p-${announcer}`;
    ctx.run(['ip', '-n', ctx.state.switchNamespace, 'link', 'set', port, 'down']);
    const t0 = performance.now();
    let taker: string | undefined;
    let attempts = 0;
    while (performance.now() - t0 < 30_000) {
      attempts++;
      const who = curl(ctx, 'client', vip, { quiet: true, timeoutS: 0.2 });
      if (who && who !== announcer) {
        taker = who;
        break;
      }
    }
    const downtimeMs = performance.now() - t0;
    ctx.say(`the client polled every ~0.2 s: ${attempts} requests until ${taker ?? 'nobody'} answered`);
    curl(ctx, 'client', vip);
    ctx.runOn('client', ['ip', 'neigh', 'show', vip]);
    ctx.check('failover happened', taker !== undefined && taker !== announcer, `${announcer} → ${taker ?? 'none'}, downtime ${Math.round(downtimeMs)} ms`);

    ctx.step(`Bring ${announcer} back`);
    ctx.run(['ip', '-n', ctx.state.switchNamespace, 'link', 'set', port, 'up']);
  },
};
