import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiprotocolCapability } from './capabilities.ts';
import type { OpenMessage } from './messages.ts';
import { checkOpen } from './open-check.ts';

const open: OpenMessage = {
  type: 'open',
  version: 4,
  myAs: 65002,
  asn: 65002,
  holdTime: 90,
  bgpId: 0x0a000002,
  capabilities: [multiprotocolCapability('IPv4'), { kind: 'four-octet-as', asn: 65002 }],
};

describe('checkOpen', () => {
  it('accepts what matches the configuration', () => {
    assert.equal(checkOpen(open, { peerAsn: 65002, localAsn: 65001, localBgpId: 0x0a000001, requiredCapabilities: [multiprotocolCapability('IPv4')] }), undefined);
    assert.equal(checkOpen(open, {}), undefined);
  });

  it('an unexpected peer AS: Bad Peer AS', () => {
    const e = checkOpen(open, { peerAsn: 65003 });
    assert.deepEqual([e?.code, e?.subcode], [2, 2]);
  });

  it('an internal peer with our BGP Identifier: Bad BGP Identifier; an external one may share it', () => {
    const e = checkOpen(open, { localAsn: 65002, localBgpId: 0x0a000002 });
    assert.deepEqual([e?.code, e?.subcode], [2, 3]);
    assert.equal(checkOpen(open, { localAsn: 65001, localBgpId: 0x0a000002 }), undefined);
  });

  it('a missing required capability: Unsupported Capability, data = the capability as we would send it', () => {
    const e = checkOpen(open, { requiredCapabilities: [multiprotocolCapability('IPv6'), { kind: 'four-octet-as', asn: 65001 }] });
    assert.deepEqual([e?.code, e?.subcode], [2, 7]);
    assert.equal(e?.data.toString('hex'), '010400020001');
  });
});
