import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequest, isManagedService, statusIPs, type ServiceObject } from './service-request.ts';
import { formatIP } from '../net/address.ts';

const svc = (over: Partial<ServiceObject['spec']> = {}, annotations: Record<string, string> = {}): ServiceObject => ({
  metadata: { name: 's', namespace: 'ns', annotations },
  spec: { type: 'LoadBalancer', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80, protocol: 'TCP' }], ...over },
});

describe('buildRequest', () => {
  const cases: { name: string; svc: ServiceObject; ips?: string[]; reason?: RegExp; deprecated?: string[] }[] = [
    { name: 'no request', svc: svc(), ips: [] },
    { name: 'annotation IP', svc: svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.5' }), ips: ['10.0.0.5'] },
    { name: 'spec IP', svc: svc({ loadBalancerIP: '10.0.0.6' }), ips: ['10.0.0.6'] },
    {
      name: 'dual-stack annotation',
      svc: svc({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }, { 'metallb.io/loadBalancerIPs': '10.0.0.5, fd00::5' }),
      ips: ['10.0.0.5', 'fd00::5'],
    },
    {
      name: 'old prefix read, flagged deprecated',
      svc: svc({}, { 'metallb.universe.tf/loadBalancerIPs': '10.0.0.7' }),
      ips: ['10.0.0.7'],
      deprecated: ['metallb.universe.tf/loadBalancerIPs'],
    },
    {
      name: 'new prefix wins over old',
      svc: svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.8', 'metallb.universe.tf/loadBalancerIPs': '10.0.0.9' }),
      ips: ['10.0.0.8'],
      deprecated: [],
    },
    { name: 'not an IP', svc: svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.300' }), reason: /"10\.0\.0\.300" is not an IP address/ },
    { name: 'empty entry', svc: svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.1,' }), reason: /"" is not an IP address/ },
    { name: 'two of one family', svc: svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.1,10.0.0.2' }), reason: /more than one IPv4/ },
    {
      name: 'three IPs',
      svc: svc({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }, { 'metallb.io/loadBalancerIPs': '10.0.0.1,fd00::1,fd00::2' }),
      reason: /more than one IPv6/,
    },
    { name: 'family mismatch', svc: svc({}, { 'metallb.io/loadBalancerIPs': 'fd00::1' }), reason: /is IPv6, but the service's IP families are IPv4/ },
    { name: 'spec and annotation', svc: svc({ loadBalancerIP: '10.0.0.1' }, { 'metallb.io/loadBalancerIPs': '10.0.0.2' }), reason: /both set/ },
    { name: 'bad spec IP', svc: svc({ loadBalancerIP: 'abc' }), reason: /spec\.loadBalancerIP: "abc" is not an IP address/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = buildRequest(c.svc, { team: 'a' });
      if (c.reason) {
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.reason, c.reason);
        return;
      }
      assert.equal(r.ok, true, r.ok ? '' : r.reason);
      if (!r.ok) return;
      assert.deepEqual(r.request.requestedIPs.map(formatIP), c.ips);
      assert.deepEqual(r.request.namespaceLabels, { team: 'a' });
      if (c.deprecated) assert.deepEqual(r.deprecatedAnnotations, c.deprecated);
    });
  }

  it('reads pool, sharing key, ports, traffic policy and families', () => {
    const r = buildRequest(
      svc(
        { externalTrafficPolicy: 'Local', ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack', selector: { app: 'x' }, ports: [{ port: 53, protocol: 'UDP' }] },
        { 'metallb.io/address-pool': 'p1', 'metallb.io/allow-shared-ip': 'k' },
      ),
      {},
    );
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.request.poolName, 'p1');
    assert.equal(r.request.sharingKey, 'k');
    assert.equal(r.request.externalTrafficPolicy, 'Local');
    assert.deepEqual(r.request.families, ['IPv6', 'IPv4']);
    assert.equal(r.request.familyPolicy, 'PreferDualStack');
    assert.deepEqual(r.request.ports, [{ port: 53, protocol: 'UDP' }]);
  });
});

describe('isManagedService', () => {
  it('takes only LoadBalancer services of the right class', () => {
    assert.equal(isManagedService(svc(), undefined), true);
    assert.equal(isManagedService(svc({ type: 'ClusterIP' }), undefined), false);
    assert.equal(isManagedService(svc({ loadBalancerClass: 'x' }), undefined), false);
    assert.equal(isManagedService(svc({ loadBalancerClass: 'x' }), 'x'), true);
    assert.equal(isManagedService(svc(), 'x'), false);
    assert.equal(isManagedService({ ...svc(), metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }, undefined), false);
  });
});

describe('statusIPs', () => {
  it('keeps IPs and skips hostnames and junk', () => {
    const s: ServiceObject = { status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }, { hostname: 'lb.example' }, { ip: 'junk' }, { ip: 'fd00::1' }] } } };
    assert.deepEqual(statusIPs(s).map(formatIP), ['10.0.0.1', 'fd00::1']);
  });
});
