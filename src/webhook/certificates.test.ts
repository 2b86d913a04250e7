import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type CertificatePolicy,
  caBundle,
  certificatesFromSecretData,
  certificatesToSecretData,
  planCertificates,
} from './certificates.ts';
import { createCertificateAuthority, inspectCertificate, signedBy, splitPemBundle } from './x509.ts';

const day = 24 * 3600_000;
const policy: CertificatePolicy = { caValidityMs: 100 * day, caRenewBeforeMs: 20 * day, certValidityMs: 30 * day, certRenewBeforeMs: 10 * day, backdateMs: 3600_000 };
const hosts = ['ironlb-webhook-service.metallb-system.svc', '127.0.0.1'];
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (days: number) => new Date(t0.getTime() + days * day);

describe('webhook certificate rotation (virtual time)', () => {
  test('issues a CA and a serving certificate, then keeps them while they are good', () => {
    const first = planCertificates(undefined, hosts, t0, policy);
    assert.equal(first.changed, true);
    assert.ok(signedBy(first.certificates.cert, first.certificates.caCert));
    assert.equal(inspectCertificate(first.certificates.cert)!.notBefore.getTime(), t0.getTime() - 3600_000, 'backdated for clock skew');
    const again = planCertificates(first.certificates, hosts, at(19), policy);
    assert.equal(again.changed, false);
    assert.deepEqual(again.certificates, first.certificates);
  });

  test('replaces the serving certificate before it expires, keeping the CA (and so the CA bundle)', () => {
    const first = planCertificates(undefined, hosts, t0, policy).certificates;
    const renewed = planCertificates(first, hosts, at(21), policy);
    assert.equal(renewed.changed, true);
    assert.match(renewed.reasons.join(), /new serving certificate: the serving certificate expires at/);
    assert.equal(renewed.certificates.caCert, first.caCert);
    assert.notEqual(renewed.certificates.cert, first.cert);
    assert.equal(caBundle(renewed.certificates, at(21)), caBundle(first, at(21)));
    assert.equal(inspectCertificate(renewed.certificates.cert)!.notAfter.getTime(), at(51).getTime());
  });

  test('replaces the CA before it expires; the old CA stays in the bundle until it expires', () => {
    let c = planCertificates(undefined, hosts, t0, policy).certificates;
    for (let d = 21; d <= 61; d += 20) c = planCertificates(c, hosts, at(d), policy).certificates; // leaf renewals
    const oldCa = c.caCert;
    const rotated = planCertificates(c, hosts, at(81), policy);
    assert.equal(rotated.changed, true);
    assert.match(rotated.reasons.join(), /new CA: the CA expires at/);
    assert.notEqual(rotated.certificates.caCert, oldCa);
    assert.equal(rotated.certificates.previousCaCert, oldCa);
    assert.ok(signedBy(rotated.certificates.cert, rotated.certificates.caCert), 'the new leaf is signed by the new CA');
    assert.deepEqual(splitPemBundle(caBundle(rotated.certificates, at(81))), [rotated.certificates.caCert, oldCa]);
    // The old CA expires at day 100: then it leaves the bundle, and the next plan drops it.
    assert.deepEqual(splitPemBundle(caBundle(rotated.certificates, at(101))), [rotated.certificates.caCert]);
    const later = planCertificates(rotated.certificates, hosts, at(101), policy);
    assert.equal(later.certificates.previousCaCert, undefined);
    assert.match(later.reasons.join(), /dropping the expired previous CA/);
  });

  test('replaces a certificate that lacks a wanted host, does not match its key, or is not from the CA', () => {
    const c = planCertificates(undefined, hosts, t0, policy).certificates;
    const moreHosts = planCertificates(c, [...hosts, 'ironlb-webhook-service.other.svc'], at(1), policy);
    assert.match(moreHosts.reasons.join(), /does not name ironlb-webhook-service\.other\.svc/);
    assert.equal(moreHosts.certificates.caCert, c.caCert);
    const wrongKey = planCertificates({ ...c, key: c.caKey }, hosts, at(1), policy);
    assert.match(wrongKey.reasons.join(), /serving key does not match/);
    const other = createCertificateAuthority({ commonName: 'x', notBefore: t0, notAfter: at(100) });
    const foreign = planCertificates({ ...c, caCert: other.certPem, caKey: other.keyPem }, hosts, at(1), policy);
    assert.match(foreign.reasons.join(), /not signed by the current CA/);
    const broken = planCertificates({ ...c, caCert: 'junk' }, hosts, at(1), policy);
    assert.match(broken.reasons.join(), /CA certificate does not parse/);
    assert.equal(broken.certificates.previousCaCert, undefined);
    // An IPv6 host written differently is the same host.
    const v6 = planCertificates(undefined, ['svc', '2001:db8::1'], t0, policy).certificates;
    assert.equal(planCertificates(v6, ['svc', '2001:0db8:0:0::1'], at(1), policy).changed, false);
  });

  test('Secret data round trip', () => {
    const c = planCertificates(undefined, hosts, t0, policy).certificates;
    assert.deepEqual(certificatesFromSecretData(certificatesToSecretData(c)), c);
    assert.equal(certificatesFromSecretData({}), undefined);
    assert.equal(certificatesFromSecretData({ 'tls.crt': 'x' }), undefined);
    assert.deepEqual(Object.keys(certificatesToSecretData(c)).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });
});
