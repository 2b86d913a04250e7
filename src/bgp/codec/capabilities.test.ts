import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferWriter } from './buffer-writer.ts';
import { fourOctetAsCapability, multiprotocolCapability, negotiateCapabilities, routeRefreshCapability, writeCapability } from './capabilities.ts';
import type { Capability } from './messages.ts';

const bytes = (c: Capability): string => {
  const w = new BufferWriter(8);
  writeCapability(w, c);
  return w.flush().toString('hex');
};

describe('capability encoding (RFC 5492 TLVs)', () => {
  it('multiprotocol, route refresh, 4-octet AS', () => {
    assert.equal(bytes(multiprotocolCapability('IPv6')), '010400020001');
    assert.equal(bytes(routeRefreshCapability()), '0200');
    assert.equal(bytes(fourOctetAsCapability(4200000000)), '4104fa56ea00');
  });

  it('graceful restart: flags in the top nibble, 12-bit time, F bit per family', () => {
    const gr: Capability = {
      kind: 'graceful-restart',
      restarting: true,
      notification: false,
      restartTime: 4095,
      families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
    };
    assert.equal(bytes(gr), '40068fff00010180');
    assert.throws(() => bytes({ ...gr, restartTime: 4096 }));
  });
});

describe('negotiateCapabilities', () => {
  const local: Capability[] = [multiprotocolCapability('IPv4'), multiprotocolCapability('IPv6'), routeRefreshCapability(), fourOctetAsCapability(65001)];

  it('uses what both sides sent', () => {
    const n = negotiateCapabilities(local, [multiprotocolCapability('IPv6'), fourOctetAsCapability(65002)]);
    assert.deepEqual(n, { fourOctetAs: true, routeRefresh: false, families: [{ afi: 2, safi: 1 }], peerGracefulRestart: undefined });
  });

  it('a peer without multiprotocol capabilities speaks IPv4 unicast only', () => {
    const n = negotiateCapabilities(local, [routeRefreshCapability()]);
    assert.deepEqual(n.families, [{ afi: 1, safi: 1 }]);
    assert.equal(n.fourOctetAs, false);
    assert.equal(n.routeRefresh, true);
  });

  it("reports the peer's graceful restart capability", () => {
    const gr: Capability = { kind: 'graceful-restart', restarting: true, notification: true, restartTime: 120, families: [] };
    assert.deepEqual(negotiateCapabilities(local, [gr]).peerGracefulRestart, gr);
  });
});
