// Real UDP on loopback, real clock: three members in one process on distinct ports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../clock/clock.ts';
import { silentLogger } from '../log/logger.ts';
import { Membership, type MemberAddress } from './membership.ts';
import { UdpTransport } from './udp-transport.ts';

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<number> {
  const start = performance.now();
  while (!pred()) {
    if (performance.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

describe('membership over real UDP (loopback)', () => {
  it('moves datagrams between two sockets and reports the sender; close waits for sends', async () => {
    const a = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
    const b = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
    const got: { text: string; address: string; port: number }[] = [];
    b.onMessage((bytes, from) => got.push({ text: Buffer.from(bytes).toString(), ...from }));
    a.send('127.0.0.1', b.port, Buffer.from('hello'));
    await waitFor(() => got.length === 1, 2000, 'datagram');
    assert.deepEqual(got[0], { text: 'hello', address: '127.0.0.1', port: a.port });
    await assert.rejects(UdpTransport.open({ address: '127.0.0.1', port: b.port }), /EADDRINUSE/);
    a.send('127.0.0.1', b.port, Buffer.from('last'));
    await a.close();
    await waitFor(() => got.length === 2, 2000, 'datagram sent just before close');
    a.send('127.0.0.1', b.port, Buffer.from('after close is ignored'));
    await b.close();
  });

  it('three members converge, and a killed one (socket closed, no leave) is declared dead by both others', async () => {
    const transports = await Promise.all([0, 1, 2].map(() => UdpTransport.open({ address: '127.0.0.1', port: 0 })));
    const addrs: MemberAddress[] = transports.map((t, i) => ({ name: `udp-${i}`, address: '127.0.0.1', port: t.port }));
    const members = addrs.map(
      (self, i) =>
        new Membership({
          self,
          keys: ['loopback test secret'],
          clock: systemClock,
          transport: transports[i]!,
          log: silentLogger(),
          seeds: () => addrs.filter((a) => a.name !== self.name),
        }),
    );
    try {
      for (const m of members) m.start();
      await waitFor(() => members.every((m) => m.alive().size === 3), 3000, 'convergence');
      await new Promise((r) => setTimeout(r, 300));
      members[2]!.stop();
      await transports[2]!.close();
      const ms = await waitFor(() => members.slice(0, 2).every((m) => !m.alive().has('udp-2')), 5000, 'detection');
      assert.ok(ms >= 300, `declared dead after ${ms.toFixed(0)} ms: not before probe + suspicion`);
      for (const m of members.slice(0, 2)) {
        assert.equal(m.isolated(), false);
        assert.equal(m.stats().droppedAuth, 0);
        assert.equal(m.stats().internalErrors, 0);
        assert.ok(m.stats().receivedBytes > 0);
      }
    } finally {
      for (const m of members) m.stop();
      await Promise.all(transports.map((t) => t.close()));
    }
  });
});
