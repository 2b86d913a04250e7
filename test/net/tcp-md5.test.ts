// TCP-MD5 across a veth pair: a listener with keys in one namespace, clients in the other
// (tcp-md5.test-peer.ts runs both sides). A wrong or missing key must never connect.
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createNetnsPair, netnsSkipReason, type NetnsPair, type ScriptProcess } from './netns.test-support.ts';
import { connectWithMd5, nativeAddonUnavailable, setMd5Key } from '../../src/net/tcp-md5.ts';

const PEER = 'test/net/tcp-md5.test-peer.ts';
const KEY = 'bgp-s3cret';

describe('connectWithMd5 argument checks (no socket is created)', { skip: nativeAddonUnavailable() }, () => {
  it('rejects a peer that is not an IP address', async () => {
    await assert.rejects(connectWithMd5({ peer: 'router.example', port: 179, key: KEY }), { code: 'ERR_INVALID_IP_ADDRESS' });
  });

  it('rejects a key longer than 80 bytes, a bad port or TTL, and mixed families', async () => {
    await assert.rejects(connectWithMd5({ peer: '192.0.2.1', port: 179, key: 'k'.repeat(81) }), RangeError);
    await assert.rejects(connectWithMd5({ peer: '192.0.2.1', port: 179, key: new Uint8Array(81) }), RangeError);
    await assert.rejects(connectWithMd5({ peer: '192.0.2.1', port: 0 }), RangeError);
    await assert.rejects(connectWithMd5({ peer: '192.0.2.1', port: 179, ttl: 256 }), RangeError);
    await assert.rejects(connectWithMd5({ peer: '192.0.2.1', port: 179, local: '2001:db8::1' }), RangeError);
  });

  it('rejects an already aborted signal', async () => {
    await assert.rejects(connectWithMd5({ peer: '192.0.2.1', port: 179, signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('refuses keys on a server that is not listening, and empty keys', () => {
    assert.throws(() => setMd5Key(net.createServer(), '192.0.2.1', KEY), /not listening/);
    assert.throws(() => setMd5Key(0, '192.0.2.1', ''), RangeError);
  });
});

interface Attempt {
  name: string;
  peer: string;
  port: number;
  key?: string;
  local?: string;
  ttl?: number;
  timeoutMs?: number;
}

interface AttemptResult {
  connected?: { local: string; remote: string };
  echo?: string;
  error?: { code: string; ms: number };
}

describe('TCP-MD5 between two network namespaces', { skip: netnsSkipReason() }, () => {
  let pair: NetnsPair;
  const servers: Record<string, ScriptProcess> = {};

  /** Runs the attempts concurrently in one client process in namespace b. */
  const connect = async (...attempts: Attempt[]): Promise<Record<string, AttemptResult>> => {
    const r = await pair.execAsync(pair.b.ns, [process.execPath, '--import', 'tsx', PEER, 'client', '--attempts', JSON.stringify(attempts)], 30_000);
    const results: Record<string, AttemptResult> = {};
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const { name, ...result } = JSON.parse(line) as AttemptResult & { name: string };
      results[name] = result;
    }
    for (const a of attempts) if (!results[a.name]) throw new Error(`no result for ${a.name}: ${r.stderr}`);
    return results;
  };
  const noMoreAccepts = async (server: ScriptProcess): Promise<void> => {
    await assert.rejects(server.next('accepted', 300), /timed out/);
  };

  before(async () => {
    pair = createNetnsPair('md5');
    const start = async (name: string, args: string[]): Promise<void> => {
      servers[name] = pair.spawnScript(pair.a.ns, PEER, ['server', ...args]);
      await servers[name]!.next('listening');
    };
    await Promise.all([
      start('v4', ['--host', pair.a.ipv4, '--port', '1790', '--peer', pair.b.ipv4, '--key', KEY]),
      start('v6', ['--host', pair.a.ipv6, '--port', '1790', '--peer', pair.b.ipv6, '--key', KEY]),
      // Dual-stack listener: the IPv4 peer's key must be installed as ::ffff:10.99.0.2.
      start('dual', ['--host', '::', '--port', '1791', '--peer', pair.b.ipv4, '--key', KEY]),
    ]);
  });
  after(() => pair?.cleanup());

  it('connects only with the right key, and exchanges bytes (IPv4)', async () => {
    const r = await connect(
      { name: 'right', peer: pair.a.ipv4, port: 1790, key: KEY, local: pair.b.ipv4 },
      { name: 'wrong', peer: pair.a.ipv4, port: 1790, key: 'not-the-key', timeoutMs: 2000 },
      { name: 'none', peer: pair.a.ipv4, port: 1790, timeoutMs: 2000 },
    );
    assert.deepEqual(r.right!.connected && [r.right!.connected.local, r.right!.connected.remote], [pair.b.ipv4, pair.a.ipv4]);
    assert.equal(r.right!.echo, 'hello right\n');
    for (const bad of [r.wrong!, r.none!]) {
      assert.equal(bad.connected, undefined);
      assert.equal(bad.error?.code, 'ETIMEDOUT');
      assert.ok(bad.error.ms >= 1900, `gave up after ${bad.error.ms} ms`);
    }
    assert.equal((await servers.v4!.next('accepted')).remote, pair.b.ipv4);
    await noMoreAccepts(servers.v4!);
  });

  it('connects only with the right key, with a hop limit (IPv6)', async () => {
    const r = await connect(
      { name: 'right', peer: pair.a.ipv6, port: 1790, key: KEY, ttl: 255 },
      { name: 'wrong', peer: pair.a.ipv6, port: 1790, key: 'not-the-key', timeoutMs: 2000 },
    );
    assert.equal(r.right!.echo, 'hello right\n');
    assert.equal(r.wrong!.error?.code, 'ETIMEDOUT');
    assert.equal((await servers.v6!.next('accepted')).remote, pair.b.ipv6);
    await noMoreAccepts(servers.v6!);
  });

  it('applies an IPv4 peer key on a dual-stack listener', async () => {
    const r = await connect(
      { name: 'right', peer: pair.a.ipv4, port: 1791, key: KEY },
      { name: 'wrong', peer: pair.a.ipv4, port: 1791, key: 'not-the-key', timeoutMs: 2000 },
    );
    assert.equal(r.right!.echo, 'hello right\n');
    assert.equal(r.wrong!.error?.code, 'ETIMEDOUT');
    assert.equal((await servers.dual!.next('accepted')).remote, `::ffff:${pair.b.ipv4}`);
    await noMoreAccepts(servers.dual!);
  });

  it('reports a refused connection, except with a key: the unsigned RST is dropped', async () => {
    const r = await connect(
      { name: 'plain', peer: pair.a.ipv4, port: 1799 },
      { name: 'keyed', peer: pair.a.ipv4, port: 1799, key: KEY, timeoutMs: 1500 },
    );
    assert.equal(r.plain!.error?.code, 'ECONNREFUSED');
    assert.equal(r.keyed!.error?.code, 'ETIMEDOUT');
  });

  it('sets the TTL of its packets, and signs them', { skip: netnsSkipReason(['tcpdump']) }, async () => {
    const tcpdump = pair.spawnCommand(pair.a.ns, [
      'tcpdump', '-i', pair.a.ifname, '-n', '-v', '-l', '-c', '1',
      'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst port 1790',
    ]);
    let out = '';
    let err = '';
    tcpdump.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    tcpdump.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise((resolve) => tcpdump.once('exit', resolve));
    for (let i = 0; i < 100 && !err.includes('listening on'); i++) await sleep(100);
    const r = await connect({ name: 'ttl', peer: pair.a.ipv4, port: 1790, key: KEY, ttl: 7 });
    assert.equal(r.ttl!.echo, 'hello ttl\n');
    await Promise.race([exited, sleep(5000)]);
    assert.match(out, /ttl 7,/, out);
    assert.match(out, /md5/i, out); // the SYN carries the TCP-MD5 option
    await servers.v4!.next('accepted');
  });
});
