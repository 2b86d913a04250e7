import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { silentLogger } from '../log/logger.ts';
import { WebhookServer } from './server.ts';
import { decide } from './webhook.ts';
import type { ConfigReader } from './config-reader.ts';
import { createCertificateAuthority, createServingCertificate } from './x509.ts';
import { pool, sources } from '../config/fixtures.ts';

const hour = 3600_000;
const ca = createCertificateAuthority({ commonName: 'ca', notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + hour) });
const leaf = createServingCertificate(ca, { commonName: 'x', hosts: ['127.0.0.1'], notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + hour) });

function call(port: number, method: string, path: string, body?: string, caPem = ca.certPem): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca: caPem, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const review = (object: unknown, operation = 'CREATE', namespace = 'metallb-system') =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'uid-1', kind: { group: 'metallb.io', version: 'v1beta1', kind: 'IPAddressPool' }, operation, namespace, name: 'p', object },
  });

describe('webhook HTTPS server', () => {
  let server: WebhookServer;
  let failing = false;
  const reader: ConfigReader = {
    read: async () => {
      if (failing) throw new Error('API server unreachable');
      return sources({ ipAddressPools: [pool('existing', { addresses: ['10.0.0.0/24'] })] });
    },
    namespaceTerminating: async () => false,
  };
  before(async () => {
    server = await WebhookServer.start({ port: 0, host: '127.0.0.1', cert: leaf.certPem, key: leaf.keyPem, log: silentLogger(), handle: (r) => decide(r.change, 'metallb-system', reader) });
  });
  after(() => server.close());

  test('answers an AdmissionReview: allowed, and denied with the parser message', async () => {
    const ok = await call(server.port, 'POST', '/validate', review(pool('p', { addresses: ['10.0.1.0/24'] })));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-1', allowed: true } });
    const bad = JSON.parse((await call(server.port, 'POST', '/validate', review(pool('p', { addresses: ['10.0.0.5'] })))).body);
    assert.equal(bad.response.allowed, false);
    assert.match(bad.response.status.message, /^IPAddressPool metallb-system\/p: addresses\[0\] .*overlaps/);
  });

  test('fails closed when the configuration cannot be read', async () => {
    failing = true;
    try {
      const r = JSON.parse((await call(server.port, 'POST', '/validate', review(pool('p', { addresses: ['10.0.1.0/24'] })))).body);
      assert.equal(r.response.allowed, false);
      assert.equal(r.response.status.message, 'IronLB could not check this change: API server unreachable');
      // Objects elsewhere are refused without reading anything.
      const elsewhere = JSON.parse((await call(server.port, 'POST', '/validate', review(pool('p', { addresses: ['10.0.1.0/24'] }, { namespace: 'x' }), 'CREATE', 'x'))).body);
      assert.match(elsewhere.response.status.message, /only from namespace "metallb-system"/);
    } finally {
      failing = false;
    }
  });

  test('refuses what is not an AdmissionReview; health and unknown paths', async () => {
    assert.equal((await call(server.port, 'POST', '/validate', '{not json')).status, 400);
    assert.match((await call(server.port, 'POST', '/validate', '{"kind":"Pod"}')).body, /not an AdmissionReview: kind must be AdmissionReview/);
    assert.equal((await call(server.port, 'GET', '/validate')).status, 405);
    assert.equal((await call(server.port, 'GET', '/healthz')).status, 200);
    assert.equal((await call(server.port, 'GET', '/other')).status, 404);
    assert.equal((await call(server.port, 'POST', '/validate', 'x'.repeat(5 * 1024 * 1024))).status, 413);
  });

  test('swaps its certificate without restarting', async () => {
    const ca2 = createCertificateAuthority({ commonName: 'ca2', notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + hour) });
    const leaf2 = createServingCertificate(ca2, { commonName: 'y', hosts: ['127.0.0.1'], notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + hour) });
    server.setCertificate(leaf2.certPem, leaf2.keyPem);
    assert.equal((await call(server.port, 'GET', '/healthz', undefined, ca2.certPem)).status, 200);
    await assert.rejects(call(server.port, 'GET', '/healthz', undefined, ca.certPem));
    server.setCertificate(leaf.certPem, leaf.keyPem);
  });
});
