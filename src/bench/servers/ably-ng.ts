/**
 * ably-ng under test: a deployment of real `ably-ng node` processes run by the same
 * Supervisor as `ably-ng up`, on free loopback ports, with the limits raised so that
 * only the server's speed bounds the load (per-connection and per-channel publish rates,
 * outbound buffer). One region of one node is the single-node server; scenarios with a
 * multi-node region or several regions call `startAblyDeployment` with more.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Supervisor } from '../../cli/supervisor.js';
import { validateTopology, type Topology } from '../../config/topology.js';
import { silentLogger } from '../../log.js';
import { pinProcess, hasTaskset } from '../processes.js';
import { reservePorts } from '../../ports.js';
import { CHANNEL, type RunningServer, type ServerContext, type ServerDef } from './server.js';

/** Limits high enough that the server's speed, not a quota, bounds the benchmark. */
export const BENCH_LIMITS = {
  maxInboundRate: 1_000_000, // messages per second per connection
  maxChannelPublishRate: 1_000_000, // messages per second per channel
  maxConnectionBufferBytes: 16_777_216, // 16 MiB outbound buffer before a slow consumer is dropped
} as const;
export const BENCH_RETENTION = { maxMessagesPerChannel: 1000 } as const;

export const BENCH_APP = 'bench';
export const BENCH_KEY = `${BENCH_APP}.root:bench-root-secret`;

export interface AblyDeploymentOptions {
  /** Regions and how many nodes each has (default: one region "r1" of one node). */
  regions?: { name: string; nodes: number }[];
  limits?: Record<string, number>;
  retention?: Record<string, number>;
  /** A balancer per region (needed only when clients should go through one). */
  balancers?: boolean;
  /** Node-to-node links through fault proxies (to cut or slow them). */
  meshProxies?: boolean;
  /** Node log level; warnings and errors are read back for the report. */
  logLevel?: string;
}

export interface AblyDeployment {
  supervisor: Supervisor;
  topology: Topology;
  topologyFile: string;
  key: string;
  /** Per node, in topology order: its region and WebSocket URL. */
  nodes: { name: string; region: string; pid: number; wsUrl: string }[];
  pids: number[];
  /** Warnings and errors from the node logs, collapsed by message. */
  problems(): string[];
  stop(): Promise<void>;
}

/** A topology document on free loopback ports for the given regions. */
export async function benchTopology(o: AblyDeploymentOptions): Promise<unknown> {
  const regions = o.regions ?? [{ name: 'r1', nodes: 1 }];
  const multi = regions.length > 1;
  // Distinct ports, all free now and below the ephemeral range (clients' own ports cannot take them).
  const perNode = multi ? 3 : 2;
  const perRegion = (multi ? 1 : 0) + (o.balancers ? 1 : 0);
  const ports = await reservePorts(regions.reduce((n, r) => n + r.nodes * perNode + perRegion, 0));
  let next = 0;
  const port = () => ports[next++]!;
  const regionDocs = [];
  for (const r of regions) {
    const nodes = [];
    for (let i = 0; i < r.nodes; i++) {
      nodes.push({
        name: `${r.name}-n${i + 1}`,
        host: '127.0.0.1',
        port: port(),
        meshPort: port(),
        ...(multi ? { grpcPort: port() } : {}),
      });
    }
    regionDocs.push({
      name: r.name,
      ...(multi ? { link: { host: '127.0.0.1', port: port() } } : {}),
      ...(o.balancers ? { balancer: { host: '127.0.0.1', port: port() } } : {}),
      nodes,
    });
  }
  const [appId, rest] = BENCH_KEY.split('.') as [string, string];
  const [keyId, secret] = rest.split(':') as [string, string];
  return {
    deployment: 'bench',
    secrets: { cluster: 'bench-cluster-secret', ...(multi ? { deployment: 'bench-deployment-secret' } : {}) },
    ...(multi ? { links: { plaintext: true } } : {}),
    apps: [{ id: appId, keys: [{ id: keyId, secret, capability: { '*': ['*'] } }] }],
    retention: { ...BENCH_RETENTION, ...o.retention },
    limits: { ...BENCH_LIMITS, ...o.limits },
    regions: regionDocs,
  };
}

export async function startAblyDeployment(ctx: ServerContext, o: AblyDeploymentOptions = {}): Promise<AblyDeployment> {
  const doc = await benchTopology(o);
  const topologyFile = join(ctx.dir, 'topology.yaml');
  writeFileSync(topologyFile, stringify(doc));
  const topology = validateTopology(doc, topologyFile);
  const stateDir = join(ctx.dir, 'state');
  const supervisor = new Supervisor({
    topology,
    topologyFile,
    stateDir,
    nodeLogLevel: o.logLevel ?? 'warn',
    log: silentLogger(),
    balancers: o.balancers ?? false,
    meshProxies: o.meshProxies ?? false,
  });
  // Registered before start so that a failed or interrupted start still stops what began.
  const group = ctx.processes.adopt(() => supervisor.stop());
  try {
    await supervisor.start((line) => {
      if (line.ready === true) group.pids.push(line.pid);
    });
  } catch (e) {
    await group.stop();
    throw e;
  }
  const nodes = topology.regions.flatMap((r) =>
    r.nodes.map((n) => {
      const p = supervisor.nodes.get(n.name)!;
      return { name: n.name, region: r.name, pid: p.pid, wsUrl: `ws://127.0.0.1:${n.port}` };
    }),
  );
  const pids = nodes.map((n) => n.pid);
  if (ctx.cpus && hasTaskset()) for (const pid of pids) pinProcess(pid, ctx.cpus);
  return {
    supervisor,
    topology,
    topologyFile,
    key: BENCH_KEY,
    nodes,
    pids,
    problems: () => nodeProblems(join(stateDir, 'logs'), nodes.map((n) => n.name)),
    stop: group.stop,
  };
}

/**
 * Warning and error lines of the node logs (at or after `sinceMs`), and lines that are
 * not log records (a crash), counted by message ("slow consumer disconnected ×12").
 */
export function nodeProblems(logDir: string, nodes: string[], sinceMs = 0): string[] {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    let text = '';
    try {
      text = readFileSync(join(logDir, `${node}.log`), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) {
        if (line.trim()) counts.set(`${node}: ${line.slice(0, 200)}`, (counts.get(`${node}: ${line.slice(0, 200)}`) ?? 0) + 1);
        continue;
      }
      try {
        const rec = JSON.parse(line) as { level?: number; time?: number; msg?: string; peer?: string; err?: { message?: string } | string };
        if ((rec.level ?? 0) < 40 || (rec.time ?? Infinity) < sinceMs) continue;
        const err = typeof rec.err === 'string' ? rec.err : rec.err?.message;
        const k = `${node}: ${rec.level! >= 50 ? 'error' : 'warn'} ${rec.msg ?? ''}${rec.peer ? ` (peer ${rec.peer})` : ''}${err ? ` (${err})` : ''}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      } catch {
        // a torn line at the end of the file
      }
    }
  }
  return [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k));
}

/** One `ably-ng node`: one region of one node. */
export const ablyNgServer: ServerDef = {
  id: 'ably-ng',
  label: 'ably-ng (1 node)',
  protocol: 'ably',
  describe: 'one `ably-ng node` process (one region, one node), Ably protocol v6 over JSON',
  async start(ctx: ServerContext): Promise<RunningServer> {
    const d = await startAblyDeployment(ctx);
    const url = d.nodes[0]!.wsUrl;
    return {
      id: 'ably-ng',
      label: 'ably-ng (1 node)',
      target: { protocol: 'ably', subscriberUrls: [url], publisherUrl: url, channel: CHANNEL, key: d.key },
      pids: d.pids,
      problems: d.problems,
      stop: d.stop,
    };
  },
};
