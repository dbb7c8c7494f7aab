/**
 * Every scenario, in the order a run takes them. A new scenario (a 3-node region, many
 * channels, cross-region latency, failover) is a module beside these that implements
 * Scenario, starting its deployment with `startAblyDeployment` (servers/ably-ng.ts) inside
 * `withServer`, and one line here.
 */
import { connectionsScenario } from './connections.js';
import { crossRegionScenario } from './cross-region.js';
import { failoverScenario } from './failover.js';
import { fanoutPeersScenario } from './fanout-peers.js';
import { fanoutScaleScenario } from './fanout-scale.js';
import { channelsScenario } from './channels.js';
import { regionScenario } from './region.js';
import { scaleChannelsScenario, scaleNodesScenario } from './scale-region.js';
import type { Scenario } from './scenario.js';
import { transportsScenario } from './transports.js';

export const SCENARIOS: readonly Scenario[] = [
  fanoutPeersScenario,
  connectionsScenario,
  fanoutScaleScenario,
  regionScenario,
  channelsScenario,
  scaleChannelsScenario,
  scaleNodesScenario,
  crossRegionScenario,
  failoverScenario,
  transportsScenario,
];

export function selectScenarios(only: string[] | null): Scenario[] {
  if (!only) return [...SCENARIOS];
  const unknown = only.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')} (have: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  return SCENARIOS.filter((s) => only.includes(s.id));
}
