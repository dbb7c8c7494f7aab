import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Supervisor } from '../../src/cli/supervisor.js';
import { silentLogger } from '../../src/log.js';
import type { Topology } from '../../src/config/topology.js';
import { connectionName } from '../../src/transport/nats-subjects.js';
import { makeTopology, type TestTopologyOptions } from './topology.js';
import { removeTempDir } from './tmp.js';
import { waitFor } from './wait.js';

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
  o: TestTopologyOptions & {
    balancers?: boolean;
    nodeLogLevel?: string;
    meshProxies?: boolean;
    env?: Record<string, string>;
    regionEnv?: Record<string, Record<string, string>>;
    nodeEnv?: Record<string, Record<string, string>>;
  } = {},
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
    ...(o.env ? { env: o.env } : {}),
    ...(o.regionEnv ? { regionEnv: o.regionEnv } : {}),
    ...(o.nodeEnv ? { nodeEnv: o.nodeEnv } : {}),
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

/** Where a node's supervisor writes its log (stderr and stdout past the ready line). */
export function nodeLogPath(d: TestDeployment, node: string): string {
  return join(d.dir, 'state', 'logs', `${node}.log`);
}

/**
 * The lines of a node's log whose text matches `pattern`, for a failure message that
 * says what the nodes saw; none where the log is not there.
 */
export function nodeLogLines(d: TestDeployment, node: string, pattern: RegExp): string[] {
  try {
    return readFileSync(nodeLogPath(d, node), 'utf8')
      .split('\n')
      .filter((l) => pattern.test(l));
  } catch {
    return [];
  }
}

/** The lines of these nodes' logs that match `pattern`, each after its node's name and cut to `width` (for failure messages). */
export function nodesLogLines(d: TestDeployment, nodes: readonly string[], pattern: RegExp, width = 300): string[] {
  return nodes.flatMap((n) => nodeLogLines(d, n, pattern).map((l) => `${n}: ${l.slice(0, width)}`));
}

/**
 * For a describe: a deployment of these regions started before its tests (region links
 * up) and stopped after them; returns the getter of it.
 */
export function regionsDeployment(regions: { name: string; nodes: number }[], o: Omit<NonNullable<Parameters<typeof startDeployment>[0]>, 'regions'> = {}): () => TestDeployment {
  let d: TestDeployment | undefined;
  beforeAll(async () => {
    d = await startDeployment({ ...o, regions });
    await regionLinksUp(d, regions.map((r) => r.name));
  });
  afterAll(async () => {
    await d?.stop();
  });
  return () => d!;
}

/** The running node that holds a region's globalmaster role, and its `/health` (waits for one). */
export async function globalmaster(d: TestDeployment, region: string): Promise<{ node: string; health: Record<string, any> }> {
  return waitFor(
    async () => {
      for (const n of d.nodes(region)) {
        if (!d.sup.nodes.has(n)) continue;
        const h = await d.health(n).catch(() => null);
        if (h?.globalmaster) return { node: n, health: h };
      }
      return null;
    },
    { what: `a globalmaster in ${region}`, timeoutMs: 20_000 },
  );
}

/** Whether every region link of a region's globalmaster is up now. */
export async function allLinksUp(d: TestDeployment, region: string): Promise<boolean> {
  return (await globalmaster(d, region)).health.regionLinks.links.every((l: any) => l.up);
}

/** Waits until every region link of these regions' globalmasters is up. */
export async function regionLinksUp(d: TestDeployment, regions: string[]): Promise<void> {
  for (const r of regions) {
    await waitFor(() => allLinksUp(d, r), {
      what: `${r}'s links up`,
      timeoutMs: 20_000,
    });
  }
}

/**
 * A node's count of mesh frames around cut links (`ablyng_mesh_frames_around_total{what}`:
 * sentAround, carried, takenAround, …), read from its /metrics.
 */
export async function framesAround(d: TestDeployment, node: string, what: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.port(node)}/metrics`)).text();
  return Number(new RegExp(`^ablyng_mesh_frames_around_total\\{[^}]*what="${what}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** A region of three nodes whose mesh links go through fault proxies (`d.sup.meshProxies`), once every node sees all three up. */
export async function meshProxiedRegion(): Promise<TestDeployment> {
  const d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }], meshProxies: true });
  await waitFor(async () => (await Promise.all(d.nodes().map((n) => d.health(n)))).every((h) => h.members.filter((m: any) => m.state === 'up').length === 3), {
    what: 'every node seeing all three up',
    timeoutMs: 20_000,
  });
  return d;
}
