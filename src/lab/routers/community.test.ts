import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { communityValue, largeCommunityParts, normalizeCommunity, normalizeLargeCommunity } from './community.ts';

describe('lab community normalization', () => {
  it('numeric and well-known communities, in every daemon spelling', () => {
    assert.equal(communityValue('64512:100'), 64512 * 65536 + 100);
    assert.equal(normalizeCommunity('no-export'), '65535:65281');
    assert.equal(normalizeCommunity('noExport'), '65535:65281'); // FRR JSON
    assert.equal(normalizeCommunity('noAdvertise'), '65535:65282');
    assert.equal(normalizeCommunity('blackhole'), '65535:666');
    assert.equal(normalizeCommunity('64512:100'), '64512:100');
    assert.equal(normalizeCommunity('something'), 'something');
    assert.throws(() => communityValue('65536:1'), /not a community/);
  });

  it('large communities', () => {
    assert.deepEqual(largeCommunityParts('64512:1:2'), [64512, 1, 2]);
    assert.equal(normalizeLargeCommunity('large:4294967295:0:7'), '4294967295:0:7');
    assert.throws(() => largeCommunityParts('1:2'), /not a large community/);
    assert.throws(() => largeCommunityParts('4294967296:0:0'), /not a large community/);
  });
});
