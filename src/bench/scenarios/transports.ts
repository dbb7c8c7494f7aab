/**
 * Region transports side by side (issue 8): the mesh against NATS (one local
 * nats-server, and a two-server cluster where each message crosses a route), measured
 * with `transport-hop.ts` (hop latency, stream and fan-out throughput between node
 * processes) and `membership-scale.ts` (membership traffic and convergence as the region
 * grows, in-process nodes). Both talk to 127.0.0.1 only and stop what they start.
 */
import { membershipSvg } from '../membership-scale-svg.js';
import { membershipScale } from '../membership-scale.js';
import { transportHop, type HopResult } from '../transport-hop.js';
import { rate as fmtRate } from '../report/format.js';
import type { Scenario, ScenarioResult, Table } from './scenario.js';

const LABEL: Record<HopResult['transport'], string> = { mesh: 'mesh', 'mesh-uncorked': 'mesh (one write per frame)', nats: 'NATS (1 server)', 'nats-cluster': 'NATS (2-server cluster)' };

function hopTable(results: HopResult[]): Table {
  const mesh = results.find((r) => r.transport === 'mesh')!;
  return {
    title: 'Node-to-node hop, mesh vs NATS (node processes on loopback; medians of the runs)',
    header: ['transport', 'hop p50 (µs)', 'round trip p50 / p99 (µs)', 'stream, 1 peer (msgs/s)', `fan-out to ${mesh.fanout} peers (deliveries/s)`, 'hop ÷ mesh', 'stream: mesh ÷ it'],
    rows: results.map((r) => [
      LABEL[r.transport],
      r.hopP50Us,
      `${r.rttP50Us} / ${r.rttP99Us}`,
      fmtRate(r.streamMsgsPerS),
      fmtRate(r.fanoutDeliveriesPerS),
      `${(r.hopP50Us / mesh.hopP50Us).toFixed(2)}×`,
      `${(mesh.streamMsgsPerS / r.streamMsgsPerS).toFixed(2)}×`,
    ]),
  };
}

export const transportsScenario: Scenario = {
  id: 'transports',
  title: 'Region transports: mesh vs NATS',
  covers: 'issue 8 (hop latency, throughput, membership at scale)',
  async run(ctx): Promise<ScenarioResult> {
    const p = ctx.profile.transports;
    ctx.log(`transports: hop and stream, ${p.hop.runs} run(s) of ${p.hop.messages} messages per transport`);
    const hop = await transportHop(p.hop);
    ctx.log(`transports: membership at ${p.membershipSizes.join(', ')} nodes`);
    const scale = await membershipScale({ sizes: p.membershipSizes, intervalMs: null, windowMs: p.membershipWindowMs });
    const membership: Table = {
      title: 'Membership as the region grows (in-process nodes; traffic at the default 500 ms heartbeat interval)',
      header: ['nodes', 'transport', 'connections', 'heartbeat (bytes)', 'msgs/s sent', 'msgs/s delivered', 'bytes/s delivered', 'all up after (ms)', 'a death seen by all after (ms)'],
      rows: scale.results.map((r) => [
        r.nodes,
        r.transport,
        r.connections,
        r.heartbeatBytes,
        fmtRate(r.trafficAtDefaultInterval.sentPerS),
        fmtRate(r.trafficAtDefaultInterval.deliveredPerS),
        fmtRate(r.trafficAtDefaultInterval.deliveredBytesPerS),
        r.joinConvergenceMs,
        r.deathConvergenceMs,
      ]),
    };
    return {
      id: 'transports',
      title: 'Region transports: mesh vs NATS (issue 8)',
      figures: { hop, membership: scale.results },
      tables: [hopTable(hop.results), membership],
      plots: [{ file: 'membership-scale.svg', title: 'Membership traffic and convergence by region size', svg: membershipSvg(scale.results) }],
      notes: [
        'The hop benchmark runs transports directly between node processes (no gateway, no channel logic): it isolates what the transport adds.',
        'Membership: every node heartbeats every other; on the mesh each heartbeat is one write per link (N² links), on NATS one publish the server fans out. Past 50 nodes one process cannot decode N² heartbeats per 500 ms, so the run interval grows and traffic is scaled back to the default interval.',
      ],
    };
  },
};
