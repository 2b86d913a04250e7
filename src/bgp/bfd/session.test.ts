// The state machine in virtual time: two sessions joined by a simulated link that encodes and decodes
// every packet, with a switch to cut it and a filter to drop chosen packets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../../clock/clock.ts';
import { decodeControl, Diagnostic, encodeControl, type ControlPacket } from './codec.ts';
import type { BfdState } from './handle.ts';
import { BfdSession, SLOW_TX_US, timersFromProfile, type BfdStateChange, type BfdTimers } from './session.ts';

const ms = (n: number): number => n * 1000;
const timers = (txMs: number, rxMs: number, detectMult = 3): BfdTimers => ({ desiredMinTxUs: ms(txMs), requiredMinRxUs: ms(rxMs), detectMult });

interface Sent {
  readonly at: number;
  readonly packet: ControlPacket;
}

interface Side {
  readonly session: BfdSession;
  readonly sent: Sent[];
  readonly changes: (BfdStateChange & { at: number })[];
}

interface Link {
  readonly clock: FakeClock;
  readonly a: Side;
  readonly b: Side;
  up: boolean;
  /** Return false to drop a packet (from → to). */
  filter: (from: 'a' | 'b', packet: ControlPacket) => boolean;
}

function makeLink(
  opts: { a?: BfdTimers; b?: BfdTimers; passiveA?: boolean; passiveB?: boolean; delayMs?: number; random?: () => number } = {},
): Link {
  const clock = new FakeClock();
  const delay = opts.delayMs ?? 1;
  const sides: Partial<Record<'a' | 'b', Side>> = {};
  const link: Link = {
    clock,
    up: true,
    filter: () => true,
    get a() {
      return sides.a!;
    },
    get b() {
      return sides.b!;
    },
  };
  const make = (name: 'a' | 'b', discr: number, t: BfdTimers, passive: boolean): Side => {
    const sent: Sent[] = [];
    const changes: Side['changes'] = [];
    const session = new BfdSession({
      clock,
      localDiscriminator: discr,
      timers: t,
      passive,
      random: opts.random ?? (() => 0.5),
      send: (packet) => {
        sent.push({ at: clock.now(), packet });
        const bytes = encodeControl(packet); // what goes on the wire, and back through the decoder
        if (!link.up || !link.filter(name, packet)) return;
        clock.setTimer(delay, () => {
          const r = decodeControl(bytes);
          assert.ok(r.ok, r.ok ? '' : r.error.message);
          sides[name === 'a' ? 'b' : 'a']!.session.receive(r.packet);
        });
      },
    });
    session.onStateChange((c) => changes.push({ ...c, at: clock.now() }));
    return { session, sent, changes };
  };
  sides.a = make('a', 0x1111, opts.a ?? timers(100, 100), opts.passiveA ?? false);
  sides.b = make('b', 0x2222, opts.b ?? timers(100, 100), opts.passiveB ?? false);
  return link;
}

const states = (side: Side): BfdState[] => side.changes.map((c) => c.state);
const gaps = (sent: readonly Sent[]): number[] => sent.slice(1).map((s, i) => s.at - sent[i]!.at);

describe('BFD session: bring-up', () => {
  it('three-way handshake: Down → Init → Up on one side, Down → Up on the other, then fast timers by Poll', () => {
    const link = makeLink();
    link.a.session.start();
    link.clock.advance(500); // a's first Down packet is lost in the void: b has not started
    link.b.session.start();
    link.clock.advance(20);
    // b's first Down reaches a → a Init → a's Init reaches b → b Up → b's Up reaches a → a Up.
    assert.deepEqual(states(link.a), ['Init', 'Up']);
    assert.deepEqual(states(link.b), ['Up']);
    assert.ok(link.a.changes[1]!.at - 500 <= 3, 'up within a few one-way delays');
    const first = link.a.sent[0]!.packet;
    assert.equal(first.state, 'Down');
    assert.equal(first.yourDiscriminator, 0);
    assert.equal(first.desiredMinTxUs, SLOW_TX_US, 'slow TX advertised while not Up');
    assert.equal(first.requiredMinRxUs, ms(100));
    assert.equal(first.requiredMinEchoRxUs, 0);
    // Going Up lowered DesiredMinTx from 1 s to 100 ms: a Poll Sequence, answered by a Final. (a answered
    // b's Poll first; its own P rides on its next periodic packet.)
    link.clock.advance(500);
    const polls = link.a.sent.filter((s) => s.packet.poll);
    assert.ok(polls.length >= 1 && polls[0]!.packet.state === 'Up' && polls[0]!.packet.desiredMinTxUs === ms(100));
    assert.ok(link.b.sent.some((s) => s.packet.final && !s.packet.poll));
    for (const side of [link.a, link.b]) {
      const st = side.session.status();
      assert.equal(st.pollActive, false);
      assert.equal(st.txIntervalUs, ms(100));
      assert.equal(st.detectionTimeUs, ms(300));
    }
    assert.equal(link.a.session.status().remoteDiscriminator, 0x2222);
    assert.equal(link.b.session.status().remoteDiscriminator, 0x1111);
    // Steady state: 100 ms jittered (random fixed at 0.5 → 87.5 ms).
    const before = link.a.sent.length;
    link.clock.advance(1000);
    const steady = gaps(link.a.sent.slice(before));
    assert.ok(steady.length >= 10);
    for (const g of steady) assert.equal(g, 87.5);
    assert.deepEqual(states(link.a), ['Init', 'Up'], 'no flaps');
  });

  it('negotiates intervals: transmit max(local desired TX, remote required RX); detect = remote mult × agreed interval', () => {
    const link = makeLink({ a: timers(50, 400, 3), b: timers(200, 150, 5) });
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(3000);
    assert.equal(link.a.session.state, 'Up');
    const a = link.a.session.status();
    const b = link.b.session.status();
    assert.equal(a.txIntervalUs, ms(150)); // max(50, b's 150)
    assert.equal(b.txIntervalUs, ms(400)); // max(200, a's 400)
    assert.equal(a.detectionTimeUs, 5 * ms(400)); // b's mult × max(a rx 400, b tx 200)
    assert.equal(b.detectionTimeUs, 3 * ms(150)); // a's mult × max(b rx 150, a tx 50)
  });

  it('sends at 1 s (jittered 75–100%) while not Up', () => {
    const link = makeLink({ a: timers(10, 10), random: (() => { let i = 0; return () => (i++ % 10) / 10; })() });
    link.a.session.start(); // b never starts: nobody answers
    link.clock.advance(20_000);
    const g = gaps(link.a.sent);
    assert.ok(g.length >= 20 && g.length <= 27, `${g.length} packets in 20 s`);
    for (const x of g) assert.ok(x >= 750 && x < 1000, `gap ${x}`);
    for (const s of link.a.sent) {
      assert.equal(s.packet.state, 'Down');
      assert.equal(s.packet.desiredMinTxUs, SLOW_TX_US);
    }
  });

  it('jitters by 0–25%, and by 10–25% when Detect Mult is 1', () => {
    for (const [mult, lo, hi] of [
      [3, 75, 100],
      [1, 75, 90],
    ] as const) {
      for (const r of [0, 0.999999]) {
        const link = makeLink({ a: timers(100, 100, mult), b: timers(100, 100), random: () => r });
        link.a.session.start();
        link.b.session.start();
        link.clock.advance(2000);
        const before = link.a.sent.length;
        link.clock.advance(1000);
        for (const g of gaps(link.a.sent.slice(before))) {
          assert.ok(g >= lo - 1e-6 && g <= hi, `mult ${mult} r ${r}: gap ${g}`);
          assert.ok(Math.abs(g - (r === 0 ? lo : hi)) < 0.01, `mult ${mult} r ${r}: gap ${g}`);
        }
      }
    }
  });

  it('passive: silent until the remote speaks; two passive ends never meet', () => {
    const quiet = makeLink({ passiveA: true, passiveB: true });
    quiet.a.session.start();
    quiet.b.session.start();
    quiet.clock.advance(10_000);
    assert.equal(quiet.a.sent.length + quiet.b.sent.length, 0);

    const link = makeLink({ passiveA: true });
    link.a.session.start();
    link.clock.advance(5000);
    assert.equal(link.a.sent.length, 0);
    link.b.session.start();
    link.clock.advance(100);
    assert.equal(link.a.session.state, 'Up');
    assert.equal(link.b.session.state, 'Up');
    // The link dies: after a Detection Time a goes Down and forgets b's discriminator, so it falls silent.
    link.up = false;
    link.clock.advance(1000);
    assert.equal(link.a.session.state, 'Down');
    assert.equal(link.a.session.status().remoteDiscriminator, 0);
    const n = link.a.sent.length;
    link.clock.advance(5000);
    assert.equal(link.a.sent.length, n);
  });
});

describe('BFD session: failure detection', () => {
  it('goes Down with diagnostic 1 one Detection Time after the last packet, then back Up when the link returns', () => {
    const link = makeLink({ a: timers(100, 100, 3), b: timers(100, 100, 3) });
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    assert.equal(link.a.session.state, 'Up');
    const cut = link.clock.now();
    link.up = false;
    link.clock.advance(1000);
    for (const side of [link.a, link.b]) {
      const down = side.changes.at(-1)!;
      assert.equal(down.state, 'Down');
      assert.equal(down.diagnostic, Diagnostic.ControlDetectionTimeExpired);
      assert.equal(down.diagnosticName, 'Control Detection Time Expired');
      // Last packet arrived at most one (jittered) interval before the cut; Detection Time is 300 ms.
      assert.ok(down.at - cut <= 300 && down.at - cut > 300 - 100, `down after ${down.at - cut} ms`);
    }
    const downPacket = link.a.sent.at(-1)!.packet;
    assert.equal(downPacket.state, 'Down');
    assert.equal(downPacket.diagnostic, Diagnostic.ControlDetectionTimeExpired);
    assert.equal(downPacket.desiredMinTxUs, SLOW_TX_US);
    link.up = true;
    link.clock.advance(3000);
    assert.equal(link.a.session.state, 'Up');
    assert.equal(link.b.session.state, 'Up');
    assert.equal(link.a.session.status().localDiagnostic, Diagnostic.None);
  });

  it('one-way loss: the side that hears nothing goes Down (diag 1), the other follows (diag 3)', () => {
    const link = makeLink();
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    link.filter = (from) => from !== 'b'; // b → a lost
    link.clock.advance(2000);
    assert.equal(link.a.changes.at(-1)!.state, 'Down');
    assert.equal(link.a.changes.at(-1)!.diagnostic, Diagnostic.ControlDetectionTimeExpired);
    // b hears a's Down: Down with diagnostic 3 (and then Init again, since a's Down packets keep coming).
    const bDown = link.b.changes.find((c) => c.state === 'Down');
    assert.equal(bDown?.diagnostic, Diagnostic.NeighborSignaledSessionDown);
    assert.equal(bDown?.remoteAdminDown, false, 'the peer went Down, not AdminDown: a real failure');
    assert.deepEqual(states(link.b).slice(-3), ['Up', 'Down', 'Init']);
  });
});

describe('BFD session: administrative control', () => {
  it('the peer going AdminDown takes us Down with diagnostic 3; it keeps announcing, then falls silent', () => {
    const link = makeLink();
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    const lingerMs = link.b.session.adminDown();
    assert.equal(lingerMs, 2 * 3 * 100); // two of a's Detection Times at the 100 ms interval
    link.clock.advance(5);
    assert.equal(link.b.session.state, 'AdminDown');
    assert.equal(link.b.changes.at(-1)!.diagnostic, Diagnostic.AdministrativelyDown);
    assert.equal(link.a.session.state, 'Down');
    assert.equal(link.a.changes.at(-1)!.diagnostic, Diagnostic.NeighborSignaledSessionDown);
    assert.equal(link.a.changes.at(-1)!.diagnosticName, 'Neighbor Signaled Session Down');
    assert.equal(link.a.changes.at(-1)!.remoteAdminDown, true);
    const start = link.b.sent.length;
    link.clock.advance(5000);
    const announced = link.b.sent.slice(start - 1);
    assert.ok(announced.length >= 6 && announced.length <= 8, `${announced.length} AdminDown packets`);
    for (const s of announced) {
      assert.equal(s.packet.state, 'AdminDown');
      assert.equal(s.packet.diagnostic, Diagnostic.AdministrativelyDown);
    }
    assert.ok(announced.at(-1)!.at - announced[0]!.at <= 600);
    assert.equal(link.a.session.state, 'Down', 'a stays Down: AdminDown sessions discard what they receive');
    link.b.session.adminUp();
    link.clock.advance(3000);
    assert.equal(link.a.session.state, 'Up');
    assert.equal(link.b.session.state, 'Up');
  });

  it('stop() ends all transmission and timers', () => {
    const link = makeLink();
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    link.a.session.stop();
    link.b.session.stop();
    link.clock.advance(100);
    assert.equal(link.clock.pendingTimers(), 0);
  });
});

describe('BFD session: Poll Sequence for timer changes', () => {
  it('answers a Poll at once with a Final (P clear), whatever the transmit timer says', () => {
    const link = makeLink();
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    const n = link.b.sent.length;
    link.a.session.setTimers(timers(200, 100));
    link.clock.advance(1.5); // one-way delay is 1 ms: b's answer is out long before its next periodic packet
    const fin = link.b.sent.slice(n).find((s) => s.packet.final);
    assert.ok(fin, 'a Final was sent');
    assert.equal(fin.packet.poll, false);
    assert.equal(fin.at, link.a.sent.find((s) => s.packet.poll && s.packet.desiredMinTxUs === ms(200))!.at + 1);
  });

  it('a larger TX interval takes effect only when the Final arrives; the peer adopts it', () => {
    const link = makeLink({ a: timers(100, 100), b: timers(100, 100) });
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    let finals = false;
    link.filter = (from, p) => !(from === 'b' && p.final && !finals); // hold back b's Finals
    link.a.session.setTimers(timers(500, 100));
    link.clock.advance(1000);
    const a = link.a.session.status();
    assert.equal(a.pollActive, true);
    assert.equal(a.desiredMinTxUs, ms(500), 'advertised at once');
    assert.equal(a.txIntervalUs, ms(100), 'but the transmit interval waits for the Final');
    const recent = link.a.sent.filter((s) => s.at > link.clock.now() - 500);
    assert.ok(recent.length >= 5 && recent.every((s) => s.packet.poll && s.packet.desiredMinTxUs === ms(500)));
    assert.equal(link.b.session.status().detectionTimeUs, ms(1500), 'b already allows for the slower rate');
    finals = true;
    link.clock.advance(1000);
    const after = link.a.session.status();
    assert.equal(after.pollActive, false);
    assert.equal(after.txIntervalUs, ms(500));
    assert.ok(link.a.sent.slice(-1)[0]!.packet.poll === false);
    assert.equal(link.a.session.state, 'Up');
    assert.equal(link.b.session.state, 'Up');
  });

  it('a smaller RX interval shortens the Detection Time only after the Final', () => {
    const link = makeLink({ a: timers(100, 300), b: timers(50, 100) });
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    assert.equal(link.a.session.status().detectionTimeUs, ms(900));
    let finals = false;
    link.filter = (from, p) => !(from === 'b' && p.final && !finals);
    link.a.session.setTimers(timers(100, 50));
    link.clock.advance(500);
    assert.equal(link.a.session.status().detectionTimeUs, ms(900), 'old RequiredMinRx until the Final');
    assert.equal(link.b.session.status().txIntervalUs, ms(50), 'b already sends faster');
    finals = true;
    link.clock.advance(500);
    assert.equal(link.a.session.status().detectionTimeUs, ms(150));
    assert.equal(link.a.session.status().pollActive, false);
  });

  it('polls again when the timers change while a Poll is out', () => {
    const link = makeLink();
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    link.filter = (from, p) => !(from === 'b' && p.final);
    link.a.session.setTimers(timers(200, 100));
    link.clock.advance(300);
    link.a.session.setTimers(timers(400, 100));
    link.clock.advance(300);
    link.filter = () => true;
    link.clock.advance(2000);
    const st = link.a.session.status();
    assert.equal(st.pollActive, false);
    assert.equal(st.txIntervalUs, ms(400));
    assert.equal(link.b.session.status().remoteDesiredMinTxUs, ms(400));
  });

  it('changes in Down apply at once, without a Poll', () => {
    const link = makeLink();
    link.a.session.start();
    link.a.session.setTimers(timers(2000, 100));
    link.clock.advance(100);
    assert.equal(link.a.session.status().pollActive, false);
    assert.equal(link.a.sent.at(-1)!.packet.poll, false);
    assert.equal(link.a.session.status().txIntervalUs, ms(2000));
  });

  it('stops periodic packets when the remote asks for Required Min RX 0', () => {
    const link = makeLink({ a: timers(100, 100), b: timers(100, 100) });
    link.a.session.start();
    link.b.session.start();
    link.clock.advance(2000);
    link.b.session.setTimers(timers(100, 0));
    link.clock.advance(100);
    const n = link.a.sent.length;
    link.clock.advance(200);
    assert.ok(link.a.sent.length - n <= 1);
  });
});

describe('BFD session: arbitrary input', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const arbPacket = fc.record({
    diagnostic: fc.integer({ min: 0, max: 31 }),
    state: fc.constantFrom<BfdState>('AdminDown', 'Down', 'Init', 'Up'),
    poll: fc.boolean(),
    final: fc.boolean(),
    controlPlaneIndependent: fc.boolean(),
    demand: fc.boolean(),
    detectMult: fc.integer({ min: 1, max: 255 }),
    myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
    yourDiscriminator: u32,
    desiredMinTxUs: fc.oneof(u32, fc.integer({ min: 1000, max: 2_000_000 })),
    requiredMinRxUs: fc.oneof(u32, fc.integer({ min: 0, max: 2_000_000 })),
    requiredMinEchoRxUs: u32,
  });
  const step = fc.oneof(
    fc.record({ kind: fc.constant('packet' as const), packet: arbPacket }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
    fc.record({ kind: fc.constant('timers' as const), tx: fc.integer({ min: 1, max: 3_000_000 }), rx: fc.integer({ min: 0, max: 3_000_000 }), mult: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('admin' as const), down: fc.boolean() }),
  );
  const legal: Record<BfdState, readonly BfdState[]> = {
    AdminDown: ['Down'],
    Down: ['Init', 'Up', 'AdminDown'],
    Init: ['Up', 'Down', 'AdminDown'],
    Up: ['Down', 'AdminDown'],
  };

  it('never throws, sends only encodable packets, and changes state only along RFC 5880 §6.2 edges', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.boolean(), (steps, passive) => {
        const clock = new FakeClock();
        const sent: ControlPacket[] = [];
        const s = new BfdSession({ clock, localDiscriminator: 7, timers: timers(100, 100), passive, send: (p) => sent.push(p) });
        s.onStateChange((c) => assert.ok(legal[c.previous].includes(c.state), `${c.previous} → ${c.state}`));
        s.start();
        for (const st of steps) {
          if (st.kind === 'packet') s.receive(st.packet);
          else if (st.kind === 'advance') clock.advance(st.ms);
          else if (st.kind === 'timers') s.setTimers({ desiredMinTxUs: st.tx, requiredMinRxUs: st.rx, detectMult: st.mult });
          else if (st.down) s.adminDown();
          else s.adminUp();
        }
        for (const p of sent) {
          encodeControl(p);
          if (p.state !== 'Up') assert.ok(p.desiredMinTxUs >= SLOW_TX_US);
        }
        s.stop();
        clock.advance(10_000);
        assert.equal(clock.pendingTimers(), 0);
      }),
      { numRuns: 500 },
    );
  });

  it('timersFromProfile converts milliseconds to microseconds', () => {
    assert.deepEqual(
      timersFromProfile({ name: 'p', receiveIntervalMs: 300, transmitIntervalMs: 100, detectMultiplier: 5, echoIntervalMs: 50, echoMode: false, passiveMode: false, minimumTtl: 254 }),
      { desiredMinTxUs: 100_000, requiredMinRxUs: 300_000, detectMult: 5 },
    );
  });
});
