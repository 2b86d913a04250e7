// Reading an OCI image layout back: index, manifest, config and layers, every blob checked against its
// digest, and the layers' tar entries.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  content: Buffer;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
}

export interface Image {
  ref: string | undefined;
  manifest: { schemaVersion: number; mediaType: string; config: Descriptor; layers: Descriptor[] };
  config: ImageConfig;
  /** Each layer's entries, in order. */
  layers: TarEntry[][];
  /** Each layer's uncompressed tar (for diff_id checks). */
  layerTars: Buffer[];
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A blob, checked: its name, its digest and the descriptor's size must agree. */
export function readBlob(layout: string, d: Descriptor): Buffer {
  const [algo, hex] = d.digest.split(':');
  if (algo !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw new Error(`bad digest ${d.digest}`);
  const b = readFileSync(join(layout, 'blobs', 'sha256', hex!));
  if (sha256(b) !== d.digest) throw new Error(`blob ${d.digest} does not match its digest`);
  if (b.length !== d.size) throw new Error(`blob ${d.digest} is ${b.length} bytes, the descriptor says ${d.size}`);
  return b;
}

function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

const num = (h: Buffer, start: number, len: number): number => parseInt(field(h, start, len).trim() || '0', 8);

/** The entries of a POSIX tar (ustar with pax extended headers). */
export function readTar(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let pax: Record<string, string> = {};
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== num(h, 148, 8)) throw new Error(`tar header checksum wrong at ${at}`);
    const size = num(h, 124, 12);
    const content = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    const flag = field(h, 156, 1);
    if (flag === 'x') {
      pax = {};
      const text = content.toString('utf8');
      for (let i = 0; i < text.length; ) {
        const sp = text.indexOf(' ', i);
        const len = Number(text.slice(i, sp));
        const rec = text.slice(sp + 1, i + len - 1);
        const eq = rec.indexOf('=');
        pax[rec.slice(0, eq)] = rec.slice(eq + 1);
        i += len;
      }
      continue;
    }
    const prefix = field(h, 345, 155);
    const name = pax.path ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    const type = flag === '0' || flag === '' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'symlink' : flag === '1' ? 'hardlink' : 'other';
    out.push({
      path: name.replace(/\/$/, ''),
      type,
      mode: num(h, 100, 8),
      uid: num(h, 108, 8),
      gid: num(h, 116, 8),
      mtime: num(h, 136, 12),
      size,
      linkname: pax.linkpath ?? field(h, 157, 100),
      content: Buffer.from(content),
    });
    pax = {};
  }
  return out;
}

export function readImage(layout: string): Image {
  const layoutFile = JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8')) as { imageLayoutVersion: string };
  if (layoutFile.imageLayoutVersion !== '1.0.0') throw new Error(`oci-layout version ${layoutFile.imageLayoutVersion}`);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { schemaVersion: number; manifests: Descriptor[] };
  if (index.schemaVersion !== 2 || index.manifests.length !== 1) throw new Error('index.json: expected one manifest');
  const md = index.manifests[0]!;
  const manifest = JSON.parse(readBlob(layout, md).toString('utf8')) as Image['manifest'];
  const config = JSON.parse(readBlob(layout, manifest.config).toString('utf8')) as ImageConfig;
  const layerTars = manifest.layers.map((l) => gunzipSync(readBlob(layout, l)));
  return { ref: md.annotations?.['org.opencontainers.image.ref.name'], manifest, config, layers: layerTars.map(readTar), layerTars };
}

export const diffId = sha256;
