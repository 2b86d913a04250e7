import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namedBits, objectIdentifier, smallInteger, time, tlv, unsignedInteger } from './der.ts';
import { createCertificateAuthority, createServingCertificate, inspectCertificate, keyMatches, signedBy, splitPemBundle } from './x509.ts';

const hour = 3600_000;
const now = new Date('2026-03-01T12:00:00Z');
const ca = createCertificateAuthority({ commonName: 'test-ca', notBefore: now, notAfter: new Date(now.getTime() + 1000 * 24 * hour) });
const leaf = createServingCertificate(ca, {
  commonName: 'ironlb-webhook-service.metallb-system.svc',
  hosts: ['ironlb-webhook-service.metallb-system.svc', '127.0.0.1', '::1', '2001:db8::10'],
  notBefore: now,
  notAfter: new Date(now.getTime() + 100 * 24 * hour),
});

describe('DER writer', () => {
  test('encodes OIDs, integers, lengths, bit strings and times as DER', () => {
    assert.equal(objectIdentifier('1.2.840.10045.2.1').toString('hex'), '06072a8648ce3d0201');
    assert.equal(objectIdentifier('2.5.29.17').toString('hex'), '0603551d11');
    assert.equal(smallInteger(2).toString('hex'), '020102');
    assert.equal(unsignedInteger(Buffer.from([0x00, 0x00, 0x80])).toString('hex'), '02020080', 'sign byte added, zeros trimmed');
    assert.equal(tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8', 'long-form length');
    assert.equal(tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex'), '0482012c');
    assert.equal(namedBits([0, 5, 6]).toString('hex'), '03020186', 'keyCertSign|cRLSign|digitalSignature, 1 unused bit');
    assert.equal(namedBits([0]).toString('hex'), '03020780');
    assert.equal(time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2), '491231235959Z', 'UTCTime through 2049');
    assert.equal(time(new Date('2050-01-01T00:00:00Z')).toString('latin1').slice(2), '20500101000000Z', 'GeneralizedTime from 2050');
  });
});

describe('x509 certificates', () => {
  test('a CA and a serving certificate that Node parses and verifies', () => {
    const c = new X509Certificate(ca.certPem);
    assert.equal(c.ca, true);
    assert.equal(c.subject, 'O=IronLB\nCN=test-ca');
    assert.equal(new Date(c.validFrom).getTime(), now.getTime());
    const l = new X509Certificate(leaf.certPem);
    assert.equal(l.ca, false);
    assert.ok(l.checkIssued(c));
    assert.ok(l.verify(c.publicKey));
    assert.ok(l.checkHost('ironlb-webhook-service.metallb-system.svc'));
    assert.ok(l.checkIP('127.0.0.1'));
    assert.ok(l.checkIP('2001:db8::10'));
    assert.equal(l.checkHost('other.example'), undefined);
    assert.deepEqual(l.keyUsage ?? [], ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
    assert.ok(keyMatches(leaf.certPem, leaf.keyPem));
    assert.ok(!keyMatches(leaf.certPem, ca.keyPem));
    assert.ok(signedBy(leaf.certPem, ca.certPem));
    const other = createCertificateAuthority({ commonName: 'other', notBefore: now, notAfter: new Date(now.getTime() + hour) });
    assert.ok(!signedBy(leaf.certPem, other.certPem));
    const facts = inspectCertificate(leaf.certPem)!;
    assert.equal(facts.isCA, false);
    assert.equal(facts.notAfter.getTime(), now.getTime() + 100 * 24 * hour);
    assert.equal(inspectCertificate('garbage'), undefined);
    assert.equal(splitPemBundle(ca.certPem + leaf.certPem).length, 2);
  });

  test('openssl accepts the chain for TLS server use and reads every extension', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ironlb-x509-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), ca.certPem);
      writeFileSync(join(dir, 'leaf.pem'), leaf.certPem);
      const at = String(Math.floor(now.getTime() / 1000) + 3600);
      const out = execFileSync('openssl', ['verify', '-attime', at, '-purpose', 'sslserver', '-x509_strict', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
      assert.match(out, /leaf\.pem: OK/);
      const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
      assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /DNS:ironlb-webhook-service\.metallb-system\.svc, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:10/);
      assert.match(text, /Authority Key Identifier/);
      const caText = execFileSync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text'], { encoding: 'utf8' });
      assert.match(caText, /CA:TRUE, pathlen:0/);
      assert.match(caText, /Certificate Sign, CRL Sign/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a real TLS handshake: trusted by its CA, refused for a name it does not hold', async () => {
    const nowCa = createCertificateAuthority({ commonName: 'live', notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + hour) });
    const live = createServingCertificate(nowCa, { commonName: 'live', hosts: ['127.0.0.1', 'localhost'], notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + hour) });
    const server = createServer({ cert: live.certPem, key: live.keyPem }, (_req, res) => res.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const get = (servername: string, caPem: string) =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, servername, ca: caPem, path: '/' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.equal(await get('localhost', nowCa.certPem), 'hello');
      await assert.rejects(get('example.com', nowCa.certPem), /altnames|Hostname\/IP does not match/);
      await assert.rejects(get('localhost', ca.certPem), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
