/**
 * A deployment of real ably-ng nodes (several regions, fault proxies on the region
 * links, the chaos control endpoint) with a probe process beside it, for the scenarios
 * that measure regions, failover and partitions (6, 7). Started inside `withServer`, so
 * the nodes, the load generator and the probe are always stopped by PID, and the nodes'
 * warnings are read after they stopped.
 */
import { Probe } from '../probe/driver.js';
import { startAblyDeployment, type AblyDeployment, type AblyDeploymentOptions } from '../servers/ably-ng.js';
import { CHANNEL } from '../servers/server.js';
import { withServer, type ScenarioContext } from './scenario.js';

export interface ProbeSession<T> {
  value: T;
  /** What the probe's clients saw (closes, errors, NACKs), counted. */
  clientNotes: string[];
  /** Warnings and errors the nodes logged until the measurement ended (not while stopping: peers leaving is expected then). */
  serverProblems: string[];
}

export async function withProbe<T>(
  ctx: ScenarioContext,
  id: string,
  options: AblyDeploymentOptions,
  fn: (d: AblyDeployment, probe: Probe) => Promise<T>,
): Promise<ProbeSession<T>> {
  let deployment: AblyDeployment | null = null;
  let clientNotes: string[] = [];
  let problems: string[] = [];
  const s = await withServer(
    ctx,
    {
      id,
      async start(sc) {
        const d = await startAblyDeployment(sc, options);
        deployment = d;
        const url = d.nodes[0]!.wsUrl;
        return {
          id,
          label: `ably-ng (${d.nodes.length} nodes)`,
          target: { protocol: 'ably', subscriberUrls: [url], publisherUrl: url, channel: CHANNEL, key: d.key },
          pids: d.pids,
          problems: d.problems,
          stop: d.stop,
        };
      },
    },
    async () => {
      const probe = await Probe.start(ctx.processes, ctx.cpus.loadgen);
      try {
        return await fn(deployment!, probe);
      } finally {
        problems = deployment!.problems();
        clientNotes = (await probe.closeAll().catch((e: Error) => ({ notes: [`closing the probe's connections: ${e.message}`] }))).notes;
        await probe.stop();
      }
    },
  );
  return { value: s.value, clientNotes, serverProblems: problems };
}

/** The WebSocket URLs of a region's nodes (optionally only some of them). */
export function regionUrls(d: AblyDeployment, region: string, only?: (name: string) => boolean): string[] {
  return d.nodes.filter((n) => n.region === region && (!only || only(n.name))).map((n) => n.wsUrl);
}
