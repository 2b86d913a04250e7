import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BgpDecodeError, describeErrorCode, describeNotification } from './errors.ts';

describe('readable NOTIFICATIONs', () => {
  it('names code and subcode', () => {
    assert.equal(describeErrorCode(2, 2), 'code 2 (OPEN Message Error) subcode 2 (Bad Peer AS)');
    assert.equal(describeErrorCode(3, 11), 'code 3 (UPDATE Message Error) subcode 11 (Malformed AS_PATH)');
    assert.equal(describeErrorCode(4, 0), 'code 4 (Hold Timer Expired) subcode 0 (Unspecific)');
    assert.equal(describeErrorCode(6, 10), 'code 6 (Cease) subcode 10 (BFD Down)');
    assert.equal(describeErrorCode(9, 1), 'code 9 (unknown) subcode 1 (unknown)');
  });

  it('adds the shutdown communication, or the data in hex', () => {
    assert.equal(
      describeNotification({ code: 6, subcode: 2, data: Buffer.from('\x0bmaintenance'), shutdownCommunication: 'maintenance' }),
      'code 6 (Cease) subcode 2 (Administrative Shutdown): "maintenance"',
    );
    assert.equal(describeNotification({ code: 2, subcode: 2, data: Buffer.alloc(0) }), 'code 2 (OPEN Message Error) subcode 2 (Bad Peer AS)');
    assert.equal(describeNotification({ code: 2, subcode: 1, data: Buffer.from([0, 4]) }), 'code 2 (OPEN Message Error) subcode 1 (Unsupported Version Number), data 0004');
  });

  it('BgpDecodeError carries what to send and says it', () => {
    const e = new BgpDecodeError(1, 2, 'message length 5', Buffer.from([0, 5]));
    assert.equal(e.message, 'code 1 (Message Header Error) subcode 2 (Bad Message Length): message length 5');
    assert.deepEqual([e.code, e.subcode, e.data], [1, 2, Buffer.from([0, 5])]);
    assert.ok(e instanceof Error);
  });
});
