// BFDProfile: timers and modes for the BFD session that rides along a BGP session. Ranges and defaults
// are MetalLB's (which are FRR's).
import type { BFDProfile } from './model.ts';
import type { Problems } from './problems.ts';
import { FieldReader, own } from './reader.ts';
import type { SourceObject } from './sources.ts';

export const bfdDefaults = {
  receiveIntervalMs: 300,
  transmitIntervalMs: 300,
  detectMultiplier: 3,
  echoIntervalMs: 50,
  minimumTtl: 254,
} as const;

export const bfdLimits = {
  interval: { min: 10, max: 60000 },
  detectMultiplier: { min: 2, max: 255 },
  minimumTtl: { min: 1, max: 254 },
} as const;

export function readBFDProfile(source: SourceObject, problems: Problems): BFDProfile {
  const r = new FieldReader(source.origin, problems);
  const s = source.spec;
  const interval = (key: string) => r.integer(own(s, key), key, bfdLimits.interval.min, bfdLimits.interval.max);
  return {
    name: source.name,
    receiveIntervalMs: interval('receiveInterval') ?? bfdDefaults.receiveIntervalMs,
    transmitIntervalMs: interval('transmitInterval') ?? bfdDefaults.transmitIntervalMs,
    detectMultiplier:
      r.integer(own(s, 'detectMultiplier'), 'detectMultiplier', bfdLimits.detectMultiplier.min, bfdLimits.detectMultiplier.max) ??
      bfdDefaults.detectMultiplier,
    echoIntervalMs: interval('echoInterval') ?? bfdDefaults.echoIntervalMs,
    echoMode: r.boolean(own(s, 'echoMode'), 'echoMode') ?? false,
    passiveMode: r.boolean(own(s, 'passiveMode'), 'passiveMode') ?? false,
    minimumTtl:
      r.integer(own(s, 'minimumTtl'), 'minimumTtl', bfdLimits.minimumTtl.min, bfdLimits.minimumTtl.max) ?? bfdDefaults.minimumTtl,
  };
}
