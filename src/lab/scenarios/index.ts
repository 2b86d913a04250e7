import type { Scenario } from '../scenario.ts';
import { bgpScenario } from './bgp.ts';
import { layer2Scenario } from './layer2.ts';

export const scenarios: readonly Scenario[] = [layer2Scenario, bgpScenario];
