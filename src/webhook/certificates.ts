// The webhook's certificates as data: what the Secret holds, whether it is still good, and what replaces
// it. Pure: the caller passes the time and does the reading and writing (cert-manager.ts).
//
// A CA (long-lived) signs the serving certificate (shorter). Either is replaced ahead of its expiry. When
// the CA is replaced, the old one stays in the CA bundle until it expires, so an API server that still has
// the old bundle, or a replica still serving the old certificate, keeps working during the switch.
import { formatIP, parseIP } from '../net/address.ts';
import { createCertificateAuthority, createServingCertificate, inspectCertificate, keyMatches, signedBy, splitPemBundle } from './x509.ts';

/** The Secret's keys. */
export const secretKeys = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
  previousCaCert: 'previous-ca.crt',
} as const;

export interface WebhookCertificates {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
  /** The CA this one replaced, kept in the bundle until it expires. */
  readonly previousCaCert?: string;
}

export interface CertificatePolicy {
  readonly caValidityMs: number;
  /** Replace the CA when less than this is left. */
  readonly caRenewBeforeMs: number;
  readonly certValidityMs: number;
  /** Replace the serving certificate when less than this is left. */
  readonly certRenewBeforeMs: number;
  /** notBefore is set this far in the past (clock skew between nodes and the API server). */
  readonly backdateMs: number;
}

const day = 24 * 3600 * 1000;

export const defaultCertificatePolicy: CertificatePolicy = {
  caValidityMs: 5 * 365 * day,
  caRenewBeforeMs: 365 * day,
  certValidityMs: 365 * day,
  certRenewBeforeMs: 90 * day,
  backdateMs: 3600 * 1000,
};

export interface CertificatePlan {
  readonly certificates: WebhookCertificates;
  /** False when `current` is good as it is. */
  readonly changed: boolean;
  /** Why something was replaced ("serving certificate expires at ..."), for the log. */
  readonly reasons: readonly string[];
}

/** Canonical host text: IPs in their standard form, DNS names lower case. */
function canonicalHost(h: string): string {
  const ip = parseIP(h);
  return ip ? formatIP(ip) : h.toLowerCase();
}

/** Reads the certificates from a Secret's decoded data; undefined if the main keys are missing. */
export function certificatesFromSecretData(data: Readonly<Record<string, string>> | undefined): WebhookCertificates | undefined {
  if (!data) return undefined;
  const { caCert, caKey, cert, key, previousCaCert } = secretKeys;
  if (!data[caCert] || !data[caKey] || !data[cert] || !data[key]) return undefined;
  return {
    caCert: data[caCert],
    caKey: data[caKey],
    cert: data[cert],
    key: data[key],
    ...(data[previousCaCert] ? { previousCaCert: data[previousCaCert] } : {}),
  };
}

export function certificatesToSecretData(c: WebhookCertificates): Record<string, string> {
  return {
    [secretKeys.caCert]: c.caCert,
    [secretKeys.caKey]: c.caKey,
    [secretKeys.cert]: c.cert,
    [secretKeys.key]: c.key,
    ...(c.previousCaCert ? { [secretKeys.previousCaCert]: c.previousCaCert } : {}),
  };
}

/** The CA bundle for the ValidatingWebhookConfiguration: the current CA, then the previous one while valid. */
export function caBundle(c: WebhookCertificates, now: Date): string {
  const previous = c.previousCaCert ? inspectCertificate(c.previousCaCert) : undefined;
  const keepPrevious = previous !== undefined && previous.notAfter.getTime() > now.getTime();
  return c.caCert + (keepPrevious ? c.previousCaCert! : '');
}

/** Why the CA must be replaced, or undefined if it is good. */
function caProblem(c: WebhookCertificates | undefined, now: Date, policy: CertificatePolicy): string | undefined {
  if (!c) return 'no CA yet';
  const facts = inspectCertificate(c.caCert);
  if (!facts) return 'the CA certificate does not parse';
  if (!facts.isCA) return 'the CA certificate is not a CA';
  if (!keyMatches(c.caCert, c.caKey)) return 'the CA key does not match the CA certificate';
  if (facts.notBefore.getTime() > now.getTime()) return `the CA is not valid before ${facts.notBefore.toISOString()}`;
  if (facts.notAfter.getTime() - now.getTime() < policy.caRenewBeforeMs) return `the CA expires at ${facts.notAfter.toISOString()}`;
  return undefined;
}

function certProblem(c: WebhookCertificates, hosts: readonly string[], now: Date, policy: CertificatePolicy): string | undefined {
  const facts = inspectCertificate(c.cert);
  if (!facts) return 'the serving certificate does not parse';
  if (!keyMatches(c.cert, c.key)) return 'the serving key does not match the serving certificate';
  if (!signedBy(c.cert, c.caCert)) return 'the serving certificate is not signed by the current CA';
  const have = new Set(facts.hosts.map(canonicalHost));
  const missing = hosts.map(canonicalHost).filter((h) => !have.has(h));
  if (missing.length > 0) return `the serving certificate does not name ${missing.join(', ')}`;
  if (facts.notBefore.getTime() > now.getTime()) return `the serving certificate is not valid before ${facts.notBefore.toISOString()}`;
  if (facts.notAfter.getTime() - now.getTime() < policy.certRenewBeforeMs) return `the serving certificate expires at ${facts.notAfter.toISOString()}`;
  return undefined;
}

/**
 * Keeps what is good in `current` and replaces the rest: a new CA (and so a new serving certificate) when
 * the CA is missing, broken or near its expiry; a new serving certificate when it is missing, broken, near
 * its expiry or does not name every host in `hosts`.
 */
export function planCertificates(
  current: WebhookCertificates | undefined,
  hosts: readonly string[],
  now: Date,
  policy: CertificatePolicy = defaultCertificatePolicy,
  commonName = hosts[0] ?? 'ironlb-webhook',
): CertificatePlan {
  if (hosts.length === 0) throw new Error('planCertificates: no hosts');
  if (policy.caRenewBeforeMs >= policy.caValidityMs || policy.certRenewBeforeMs >= policy.certValidityMs) {
    throw new Error('planCertificates: renew-before must be shorter than the validity');
  }
  const reasons: string[] = [];
  const notBefore = new Date(now.getTime() - policy.backdateMs);
  let ca: { certPem: string; keyPem: string };
  let previousCaCert = current?.previousCaCert;
  const caWhy = caProblem(current, now, policy);
  if (caWhy) {
    reasons.push(`new CA: ${caWhy}`);
    ca = createCertificateAuthority({ commonName: 'ironlb-webhook-ca', notBefore, notAfter: new Date(now.getTime() + policy.caValidityMs) });
    // Keep the replaced CA while it is still valid: whoever trusts only it keeps working for a while.
    const old = current ? inspectCertificate(current.caCert) : undefined;
    previousCaCert = old?.isCA && old.notAfter.getTime() > now.getTime() ? splitPemBundle(current!.caCert)[0] : undefined;
  } else {
    ca = { certPem: current!.caCert, keyPem: current!.caKey };
  }
  if (previousCaCert) {
    const prev = inspectCertificate(previousCaCert);
    if (!prev || prev.notAfter.getTime() <= now.getTime()) {
      reasons.push('dropping the expired previous CA');
      previousCaCert = undefined;
    }
  }
  let leaf: { certPem: string; keyPem: string } | undefined = current && !caWhy ? { certPem: current.cert, keyPem: current.key } : undefined;
  const certWhy = leaf ? certProblem({ caCert: ca.certPem, caKey: ca.keyPem, cert: leaf.certPem, key: leaf.keyPem }, hosts, now, policy) : 'it is issued by the new CA';
  if (certWhy) {
    if (leaf) reasons.push(`new serving certificate: ${certWhy}`);
    leaf = createServingCertificate(ca, { commonName, hosts, notBefore, notAfter: new Date(now.getTime() + policy.certValidityMs) });
  }
  const certificates: WebhookCertificates = {
    caCert: ca.certPem,
    caKey: ca.keyPem,
    cert: leaf!.certPem,
    key: leaf!.keyPem,
    ...(previousCaCert ? { previousCaCert } : {}),
  };
  return { certificates, changed: reasons.length > 0, reasons };
}
