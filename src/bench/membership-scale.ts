/**
 * Membership at scale: how a region's membership traffic and convergence grow with its
 * size, on NATS and on a full mesh. N lightweight nodes run in this process — each the
 * real `Membership` failure detector with heartbeats on a real transport, wired as
 * `node.ts` wires it, and nothing else (no gateway, no channels):
 *
 * - nats: a `NatsTransport` per node (its own connection) on one local nats-server; each
 *   node also listens on a "client port" that the transport probes when a peer falls
 *   silent, as it probes a real node's;
 * - mesh: the in-memory transport, standing in for the mesh's N·(N−1) links; the bytes a
 *   mesh would carry are counted as the framed protobuf size of each heartbeat times the
 *   peers it reaches (the mesh sends the same bytes on every link).
 *
 * Per N it measures: membership messages and bytes per second in the region (sent by the
 * nodes, and delivered to them; for NATS also as the server counts them in `/varz`), the
 * time from starting every node until every node sees every other `up`, and the time from
 * killing one node (its transport and client port gone, as with kill -9) until every other
 * node sees it `down`. Every phase has a deadline; every process it starts is stopped.
 *
 * Usage: node dist/bench/membership-scale.js [--sizes 10,25,50,100,150] [--interval-ms auto|MS]
 *          [--window-ms 3000] [--out bench/results]
 * Writes bench/results/membership-scale-<date>.json and .md, and membership-scale.svg.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { deriveTimeouts, HEARTBEAT_INTERVAL_MS, Membership, type MembershipEvent } from '../cluster/membership.js';
import { silentLogger } from '../log.js';
import { MemoryNetwork, MemoryTransport } from '../transport/memory.js';
import type { NodeAddress, NodeId } from '../transport/messages.js';
import { NatsTransport } from '../transport/nats.js';
import { encodeNodeMessage } from '../transport/node-codec.js';
import type { RegionTransport } from '../transport/transport.js';
import { findNatsServer, NatsServers } from '../nats-server.js';
import { membershipSvg } from './membership-scale-svg.js';

type Kind = 'mesh' | 'nats';

/** Deadlines of the phases of one run. */
const START_TIMEOUT_MS = 60_000;
const KILL_TIMEOUT_MS = 20_000;
/** Convergence is checked this often. */
const POLL_MS = 5;

/** One lightweight node: membership and heartbeats on a transport. */
class ScaleNode {
  readonly membership: Membership;
  private timer: NodeJS.Timeout | null = null;
  /** Framed bytes this node's heartbeats would put on mesh links (mesh only). */
  meshBytesOut = 0;

  constructor(
    readonly id: NodeId,
    readonly address: NodeAddress,
    readonly transport: RegionTransport,
    peers: { id: NodeId; address: NodeAddress }[],
    private readonly intervalMs: number,
    /** On the mesh, how many of this node's links are up (a broadcast is a frame on each); null on NATS. */
    private readonly meshLinksUp: () => number | null,
    /** The "client port" a NATS peer probes; closed when the node is killed. */
    private probeServer: net.Server | null,
  ) {
    this.membership = new Membership(id, address, deriveTimeouts(intervalMs), Date.now());
    for (const p of peers) this.membership.addStatic(p.id, p.address, Date.now());
    transport.onMessage((_from, msg) => {
      if (msg.type === 'heartbeat') this.apply(this.membership.onHeartbeat(msg, Date.now()));
    });
    transport.onEvent((e) => {
      if (e.type === 'linkDown') this.apply(this.membership.onLinkDown(e.peer, e.reason));
      else if (e.type === 'peerGone') this.apply(this.membership.onPeerGone(e.peer));
      else if (e.type === 'linkUp') this.send(e.peer);
    });
  }

  private apply(events: MembershipEvent[]): void {
    for (const e of events) if (e.type === 'peerUp' || e.type === 'peerDiscovered') this.transport.addPeer(e.node, e.address);
  }

  private send(peer: NodeId): void {
    const hb = this.membership.heartbeat();
    if (this.meshLinksUp() !== null) this.meshBytesOut += encodeNodeMessage(hb).length + 4;
    this.transport.send(peer, hb);
  }

  private beat(): void {
    const hb = this.membership.heartbeat();
    const links = this.meshLinksUp();
    // 4 bytes of length prefix per frame, as the mesh frames it.
    if (links !== null) this.meshBytesOut += (encodeNodeMessage(hb).length + 4) * links;
    this.transport.broadcast(hb);
    this.apply(this.membership.tick(Date.now()));
  }

  async start(): Promise<void> {
    await this.transport.start();
    // Start the heartbeats at a random phase, as independent processes would.
    this.timer = setTimeout(() => {
      this.beat();
      this.timer = setInterval(() => this.beat(), this.intervalMs);
    }, Math.random() * this.intervalMs);
  }

  /** As kill -9: heartbeats stop, the client port and the transport's connections go. */
  async kill(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await new Promise<void>((r) => (this.probeServer ? this.probeServer.close(() => r()) : r()));
    this.probeServer = null;
    await this.transport.stop();
  }

  sees(other: NodeId, state: 'up' | 'down'): boolean {
    return this.membership.state(other) === state;
  }
}

interface Traffic {
  /** Membership messages per second: sent by nodes (a NATS publish, a mesh frame) and delivered to nodes. */
  sentPerS: number;
  deliveredPerS: number;
  /** Bytes per second, the same way (protobuf payload; mesh frames include their 4-byte prefix). */
  sentBytesPerS: number;
  deliveredBytesPerS: number;
  /** NATS only: what the server counted (`/varz` in/out), payload and headers. */
  server?: { inMsgsPerS: number; outMsgsPerS: number; inBytesPerS: number; outBytesPerS: number };
}

export interface ScaleResult {
  transport: Kind;
  nodes: number;
  /** The interval this run used (longer for large N, see `intervalFor`). */
  heartbeatIntervalMs: number;
  /** Connections in the region: TCP links for the mesh (one per direction and pair), client connections for NATS. */
  connections: number;
  /** Size of one heartbeat (protobuf) once every member is known. */
  heartbeatBytes: number;
  /** As measured, at this run's interval. */
  traffic: Traffic;
  /** The same at the default interval (HEARTBEAT_INTERVAL_MS): traffic is proportional to the heartbeat rate. */
  trafficAtDefaultInterval: Traffic;
  /** From starting every node until every node sees every other up (ms, and in heartbeat intervals). */
  joinConvergenceMs: number;
  joinConvergenceIntervals: number;
  /** From killing one node until every other node sees it down. */
  deathConvergenceMs: number;
  deathConvergenceIntervals: number;
  /** This process while measuring traffic: event-loop utilization (1 = saturated) and CPU per second. */
  eventLoopUtilization: number;
  cpuPerS: number;
}

/** A listener on a port the OS picks (taking "free" ports first races with NATS clients' own ports). */
function listenAnywhere(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`membership-scale: ${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return performance.now() - t0;
}

async function runOnce(kind: Kind, n: number, intervalMs: number, windowMs: number, nats: NatsServers | null): Promise<ScaleResult> {
  const network = new MemoryNetwork();
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const addresses = new Map<NodeId, NodeAddress>();
  // NATS nodes listen on their client port (the transport probes it); mesh nodes get port
  // numbers of the same size, so that heartbeats have the same size.
  const listeners = new Map<NodeId, net.Server>();
  if (kind === 'nats') for (const id of ids) listeners.set(id, await listenAnywhere());
  ids.forEach((id, i) => {
    const port = kind === 'nats' ? (listeners.get(id)!.address() as net.AddressInfo).port : 40_000 + i;
    addresses.set(id, { host: '127.0.0.1', port, meshPort: 0 });
  });
  const nodes = ids.map((id) => {
    const transport: RegionTransport =
      kind === 'nats'
        ? new NatsTransport({ self: id, deployment: 'scale', region: `n${n}`, servers: [nats!.url(0)], log: silentLogger(), heartbeatIntervalMs: intervalMs })
        : new MemoryTransport(id, network);
    const peers = ids.filter((x) => x !== id).map((x) => ({ id: x, address: addresses.get(x)! }));
    // On the mesh a broadcast is a frame on every link that is up.
    const reach = kind === 'mesh' ? () => ids.filter((x) => x !== id && network.connected(id, x)).length : () => null;
    return new ScaleNode(id, addresses.get(id)!, transport, peers, intervalMs, reach, listeners.get(id) ?? null);
  });
  const alive = new Set(nodes);
  try {
    // ---- join ----
    const t0 = performance.now();
    await Promise.all(nodes.map((x) => x.start()));
    const allUp = () => nodes.every((a) => nodes.every((b) => a === b || a.sees(b.id, 'up')));
    await waitUntil(allUp, START_TIMEOUT_MS, `${kind} N=${n}: every node seeing every other up`);
    const joinConvergenceMs = performance.now() - t0;

    // ---- steady traffic ----
    await new Promise((r) => setTimeout(r, intervalMs));
    const snap = async () => {
      let sent = 0;
      let sentBytes = 0;
      let delivered = 0;
      let deliveredBytes = 0;
      if (kind === 'nats') {
        for (const x of nodes) {
          const s = (x.transport as NatsTransport).natsStats();
          sent += s.published;
          sentBytes += s.publishedBytes;
          delivered += s.received;
          deliveredBytes += s.receivedBytes;
        }
      } else {
        delivered = network.delivered;
        for (const x of nodes) sentBytes += x.meshBytesOut;
        sent = delivered;
        deliveredBytes = sentBytes;
      }
      const varz = nats ? await nats.monitor<{ in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }>(0, 'varz') : null;
      return { t: performance.now(), sent, sentBytes, delivered, deliveredBytes, varz, cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() };
    };
    const a = await snap();
    await new Promise((r) => setTimeout(r, Math.max(windowMs, 2 * intervalMs)));
    const b = await snap();
    const s = (b.t - a.t) / 1000;
    const per = (x: number) => Math.round(x / s);
    const traffic: Traffic = {
      sentPerS: per(b.sent - a.sent),
      deliveredPerS: per(b.delivered - a.delivered),
      sentBytesPerS: per(b.sentBytes - a.sentBytes),
      deliveredBytesPerS: per(b.deliveredBytes - a.deliveredBytes),
      ...(a.varz && b.varz
        ? {
            server: {
              inMsgsPerS: per(b.varz.in_msgs - a.varz.in_msgs),
              outMsgsPerS: per(b.varz.out_msgs - a.varz.out_msgs),
              inBytesPerS: per(b.varz.in_bytes - a.varz.in_bytes),
              outBytesPerS: per(b.varz.out_bytes - a.varz.out_bytes),
            },
          }
        : {}),
    };
    const cpu = process.cpuUsage(a.cpu);
    const elu = performance.eventLoopUtilization(b.elu, a.elu).utilization;
    const heartbeatBytes = encodeNodeMessage(nodes[0]!.membership.heartbeat()).length;
    const k = intervalMs / HEARTBEAT_INTERVAL_MS;
    const scale = (t: Traffic): Traffic => ({
      sentPerS: Math.round(t.sentPerS * k),
      deliveredPerS: Math.round(t.deliveredPerS * k),
      sentBytesPerS: Math.round(t.sentBytesPerS * k),
      deliveredBytesPerS: Math.round(t.deliveredBytesPerS * k),
      ...(t.server
        ? {
            server: {
              inMsgsPerS: Math.round(t.server.inMsgsPerS * k),
              outMsgsPerS: Math.round(t.server.outMsgsPerS * k),
              inBytesPerS: Math.round(t.server.inBytesPerS * k),
              outBytesPerS: Math.round(t.server.outBytesPerS * k),
            },
          }
        : {}),
    });

    // ---- death ----
    const victim = nodes[n - 1]!;
    const t1 = performance.now();
    const killed = victim.kill();
    alive.delete(victim);
    const others = nodes.filter((x) => x !== victim);
    await waitUntil(() => others.every((x) => x.sees(victim.id, 'down')), KILL_TIMEOUT_MS, `${kind} N=${n}: every node seeing the dead one down`);
    const deathConvergenceMs = performance.now() - t1;
    await killed;

    return {
      transport: kind,
      nodes: n,
      heartbeatIntervalMs: intervalMs,
      connections: kind === 'mesh' ? n * (n - 1) : n,
      heartbeatBytes,
      traffic,
      trafficAtDefaultInterval: scale(traffic),
      joinConvergenceMs: Math.round(joinConvergenceMs),
      joinConvergenceIntervals: +(joinConvergenceMs / intervalMs).toFixed(2),
      deathConvergenceMs: Math.round(deathConvergenceMs),
      deathConvergenceIntervals: +(deathConvergenceMs / intervalMs).toFixed(2),
      eventLoopUtilization: +elu.toFixed(2),
      cpuPerS: +((cpu.user + cpu.system) / 1e6 / s).toFixed(2),
    };
  } finally {
    await Promise.all([...alive].map((x) => x.kill().catch(() => undefined)));
    for (const l of listeners.values()) if (l.listening) l.close();
  }
}

function machine(): Record<string, unknown> {
  let natsVersion = 'unknown';
  const bin = findNatsServer();
  if (bin) {
    try {
      natsVersion = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      /* leave unknown */
    }
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    natsServer: natsVersion,
  };
}

const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : String(x));

/**
 * The heartbeat interval of a run of N nodes. Every node decodes every heartbeat, each
 * naming all N members, so this one process does O(N³) work per interval; beyond 50 nodes
 * the interval grows with N² to keep it unsaturated (2 s at 100 nodes, 4.5 s at 150), and
 * traffic is reported at the default interval as well (it is proportional to the rate).
 */
export function intervalFor(n: number): number {
  return Math.max(HEARTBEAT_INTERVAL_MS, Math.round((HEARTBEAT_INTERVAL_MS * (n / 50) ** 2) / 100) * 100);
}

export function markdownTable(results: ScaleResult[]): string {
  const rows = [
    `| N | transport | connections | heartbeat (bytes) | msgs/s sent | msgs/s delivered | bytes/s sent | bytes/s delivered | run interval (ms) | all up after | a death seen by all after | bench CPU (s/s) |`,
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const t = r.trafficAtDefaultInterval;
    rows.push(
      `| ${r.nodes} | ${r.transport} | ${r.connections} | ${r.heartbeatBytes} | ${fmt(t.sentPerS)} | ${fmt(t.deliveredPerS)} | ${fmt(t.sentBytesPerS)} | ${fmt(t.deliveredBytesPerS)} | ${r.heartbeatIntervalMs} | ${r.joinConvergenceMs} ms (${r.joinConvergenceIntervals} hb) | ${r.deathConvergenceMs} ms (${r.deathConvergenceIntervals} hb) | ${r.cpuPerS} |`,
    );
  }
  return rows.join('\n');
}

export async function membershipScale(o: { sizes: number[]; intervalMs: number | null; windowMs: number }) {
  const results: ScaleResult[] = [];
  const nats = await NatsServers.start({ count: 1 });
  try {
    for (const n of o.sizes) {
      const interval = o.intervalMs ?? intervalFor(n);
      for (const kind of ['mesh', 'nats'] as const) {
        const r = await runOnce(kind, n, interval, o.windowMs, kind === 'nats' ? nats : null);
        console.error(`[membership-scale] ${kind} N=${n}: ${JSON.stringify(r)}`);
        results.push(r);
      }
    }
  } finally {
    await nats.stop();
  }
  return {
    scenario: 'membership-scale',
    date: new Date().toISOString(),
    machine: machine(),
    defaultHeartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    windowMs: o.windowMs,
    results,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, d: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1]! : d;
  };
  const sizes = arg('sizes', '10,25,50,100,150').split(',').map(Number);
  const fixed = arg('interval-ms', 'auto');
  const intervalMs = fixed === 'auto' ? null : Number(fixed);
  const windowMs = Number(arg('window-ms', '3000'));
  const out = resolve(arg('out', 'bench/results'));
  membershipScale({ sizes, intervalMs, windowMs }).then(
    (report) => {
      mkdirSync(out, { recursive: true });
      const day = report.date.slice(0, 10);
      const table = markdownTable(report.results);
      writeFileSync(join(out, `membership-scale-${day}.json`), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(out, `membership-scale-${day}.md`), `${table}\n`);
      writeFileSync(join(out, 'membership-scale.svg'), membershipSvg(report.results));
      console.log(table);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
