import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveAsPath } from './attributes.ts';

describe('effectiveAsPath (RFC 6793 §4.2.3)', () => {
  it('is AS_PATH when there is no AS4_PATH', () => {
    assert.deepEqual(effectiveAsPath({ asPath: [{ type: 'sequence', asns: [1, 2] }] }), [{ type: 'sequence', asns: [1, 2] }]);
    assert.equal(effectiveAsPath({}), undefined);
  });

  it('keeps the leading ASes AS4_PATH does not cover and takes the rest from AS4_PATH', () => {
    const path = effectiveAsPath({
      asPath: [
        { type: 'sequence', asns: [65001, 23456, 23456] },
        { type: 'set', asns: [1, 2] },
      ],
      as4Path: [
        { type: 'sequence', asns: [4200000000, 4200000001] },
        { type: 'set', asns: [1, 2] },
      ],
    });
    assert.deepEqual(path, [
      { type: 'sequence', asns: [65001] },
      { type: 'sequence', asns: [4200000000, 4200000001] },
      { type: 'set', asns: [1, 2] },
    ]);
  });

  it('ignores an AS4_PATH longer than AS_PATH', () => {
    const asPath = [{ type: 'sequence' as const, asns: [23456] }];
    assert.deepEqual(effectiveAsPath({ asPath, as4Path: [{ type: 'sequence', asns: [4200000000, 4200000001] }] }), asPath);
  });
});
