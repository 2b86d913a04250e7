// UdpBfdFactory over real UDP on the loopback (127.0.0.1 ↔ 127.0.0.2, no root needed), real time, on a
// random port instead of 3784 so nothing else on the machine is disturbed.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import type { BFDProfile } from '../../config/model.ts';
import { encodeControl } from './codec.ts';
import type { BfdState } from './handle.ts';
import { SOURCE_PORT_MAX, SOURCE_PORT_MIN, UdpBfdFactory, type UdpBfdSessionHandle } from './udp.ts';

const profile = (over: Partial<BFDProfile> = {}): BFDProfile => ({
  name: 'fast',
  receiveIntervalMs: 50,
  transmitIntervalMs: 50,
  detectMultiplier: 3,
  echoIntervalMs: 50,
  echoMode: false,
  passiveMode: false,
  minimumTtl: 254,
  ...over,
});

const port = 20000 + Math.floor(Math.random() * 10000);
const A = '127.0.0.1';
const B = '127.0.0.2';

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function record(h: UdpBfdSessionHandle): { state: BfdState; diagnostic: string }[] {
  const log: { state: BfdState; diagnostic: string }[] = [];
  h.onStateChange((state, diagnostic) => log.push({ state, diagnostic }));
  return log;
}

async function sendRaw(bytes: Uint8Array, from: string): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind({ address: from, port: 0 }, resolve));
  await new Promise<void>((resolve, reject) => s.send(bytes, port, A, (err) => (err ? reject(err) : resolve())));
  s.close();
}

describe('UdpBfdFactory on the loopback', () => {
  const fa = new UdpBfdFactory({ port });
  const fb = new UdpBfdFactory({ port });
  after(async () => {
    await Promise.all([fa.close(), fb.close()]);
  });

  let a: UdpBfdSessionHandle;
  let b: UdpBfdSessionHandle;
  let aLog: ReturnType<typeof record>;

  it('rejects addresses that are not IPs, or of mixed families', () => {
    assert.throws(() => fa.open('router.example', A, profile()), TypeError);
    assert.throws(() => fa.open(B, 'nope', profile()), TypeError);
    assert.throws(() => fa.open('fd00::1', A, profile()), TypeError);
  });

  it('brings a session Up between two factories, sourcing from 49152–65535', async () => {
    a = fa.open(B, A, profile());
    aLog = record(a);
    assert.equal(a.state(), 'Down');
    b = fb.open(A, B, profile({ transmitIntervalMs: 80 }));
    await until('both Up', () => a.state() === 'Up' && b.state() === 'Up');
    assert.equal(aLog.at(-1)?.state, 'Up');
    const src = a.sourcePort()!;
    assert.ok(src >= SOURCE_PORT_MIN && src <= SOURCE_PORT_MAX, `source port ${src}`);
    await until('poll sequences done', () => !a.status().pollActive && !b.status().pollActive);
    assert.equal(a.status().txIntervalUs, 50_000);
    assert.equal(b.status().txIntervalUs, 80_000);
    assert.equal(a.status().detectionTimeUs, 3 * 80_000);
    const [info] = fa.sessions();
    assert.equal(info?.peerAddress, B);
    assert.equal(info?.status.remoteDiscriminator, b.status().localDiscriminator);
  });

  it('counts and drops garbage, unknown discriminators and wrong sources without touching the session', async () => {
    const before = fa.stats();
    const good = {
      diagnostic: 0,
      state: 'Up' as const,
      poll: false,
      final: false,
      controlPlaneIndependent: false,
      demand: false,
      detectMult: 3,
      myDiscriminator: b.status().localDiscriminator,
      yourDiscriminator: a.status().localDiscriminator,
      desiredMinTxUs: 50_000,
      requiredMinRxUs: 50_000,
      requiredMinEchoRxUs: 0,
    };
    await sendRaw(Buffer.from('hello, bfd'), B); // version 3
    await sendRaw(Buffer.alloc(0), B);
    const badLength = encodeControl(good);
    badLength[3] = 200;
    await sendRaw(badLength, B);
    await sendRaw(encodeControl({ ...good, yourDiscriminator: (good.yourDiscriminator % 0xfffffff0) + 1 }), B);
    // A forged AdminDown with the right discriminator, but from another address: refused.
    await sendRaw(encodeControl({ ...good, state: 'AdminDown' }), '127.0.0.3');
    await until('drops counted', () => Object.values(fa.stats().dropped).reduce((x, y) => x + y, 0) >= 5);
    const d = fa.stats().dropped;
    assert.equal(d['bad-version'], (before.dropped['bad-version'] ?? 0) + 1);
    assert.equal(d.truncated, (before.dropped.truncated ?? 0) + 1);
    assert.equal(d['length-exceeds-payload'], 1);
    assert.ok((d['no-session'] ?? 0) >= 1);
    assert.equal(d['wrong-peer'], 1);
    await sleep(300);
    assert.equal(a.state(), 'Up');
    assert.equal(aLog.at(-1)?.state, 'Up');
    assert.ok(fa.stats().accepted > before.accepted, 'real packets still accepted');
  });

  it('shares one session between two opens of the same pair; the last close tells the peer AdminDown', async () => {
    const again = fa.open(B, A, profile());
    assert.equal(again.status().localDiscriminator, a.status().localDiscriminator);
    assert.equal(again.state(), 'Up');
    again.close();
    await sleep(300);
    assert.equal(b.state(), 'Up', 'still Up: another handle holds the session');
    const bLog = record(b);
    a.close();
    await until('b Down', () => b.state() === 'Down');
    assert.deepEqual(bLog[0], { state: 'Down', diagnostic: 'Neighbor Signaled Session Down (peer AdminDown)' });
    assert.equal(fa.sessions().length, 1, 'a still announcing AdminDown');
    await until('a gone', () => fa.sessions().length === 0, 3000);
  });

  it('reopening brings the session back Up', async () => {
    a = fa.open(B, A, profile());
    await until('Up again', () => a.state() === 'Up' && b.state() === 'Up');
  });

  it('reopening while the closed session still announces AdminDown takes it back (same discriminator)', async () => {
    const discriminator = a.status().localDiscriminator;
    a.close();
    await until('b Down', () => b.state() === 'Down');
    a = fa.open(B, A, profile());
    assert.equal(a.status().localDiscriminator, discriminator);
    assert.equal(a.state(), 'Down');
    await until('Up again', () => a.state() === 'Up' && b.state() === 'Up');
    assert.equal(fa.sessions().length, 1);
  });
});
