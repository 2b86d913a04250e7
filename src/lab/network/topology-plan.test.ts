import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { standardLabSpec } from './standard-lab.ts';
import { planTopology, TopologySpecError, type TopologySpec } from './topology-plan.ts';

const two: TopologySpec = {
  segments: [{ name: 'lan', ipv4: '10.99.0.0/24', ipv6: 'fd99::/64' }],
  hosts: [
    { name: 'router', router: true, interfaces: [{ segment: 'lan', ipv4: '10.99.0.1', ipv6: 'fd99::1' }] },
    { name: 'node1', arpIgnore: true, interfaces: [{ segment: 'lan', ipv4: '10.99.0.11/24', ipv6: 'fd99::11' }], gateway4: '10.99.0.1', gateway6: 'fd99::1' },
  ],
};

describe('planTopology', () => {
  it('names namespaces <prefix>-<host>, the switch <prefix>-sw, ports p-<host>[-n]', () => {
    const plan = planTopology(standardLabSpec({ nodes: 2 }), 'ilb-abc123');
    assert.deepEqual(plan.namespaces, ['ilb-abc123-sw', 'ilb-abc123-router', 'ilb-abc123-node1', 'ilb-abc123-node2', 'ilb-abc123-client', 'ilb-abc123-far']);
    const router = plan.hosts.find((h) => h.name === 'router')!;
    assert.deepEqual(
      router.interfaces.map((i) => [i.name, i.segment, i.switchPort, i.ipv4Cidr, i.ipv6Cidr]),
      [
        ['eth0', 'lan', 'p-router', '10.99.0.1/24', 'fd99::1/64'],
        ['eth1', 'far', 'p-router-1', '10.98.0.1/24', 'fd98::1/64'],
      ],
    );
    const far = plan.hosts.find((h) => h.name === 'far')!;
    assert.equal(far.ipv4, '10.98.0.2');
    assert.equal(far.gateway6, 'fd98::1');
  });

  it('gives every interface a distinct locally administered MAC unless one is given', () => {
    const plan = planTopology(standardLabSpec({ nodes: 9 }), 'ilb-000000');
    const macs = plan.hosts.flatMap((h) => h.interfaces.map((i) => i.mac));
    assert.equal(new Set(macs).size, macs.length);
    for (const mac of macs) assert.match(mac, /^02:49:4c(:[0-9a-f]{2}){3}$/);
    const custom = planTopology({ ...two, hosts: [{ ...two.hosts[0]!, interfaces: [{ segment: 'lan', mac: '02:AA:00:00:00:01' }] }] }, 'ilb-000000');
    assert.equal(custom.hosts[0]!.interfaces[0]!.mac, '02:aa:00:00:00:01');
  });

  it('turns DAD off before any interface exists and adds IPv6 addresses with nodad', () => {
    const { steps } = planTopology(two, 'ilb-000000');
    const line = (s: readonly string[]): string => s.join(' ');
    const sysctlNode = steps.findIndex((s) => line(s).startsWith('ip netns exec ilb-000000-node1 sysctl'));
    const firstVeth = steps.findIndex((s) => s.includes('veth'));
    assert.ok(sysctlNode >= 0 && sysctlNode < firstVeth, 'sysctls come before the veths');
    const sysctls = steps[sysctlNode]!;
    for (const want of ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']) {
      assert.ok(sysctls.includes(want), `${want} in ${line(sysctls)}`);
    }
    const routerSysctls = steps.find((s) => line(s).startsWith('ip netns exec ilb-000000-router sysctl'))!;
    for (const want of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.fib_multipath_hash_policy=1']) assert.ok(routerSysctls.includes(want));
    assert.ok(!routerSysctls.includes('net.ipv4.conf.all.arp_ignore=1'));
    assert.ok(steps.some((s) => line(s) === 'ip -n ilb-000000-node1 addr add fd99::11/64 dev eth0 nodad'));
    assert.ok(steps.some((s) => line(s) === 'ip -n ilb-000000-node1 addr add 10.99.0.11/24 dev eth0'));
    assert.ok(steps.some((s) => line(s) === 'ip -n ilb-000000-node1 route add default via fd99::1'));
    assert.ok(steps.some((s) => line(s) === 'ip -n ilb-000000-sw link add p-node1 type veth peer name eth0 netns ilb-000000-node1 address 02:49:4c:00:02:00'));
    assert.ok(steps.some((s) => line(s) === 'ip -n ilb-000000-sw link set p-node1 master br-lan'));
  });

  it('creates the namespaces first and brings lo up everywhere', () => {
    const { steps, namespaces } = planTopology(two, 'ilb-000000');
    assert.deepEqual(steps.slice(0, namespaces.length), namespaces.map((ns) => ['ip', 'netns', 'add', ns]));
    for (const ns of namespaces) assert.ok(steps.some((s) => s.join(' ') === `ip -n ${ns} link set lo up`));
  });

  it('rejects what cannot be built, naming the host or segment', () => {
    const bad = (spec: TopologySpec, pattern: RegExp): void => assert.throws(() => planTopology(spec, 'ilb-000000'), (e: unknown) => e instanceof TopologySpecError && pattern.test(e.message));
    bad({ ...two, hosts: [{ name: 'sw', interfaces: [] }] }, /host "sw"/);
    bad({ ...two, hosts: [{ name: 'averyveryverylongname', interfaces: [] }] }, /averyvery/);
    bad({ ...two, hosts: [...two.hosts, two.hosts[0]!] }, /host "router" is defined twice/);
    bad({ ...two, hosts: [{ name: 'x', interfaces: [{ segment: 'nope' }] }] }, /unknown segment "nope"/);
    bad({ ...two, hosts: [{ name: 'x', interfaces: [{ segment: 'lan', ipv4: '10.99.0.300' }] }] }, /"10.99.0.300" is not an IPv4 address/);
    bad({ segments: [{ name: 'lan' }], hosts: [{ name: 'x', interfaces: [{ segment: 'lan', ipv4: '10.0.0.1' }] }] }, /no prefix length/);
    bad({ ...two, hosts: [{ name: 'x', gateway4: '10.99.0.1', interfaces: [] }] }, /gateway4 without an IPv4 address/);
    bad({ ...two, hosts: [{ name: 'x', interfaces: [{ segment: 'lan', mac: '02:00:00:00:00:01' }, { segment: 'lan', mac: '02:00:00:00:00:01' }] }] }, /already used/);
    bad({ ...two, hosts: [{ name: 'x', sysctls: { 'rm -rf': 1 }, interfaces: [] }] }, /not a sysctl name/);
    bad({ segments: [], hosts: [] }, /at least one host/);
  });
});
