import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCIDR, parseIP, type CIDR } from '../../net/address.ts';
import type { UpdateMessage } from './messages.ts';
import { announcedPrefixes, endOfRibFamily, withdrawnPrefixes } from './routes.ts';

const cidr = (s: string): CIDR => parseCIDR(s) as CIDR;

const update: UpdateMessage = {
  type: 'update',
  withdrawn: [cidr('10.1.0.0/16')],
  attributes: {
    mpReach: { afi: 2, safi: 1, nextHop: { global: parseIP('2001:db8::1')! }, nlri: [cidr('2001:db8:1::/48')] },
    mpUnreach: { afi: 2, safi: 1, withdrawn: [cidr('2001:db8:2::/48')] },
  },
  nlri: [cidr('10.2.0.0/16')],
  treatAsWithdraw: false,
  problems: [],
};

describe('what an UPDATE means for the routes', () => {
  it('announces the NLRI field and MP_REACH_NLRI, withdraws the Withdrawn Routes and MP_UNREACH_NLRI', () => {
    assert.deepEqual(announcedPrefixes(update), [cidr('10.2.0.0/16'), cidr('2001:db8:1::/48')]);
    assert.deepEqual(withdrawnPrefixes(update), [cidr('10.1.0.0/16'), cidr('2001:db8:2::/48')]);
    assert.equal(endOfRibFamily(update), undefined);
  });

  it('treat-as-withdraw turns every announcement into a withdrawal', () => {
    const bad = { ...update, treatAsWithdraw: true };
    assert.deepEqual(announcedPrefixes(bad), []);
    assert.deepEqual(withdrawnPrefixes(bad), [cidr('10.1.0.0/16'), cidr('2001:db8:2::/48'), cidr('10.2.0.0/16'), cidr('2001:db8:1::/48')]);
  });
});
