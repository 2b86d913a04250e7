// The control plane lives in src/lab (the lab runs it too); tests import it from here.
export * from '../../src/lab/control-plane.ts';
