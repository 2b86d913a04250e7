import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bfd, messages, parse, valid } from './fixtures.ts';

test('BFDProfile defaults are MetalLB\'s', () => {
  const c = valid(parse({ bfdProfiles: [bfd('default')] }));
  assert.deepEqual(c.bfdProfiles.get('default'), {
    name: 'default',
    receiveIntervalMs: 300,
    transmitIntervalMs: 300,
    detectMultiplier: 3,
    echoIntervalMs: 50,
    echoMode: false,
    passiveMode: false,
    minimumTtl: 254,
  });
});

test('BFDProfile takes every field', () => {
  const c = valid(
    parse({
      bfdProfiles: [
        bfd('full', {
          receiveInterval: 10,
          transmitInterval: 60000,
          detectMultiplier: 255,
          echoInterval: 100,
          echoMode: true,
          passiveMode: true,
          minimumTtl: 1,
        }),
      ],
    }),
  );
  assert.deepEqual(c.bfdProfiles.get('full'), {
    name: 'full',
    receiveIntervalMs: 10,
    transmitIntervalMs: 60000,
    detectMultiplier: 255,
    echoIntervalMs: 100,
    echoMode: true,
    passiveMode: true,
    minimumTtl: 1,
  });
});

test('BFDProfile ranges and types', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ receiveInterval: 9 }, 'receiveInterval must be between 10 and 60000, got 9'],
    [{ receiveInterval: 60001 }, 'receiveInterval must be between 10 and 60000, got 60001'],
    [{ transmitInterval: 9 }, 'transmitInterval must be between 10 and 60000, got 9'],
    [{ echoInterval: 60001 }, 'echoInterval must be between 10 and 60000, got 60001'],
    [{ detectMultiplier: 1 }, 'detectMultiplier must be between 2 and 255, got 1'],
    [{ detectMultiplier: 256 }, 'detectMultiplier must be between 2 and 255, got 256'],
    [{ minimumTtl: 0 }, 'minimumTtl must be between 1 and 254, got 0'],
    [{ minimumTtl: 255 }, 'minimumTtl must be between 1 and 254, got 255'],
    [{ receiveInterval: '300' }, 'receiveInterval must be an integer, got "300"'],
    [{ receiveInterval: 300.5 }, 'receiveInterval must be an integer, got 300.5'],
    [{ echoMode: 'true' }, 'echoMode must be a boolean, got "true"'],
    [{ passiveMode: 1 }, 'passiveMode must be a boolean, got 1'],
  ];
  for (const [spec, message] of cases) {
    assert.deepEqual(messages(parse({ bfdProfiles: [bfd('p', spec)] })), [`BFDProfile metallb-system/p: ${message}`], JSON.stringify(spec));
  }
});
