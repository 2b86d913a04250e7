import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_EXCLUDED_INTERFACES, ineligibility, systemInterfaceNames, type LinkFacts } from './interfaces.ts';

const facts = (name: string, extra: Partial<LinkFacts> = {}): LinkFacts => ({
  name,
  ifindex: 2,
  mac: '02:00:00:00:00:02',
  up: true,
  loopback: false,
  noarp: false,
  slave: false,
  ...extra,
});

describe('ineligibility', () => {
  it('accepts ordinary up Ethernet-like interfaces', () => {
    for (const name of ['eth0', 'ens3', 'enp1s0f0', 'bond0', 'br0', 'eth0.100', 'lo0x', 'vlan10']) {
      assert.equal(ineligibility(facts(name)), undefined, name);
    }
  });

  it('excludes MetalLB’s default names', () => {
    for (const name of ['docker0', 'veth1a2b', 'cali123', 'flannel.1', 'kube-ipvs0', 'cni0', 'lo', 'cilium_host', 'lxc12', 'vxlan.calico', 'tunl0', 'weave', 'kube-bridge', 'nodelocaldns', 'genev_sys_6081']) {
      assert.equal(ineligibility(facts(name)), 'excluded by name', name);
    }
  });

  it('gives the reason for down, loopback, NOARP, bond members, enslaved ports and MAC-less devices', () => {
    assert.equal(ineligibility(facts('eth0', { up: false })), 'down');
    assert.equal(ineligibility(facts('eth0', { loopback: true })), 'loopback');
    assert.equal(ineligibility(facts('eth0', { noarp: true })), 'NOARP');
    assert.equal(ineligibility(facts('eth0', { slave: true })), 'bond member');
    assert.equal(ineligibility(facts('eth0', { master: 'br0' })), 'enslaved to br0');
    assert.equal(ineligibility(facts('wg0', { mac: undefined })), 'no Ethernet address');
  });

  it('is stable with a global or sticky pattern (lastIndex is not used)', () => {
    const exclude = [/^ext/g, /^int/y];
    for (let i = 0; i < 3; i++) {
      assert.equal(ineligibility(facts('ext0'), exclude), 'excluded by name');
      assert.equal(ineligibility(facts('int0'), exclude), 'excluded by name');
      assert.equal(ineligibility(facts('eth0'), exclude), undefined);
    }
    assert.equal(ineligibility(facts('docker0'), []), undefined);
    assert.ok(DEFAULT_EXCLUDED_INTERFACES.length > 0);
  });
});

describe('systemInterfaceNames', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  it('lists the interfaces of this namespace, loopback included', () => {
    assert.ok(systemInterfaceNames().includes('lo'));
  });
});
