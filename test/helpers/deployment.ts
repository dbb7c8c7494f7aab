import { join } from 'node:path';
import { Supervisor } from '../../src/cli/supervisor.js';
import { silentLogger } from '../../src/log.js';
import type { Topology } from '../../src/config/topology.js';
import { connectionName } from '../../src/transport/nats-subjects.js';
import { makeTopology, type TestTopologyOptions } from './topology.js';
import { removeTempDir } from './tmp.js';

export interface TestDeployment {
  sup: Supervisor;
  file: string;
  dir: string;
  topology: Topology;
  /** Client port of a node. */
  port(node: string): number;
  nodes(region?: string): string[];
  health(node: string): Promise<Record<string, any>>;
  /** The name a node of a NATS region gives its NATS connection (as NATS monitoring shows it). */
  natsConnectionName(node: string): string;
  stop(): Promise<void>;
}

/**
 * Starts a deployment of real node processes (from dist/) on free loopback ports. A region
 * given `transport: 'nats'` and `nats: { servers }` runs on those NATS servers (start them
 * with `startNats` from ./nats.js); the others on the mesh.
 */
export async function startDeployment(
  o: TestTopologyOptions & { balancers?: boolean; nodeLogLevel?: string; meshProxies?: boolean } = {},
): Promise<TestDeployment> {
  const { file, dir, topology } = await makeTopology(o);
  const sup = new Supervisor({
    topology,
    topologyFile: file,
    stateDir: join(dir, 'state'),
    nodeLogLevel: o.nodeLogLevel ?? process.env.ABLY_NG_TEST_LOG_LEVEL ?? 'info',
    log: silentLogger(),
    balancers: o.balancers ?? false,
    meshProxies: o.meshProxies ?? false,
  });
  await sup.start();
  const ports = new Map(topology.regions.flatMap((r) => r.nodes.map((n) => [n.name, n.port] as const)));
  const regionOf = new Map(topology.regions.flatMap((r) => r.nodes.map((n) => [n.name, r.name] as const)));
  return {
    sup,
    file,
    dir,
    topology,
    port: (node) => ports.get(node)!,
    nodes: (region) => topology.regions.filter((r) => !region || r.name === region).flatMap((r) => r.nodes.map((n) => n.name)),
    health: async (node) => (await fetch(`http://127.0.0.1:${ports.get(node)}/health`)).json() as Promise<Record<string, any>>,
    natsConnectionName: (node) => connectionName(topology.deployment, regionOf.get(node)!, node),
    stop: async () => {
      await sup.stop();
      removeTempDir(dir);
    },
  };
}
