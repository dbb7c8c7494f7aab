/**
 * `ably-ng node`: runs one node until SIGTERM/SIGINT, printing its ready line on stdout
 * once it serves: `{"ready":true,"region":…,"node":…,"url":…,"pid":…}`.
 */
import { findRegion, loadTopology, TopologyError, type NodeConfig } from '../config/topology.js';
import { memoryBudget } from '../memory-budget.js';
import { createLogger, dropLogs, type LogLevel } from '../log.js';
import { AblyNode } from '../node/node.js';
import { hostPort } from '../ports.js';

export interface NodeCommandOptions {
  topology: string;
  region: string;
  node: string;
  host?: string;
  port?: number;
  meshPort?: number;
  logLevel: string;
  linkVia?: string[];
  meshVia?: string[];
  natsVia?: string[];
}

/** `name=host:port` pairs as a map. */
function viaMap(list: string[] | undefined): Map<string, { host: string; port: number }> {
  const m = new Map<string, { host: string; port: number }>();
  for (const v of list ?? []) {
    const [name, addr] = v.split('=') as [string, string];
    const i = addr.lastIndexOf(':');
    m.set(name, { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
  }
  return m;
}

export async function runNode(o: NodeCommandOptions): Promise<void> {
  const topology = loadTopology(o.topology);
  const region = findRegion(topology, o.region);
  let node: NodeConfig;
  const known = region.nodes.find((n) => n.name === o.node);
  if (known) {
    node = { ...known, ...(o.host ? { host: o.host } : {}), ...(o.port ? { port: o.port } : {}), ...(o.meshPort ? { meshPort: o.meshPort } : {}) };
  } else {
    // A node joining a running region: it needs its own ports; it finds the others
    // through the topology's nodes (its seeds) and their heartbeats.
    if (!o.port || !o.meshPort) {
      throw new TopologyError([`node "${o.node}" is not in region "${o.region}": give --port and --mesh-port to join with it`]);
    }
    const elsewhere = topology.regions.find((r) => r.nodes.some((n) => n.name === o.node));
    if (elsewhere) throw new TopologyError([`node "${o.node}" is a node of region "${elsewhere.name}", not "${o.region}": a node joining needs a name of its own`]);
    if (o.port === o.meshPort) throw new TopologyError([`--port and --mesh-port are both ${o.port}: a node needs two ports`]);
    node = { name: o.node, host: o.host ?? '127.0.0.1', port: o.port, meshPort: o.meshPort };
  }
  const log = createLogger(o.logLevel as LogLevel);
  // Started by a supervisor (`ably-ng up`, chaos, tests): stop when it goes away, even
  // before this node is ready. Its end of stderr went with it: logs are dropped first.
  let stop = (_why: string): void => process.exit(1);
  if (process.send) {
    process.on('disconnect', () => {
      dropLogs();
      stop('supervisor gone');
    });
  }
  const linkVia = viaMap(o.linkVia);
  const meshVia = viaMap(o.meshVia);
  const natsVia = viaMap(o.natsVia);
  // The process's memory, which its masters keep publishes under (memory-budget.ts).
  memoryBudget.configure(topology.limits.maxNodeMemoryBytes);
  const n = new AblyNode({
    topology,
    region: region.name,
    node,
    log,
    linkVia,
    ...(meshVia.size ? { dialVia: (peer, address) => meshVia.get(peer) ?? { host: address.host, port: address.meshPort } } : {}),
    ...(natsVia.size ? { natsVia } : {}),
  });
  // A running node has this node's name (a typo for a new one, or the old process still
  // lives): this one stops, before or after its ready line, and says so (mesh-lives.ts).
  let nameTaken = false;
  n.on((e) => {
    if (e.type !== 'nameInUse' || nameTaken) return;
    process.stderr.write(`ably-ng node: node name "${node.name}" is in use in region "${region.name}": ${e.peer} hears a running node of that name (its link from ${e.holder}); stopping\n`);
    nameTaken = true;
    stop('name in use');
  });
  await n.start();
  const host = node.host === '0.0.0.0' || node.host === '::' ? '127.0.0.1' : node.host;
  process.stdout.write(
    `${JSON.stringify({ ready: true, region: region.name, node: node.name, url: `http://${hostPort(host, n.port)}`, pid: process.pid })}\n`,
  );
  let stopping = false;
  stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const hard = setTimeout(() => process.exit(1), 10_000);
    hard.unref();
    n.stop().then(
      () => process.exit(nameTaken ? 1 : 0),
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
