import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitJsonDocuments } from './json-documents.ts';

describe('splitJsonDocuments', () => {
  it('splits documents printed back to back, braces inside strings included', () => {
    const text = '{\n "a": "x}{y",\n "b": [1, {"c": "\\"}"}]\n}\n{ "d": 2 }\n[]\n';
    assert.deepEqual(splitJsonDocuments(text), { documents: [{ a: 'x}{y', b: [1, { c: '"}' }] }, { d: 2 }, []], other: [] });
  });

  it('keeps text between documents apart (an FRR "% …" line)', () => {
    const r = splitJsonDocuments('{}\n% Unknown command: show nothing\n{"x":1}\n');
    assert.deepEqual(r, { documents: [{}, { x: 1 }], other: ['% Unknown command: show nothing'] });
  });

  it('rejects a truncated document', () => {
    assert.throws(() => splitJsonDocuments('{"a": {'), SyntaxError);
  });
});
