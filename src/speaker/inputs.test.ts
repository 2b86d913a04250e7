// What the speaker keeps of watched objects: everything its readers use gives the same answers from the
// projection as from the full object, and the bulk is gone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readNodes } from '../config/node.ts';
import type { ServiceObject } from '../controller/service-request.ts';
import {
  endpointSliceForSpeaker,
  nodeForSpeaker,
  nodeInfo,
  nodeInternalIP,
  nodeReady,
  serviceForSpeaker,
  serviceInfos,
  type EndpointSliceObject,
  type NodeObject,
} from './inputs.ts';

const lastApplied = JSON.stringify({ apiVersion: 'v1', kind: 'Service', spec: { ports: Array.from({ length: 20 }, (_, i) => ({ port: 8000 + i })) } });

const services: ServiceObject[] = [
  {
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'u1',
      labels: { tier: 'gold' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied, 'metallb.io/address-pool': 'web' },
      creationTimestamp: '2026-11-22T10:00:00Z',
    },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      ports: [{ protocol: 'TCP', port: 80 }],
      selector: { app: 'web' },
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
    },
    status: { loadBalancer: { ingress: [{ ip: '10.1.0.5' }, { ip: 'fd01::5' }] } },
  },
  { metadata: { name: 'other', namespace: 'shop' }, spec: { type: 'LoadBalancer', loadBalancerClass: 'someone-else' }, status: { loadBalancer: { ingress: [{ ip: '10.1.0.6' }] } } },
  { metadata: { name: 'going', namespace: 'shop', deletionTimestamp: '2026-11-22T11:00:00Z' }, spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ ip: '10.1.0.7' }] } } },
  { metadata: { name: 'internal', namespace: 'shop' }, spec: { type: 'ClusterIP' } },
];

const slices = [
  {
    metadata: { name: 'web-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' }, resourceVersion: '7' },
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.244.1.5'], nodeName: 'n1', conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', name: 'web-1', uid: 'p1' }, zone: 'a' },
      { addresses: ['10.244.2.5'], nodeName: 'n2', conditions: { ready: false, serving: true, terminating: true }, targetRef: { kind: 'Pod', name: 'web-2', uid: 'p2' } },
      { addresses: ['10.244.3.5'], nodeName: 'n3', conditions: { ready: false, serving: false } },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  },
] as unknown as EndpointSliceObject[];

const nodes = [
  {
    metadata: { name: 'n1', labels: { rack: 'a' }, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } },
    spec: { unschedulable: true, podCIDR: '10.244.1.0/24' },
    status: {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: '2026-11-22T10:00:00Z' },
        { type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated' },
      ],
      addresses: [{ type: 'InternalIP', address: '192.168.1.1' }, { type: 'InternalIP', address: 'fd00::1' }, { type: 'Hostname', address: 'n1' }],
      images: Array.from({ length: 50 }, (_, i) => ({ names: [`registry.example/image-${i}@sha256:${'0'.repeat(64)}`], sizeBytes: 1e8 })),
      nodeInfo: { kubeletVersion: 'v1.34.4' },
    },
  },
] as unknown as NodeObject[];

describe('what the speaker keeps of watched objects', () => {
  it('Services and EndpointSlices: the same ServiceInfos from the projections', () => {
    const full = serviceInfos(services, slices, undefined);
    assert.equal(full.length, 1, 'only "web" is a managed LoadBalancer with an IP');
    assert.deepEqual(serviceInfos(services.map(serviceForSpeaker), slices.map(endpointSliceForSpeaker), undefined), full);
    assert.deepEqual(
      serviceInfos(services.map(serviceForSpeaker), slices.map(endpointSliceForSpeaker), 'someone-else').map((s) => s.key),
      serviceInfos(services, slices, 'someone-else').map((s) => s.key),
    );
  });

  it('Nodes: the same planner and configuration view from the projection', () => {
    const kept = nodes.map(nodeForSpeaker);
    assert.deepEqual(kept.map(nodeInfo), nodes.map(nodeInfo));
    assert.deepEqual(kept.map((n) => nodeReady(n)), [true]);
    assert.equal(nodeInternalIP(kept[0]!), '192.168.1.1');
    assert.equal(nodeInternalIP(kept[0]!, 'IPv6'), 'fd00::1');
    assert.deepEqual(readNodes(kept), readNodes(nodes));
  });

  it('keeps name, namespace and resourceVersion (the cache needs them) and drops the bulk', () => {
    const svc = serviceForSpeaker({ ...services[0]!, metadata: { ...services[0]!.metadata, resourceVersion: '42' } } as ServiceObject);
    assert.deepEqual(svc.metadata, { name: 'web', namespace: 'shop', resourceVersion: '42', labels: { tier: 'gold' } });
    assert.equal(endpointSliceForSpeaker(slices[0]!).metadata?.namespace, 'shop');
    const size = (o: unknown) => JSON.stringify(o).length;
    assert.ok(size(svc) * 3 < size(services[0]), `Service: ${size(svc)} of ${size(services[0])} bytes`);
    assert.ok(size(nodeForSpeaker(nodes[0]!)) * 10 < size(nodes[0]), 'Node: the image list is gone');
    const slice = JSON.stringify(endpointSliceForSpeaker(slices[0]!));
    for (const gone of ['addresses', 'targetRef', 'ports', 'zone', 'addressType']) assert.ok(!slice.includes(`"${gone}"`), `EndpointSlice without ${gone}`);
  });
});
