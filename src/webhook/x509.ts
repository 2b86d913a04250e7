// Self-signed CA and serving certificates for the webhook, written with node:crypto alone: ECDSA P-256
// keys, SHA-256 signatures, X.509 v3 with the extensions a Go TLS client (the kube-apiserver) checks:
// basicConstraints, keyUsage, extKeyUsage serverAuth and subjectAltName (Go ignores the CN).
// Node can parse and verify certificates (X509Certificate) but not make them, hence this small writer.
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  bitStringBytes,
  boolean,
  explicit,
  implicitPrimitive,
  namedBits,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.ts';
import { parseIP, type IPAddress } from '../net/address.ts';

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateRequest {
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ServingCertificateRequest extends CertificateRequest {
  /** DNS names and IP addresses for subjectAltName (at least one). */
  readonly hosts: readonly string[];
}

const oid = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const keyUsageBit = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

const ecdsaWithSHA256 = sequence(objectIdentifier(oid.ecdsaWithSHA256));

function name(commonName: string): Buffer {
  return sequence(
    set(sequence(objectIdentifier(oid.organization), utf8String('IronLB'))),
    set(sequence(objectIdentifier(oid.commonName), utf8String(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(objectIdentifier(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** The SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // For an EC key the SPKI is SEQ { SEQ { 2 OIDs }, BIT STRING }: the key bits are its last TLV; hashing
  // the whole SPKI would work as well, but this is what other tools compute.
  const bits = lastTlvValue(spki).subarray(1); // drop the unused-bits byte
  return createHash('sha1').update(bits).digest();
}

function lastTlvValue(der: Buffer): Buffer {
  // Walk the outer SEQUENCE's children and return the last one's value.
  const { start, end } = header(der, 0);
  let pos = start;
  let last: Buffer = Buffer.alloc(0);
  while (pos < end) {
    const h = header(der, pos);
    last = der.subarray(h.start, h.end);
    pos = h.end;
  }
  return last;
}

function header(der: Buffer, at: number): { start: number; end: number } {
  const first = der[at + 1]!;
  if (first < 0x80) return { start: at + 2, end: at + 2 + first };
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
  return { start: at + 2 + n, end: at + 2 + n + len };
}

function ipBytes(ip: IPAddress): Buffer {
  const width = ip.family === 'IPv4' ? 4 : 16;
  const out = Buffer.alloc(width);
  let v = ip.value;
  for (let i = width - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function subjectAltName(hosts: readonly string[]): Buffer {
  return sequence(
    ...hosts.map((h) => {
      const ip = parseIP(h);
      return ip ? implicitPrimitive(7, ipBytes(ip)) : implicitPrimitive(2, Buffer.from(h, 'ascii'));
    }),
  );
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

interface Issuer {
  readonly name: Buffer;
  readonly key: KeyObject;
  readonly keyId: Buffer;
}

function certificate(
  subject: Buffer,
  publicKey: KeyObject,
  issuer: Issuer,
  req: CertificateRequest,
  extensions: Buffer[],
): string {
  if (!(req.notAfter.getTime() > req.notBefore.getTime())) throw new Error('certificate: notAfter must be after notBefore');
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive, at most 20 octets
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    ecdsaWithSHA256,
    issuer.name,
    sequence(time(req.notBefore), time(req.notAfter)),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer.key); // DER-encoded ECDSA-Sig-Value
  return toPem(sequence(tbs, ecdsaWithSHA256, bitStringBytes(signature)));
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

const keyPem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A self-signed CA certificate (may sign leaf certificates only: pathLen 0). */
export function createCertificateAuthority(req: CertificateRequest): KeyPair {
  const { privateKey, publicKey } = newKey();
  const subject = name(req.commonName);
  const keyId = keyIdentifier(publicKey);
  const certPem = certificate(subject, publicKey, { name: subject, key: privateKey, keyId }, req, [
    extension(oid.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
    extension(oid.keyUsage, true, namedBits([keyUsageBit.digitalSignature, keyUsageBit.keyCertSign, keyUsageBit.cRLSign])),
    extension(oid.subjectKeyIdentifier, false, octetString(keyId)),
  ]);
  return { certPem, keyPem: keyPem(privateKey) };
}

/** A TLS server certificate for `hosts`, signed by `ca`. */
export function createServingCertificate(ca: KeyPair, req: ServingCertificateRequest): KeyPair {
  if (req.hosts.length === 0) throw new Error('a serving certificate needs at least one host');
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  const issuer: Issuer = { name: subjectOf(caCert), key: caKey, keyId: keyIdentifier(caCert.publicKey) };
  const { privateKey, publicKey } = newKey();
  const certPem = certificate(name(req.commonName), publicKey, issuer, req, [
    extension(oid.basicConstraints, true, sequence()),
    extension(oid.keyUsage, true, namedBits([keyUsageBit.digitalSignature, keyUsageBit.keyEncipherment])),
    extension(oid.extKeyUsage, false, sequence(objectIdentifier(oid.serverAuth))),
    extension(oid.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))),
    extension(oid.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, issuer.keyId))),
    extension(oid.subjectAltName, false, subjectAltName(req.hosts)),
  ]);
  return { certPem, keyPem: keyPem(privateKey) };
}

/** The DER of a certificate's subject Name, copied byte for byte (issuer must equal it exactly). */
function subjectOf(cert: X509Certificate): Buffer {
  // Certificate ::= SEQ { tbs SEQ { [0] version, serial, sigAlg, issuer, validity, subject, ... }, ... }
  const der = cert.raw;
  const tbs = header(der, 0).start;
  const children: { at: number; end: number }[] = [];
  const tbsEnd = header(der, tbs).end;
  for (let pos = header(der, tbs).start; pos < tbsEnd && children.length < 6; ) {
    const h = header(der, pos);
    children.push({ at: pos, end: h.end });
    pos = h.end;
  }
  const subject = children[5];
  if (!subject) throw new Error('malformed CA certificate');
  return Buffer.from(der.subarray(subject.at, subject.end));
}

/** What the rotation logic needs to know about a stored certificate; undefined when it does not parse. */
export interface CertificateFacts {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCA: boolean;
  /** DNS names and IPs from subjectAltName. */
  readonly hosts: readonly string[];
}

export function inspectCertificate(pem: string): CertificateFacts | undefined {
  try {
    const c = new X509Certificate(pem);
    const hosts = (c.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
    return { notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), isCA: c.ca, hosts };
  } catch {
    return undefined;
  }
}

/** True when `keyPem` is the private key of `certPem`. */
export function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `certPem` was signed by the CA `caPem`. */
export function signedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(createPublicKey(ca.publicKey.export({ type: 'spki', format: 'pem' })));
  } catch {
    return false;
  }
}

/** Splits a PEM bundle into its certificates. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)?.map((p) => (p.endsWith('\n') ? p : `${p}\n`)) ?? [];
}
