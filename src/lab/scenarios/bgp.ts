// BGP: the router peers with every node (eBGP, router AS 65000, nodes AS 65001); a Service gets an IP;
// the router's table shows the route with ECMP over the nodes; the far client's requests spread.
import { nodeASN, routerASN } from '../lab.ts';
import { LAN } from '../network/standard-lab.ts';
import { until, type Scenario, type ScenarioContext } from '../scenario.ts';
import { applyConfig, applyService, curl, waitForIngress } from './objects.ts';

function routerShow(ctx: ScenarioContext, what: 'summary' | 'route', prefix?: string) {
  const cli = ctx.state.routerCli;
  switch (ctx.state.router) {
    case 'frr':
      return ctx.run([...cli, '-c', what === 'summary' ? 'show bgp summary' : `show bgp ipv4 unicast ${prefix}`]);
    case 'bird':
      return ctx.run([...cli, ...(what === 'summary' ? ['show', 'protocols'] : ['show', 'route', 'for', prefix!, 'all'])]);
    case 'gobgp':
      return ctx.run([...cli, ...(what === 'summary' ? ['neighbor'] : ['global', 'rib', prefix!])]);
  }
}

export const bgpScenario: Scenario = {
  name: 'bgp',
  summary: 'BGP mode: every node peers with the router; ECMP spreads the far client over the nodes',
  async run(ctx) {
    const nodes = ctx.state.nodes.length;
    ctx.step(`Peer every node with the router (eBGP: router AS ${routerASN}, nodes AS ${nodeASN})`);
    await applyConfig(ctx, 'BGPPeer', 'bgppeers', 'v1beta2', 'router', { myASN: nodeASN, peerASN: routerASN, peerAddress: LAN.router4, holdTime: '9s' });
    await applyConfig(ctx, 'IPAddressPool', 'ipaddresspools', 'v1beta1', 'demo-bgp', { addresses: ['10.97.0.0/24', 'fd97::/120'], avoidBuggyIPs: true });
    await applyConfig(ctx, 'BGPAdvertisement', 'bgpadvertisements', 'v1beta1', 'demo-bgp', { ipAddressPools: ['demo-bgp'] });
    const established = await until(
      `BGP sessions from all ${nodes} nodes`,
      async () => {
        const list = (await ctx.custom.listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: 'metallb-system', plural: 'bgpsessionstates' })) as {
          items: { status?: { bgpStatus?: string; node?: string } }[];
        };
        const up = list.items.filter((i) => i.status?.bgpStatus === 'Established').length;
        return up >= nodes ? up : undefined;
      },
      40_000,
    );
    routerShow(ctx, 'summary');
    ctx.kubectl(['get', 'bgpsessionstates', '-n', 'metallb-system']);
    ctx.check('sessions established', established === nodes, `${established} of ${nodes} nodes Established`);

    ctx.step('Create a LoadBalancer Service');
    await applyService(ctx, 'demo-bgp', 'demo-bgp');
    const ips = await waitForIngress(ctx, 'demo-bgp');
    ctx.kubectl(['get', 'service', '-n', 'lab', 'demo-bgp', '-o', 'wide']);
    const vip = ips.find((ip) => !ip.includes(':'))!;
    ctx.check('IP assigned', !!vip, `demo-bgp got ${ips.join(', ')}`);

    ctx.step("The router's table: one route, a next hop per node");
    let paths = 0;
    if (ctx.state.router === 'gobgp') {
      // GoBGP installs nothing in the kernel; count the paths in its RIB.
      paths = await until(`${nodes} paths in GoBGP's RIB`, () => {
        const r = ctx.run([...ctx.state.routerCli, 'global', 'rib', `${vip}/32`, '-j'], { quiet: true });
        const n = (r.stdout.match(/"nexthop"/g) ?? []).length;
        return n >= nodes ? n : undefined;
      });
      routerShow(ctx, 'route', `${vip}/32`);
    } else {
      paths = await until(`an ECMP kernel route with ${nodes} next hops`, () => {
        const r = ctx.runOn('router', ['ip', '-j', 'route', 'show', vip], { quiet: true });
        const routes = JSON.parse(r.stdout || '[]') as { nexthops?: unknown[]; gateway?: string }[];
        const n = routes[0]?.nexthops?.length ?? (routes[0]?.gateway ? 1 : 0);
        return n >= nodes ? n : undefined;
      });
      routerShow(ctx, 'route', `${vip}/32`);
      ctx.runOn('router', ['ip', 'route', 'show', vip]);
    }
    ctx.check('ECMP', paths === nodes, `${paths} paths for ${vip} over ${nodes} nodes`);

    if (ctx.state.router === 'gobgp') {
      ctx.say('GoBGP installs no routes into the kernel, so the far client has no path to the service; the RIB above shows the ECMP paths.');
      return;
    }
    ctx.step('The far client (behind the router) sends 30 requests');
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const who = curl(ctx, 'far', vip, { quiet: true });
      if (who) counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    curl(ctx, 'far', vip);
    const spread = [...counts].map(([n, c]) => `${n}: ${c}`).join(', ');
    ctx.say(`answers per node: ${spread || 'none'}`);
    const answered = [...counts.values()].reduce((a, b) => a + b, 0);
    ctx.check('curls answered', answered === 30, `${answered} of 30 answered`);
    ctx.check('spread over nodes', counts.size >= Math.min(2, nodes), spread || 'no answers');
  },
};
