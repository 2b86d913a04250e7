import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, parseGoDuration } from './duration.ts';

test('parseGoDuration reads Go duration text', () => {
  const cases: [string, number | undefined][] = [
    ['90s', 90],
    ['1m30s', 90],
    ['3m', 180],
    ['1h', 3600],
    ['1.5h', 5400],
    ['1h2m3s', 3723],
    ['300ms', 0.3],
    ['1500us', 0.0015],
    ['1500µs', 0.0015],
    ['1500μs', 0.0015],
    ['10ns', 1e-8],
    ['0', 0],
    ['0s', 0],
    ['+5s', 5],
    ['-5s', -5],
    ['1.s', 1],
    ['.5s', 0.5],
    ['', undefined],
    ['90', undefined],
    ['s', undefined],
    ['.s', undefined],
    ['1x', undefined],
    ['1sm', undefined],
    ['1s1', undefined],
    ['1 s', undefined],
    [' 1s', undefined],
    ['1S', undefined],
    ['-', undefined],
  ];
  for (const [text, want] of cases) {
    const got = parseGoDuration(text);
    if (want === undefined) assert.equal(got, undefined, text);
    else assert.ok(got !== undefined && Math.abs(got - want) < 1e-12, `${text}: ${got}`);
  }
});

test('formatGoDuration prints whole seconds like Go', () => {
  assert.equal(formatGoDuration(0), '0s');
  assert.equal(formatGoDuration(90), '1m30s');
  assert.equal(formatGoDuration(3600), '1h0m0s');
  assert.equal(formatGoDuration(3723), '1h2m3s');
  assert.equal(formatGoDuration(59), '59s');
  for (const s of [0, 1, 59, 60, 61, 3599, 3600, 65535]) assert.equal(parseGoDuration(formatGoDuration(s)), s);
});
