/**
 * Runs one chaos scenario end to end: a deployment of real node processes (every link
 * through a fault proxy), the recorded workload, the fault timeline through the control
 * endpoint, a drain, and then the checker's verdict and the report.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { control, type RunningDeployment } from '../cli/chaos.js';
import { Supervisor } from '../cli/supervisor.js';
import { Ring } from '../cluster/ring.js';
import { NAME, resolveSecret, validateTopology, type Topology } from '../config/topology.js';
import type { Logger } from '../log.js';
import { NatsServers } from '../nats-server.js';
import { reservePorts } from '../ports.js';
import { check, type Report } from './checker.js';
import { clockFileEnv, nodeOffsets, setClockFile } from './clocks.js';
import { RecordWriter, readRecordEvents, type RecordEvent } from './record.js';
import { writeScenarioReport } from './report.js';
import { checkScenarioRegions, expandTimeline, type Scenario, type TimelineAction } from './scenario.js';
import { Workload } from './workload.js';

/** How often the drain looks whether deliveries have stopped (ms), and for how long they must have. */
const DRAIN_POLL_MS = 250;
const DRAIN_QUIET_MS = 3000;
/**
 * The presence check waits this much longer than the topology's presence leave delay
 * for every region's sets to show exactly the member clients: a member whose connection
 * died unresumed leaves that long after its node or the master noticed (a node is
 * declared down in about 4 s), and its leave then crosses to the other regions.
 */
const PRESENCE_SETTLE_MS = 20_000;
/**
 * The occupancy check (after the presence check) waits this long for every view to show
 * the clients attached: a count goes within an interval (1 s), and another region's comes
 * back at the latest with its next refresh (10 s).
 */
const OCCUPANCY_SETTLE_MS = 20_000;
/** How often a version probe appends to its message (ms; workload-versions.ts), by turns from each region. */
const VERSIONS_EVERY_MS = 400;
/** At the end, how long the revocation probes may still wait for a region to refuse a revoked token (ms). */
const REVOCATIONS_SETTLE_MS = 10_000;

/** The topology's first key with revocable tokens, for the revocation probes (`appId.keyId:secret`). */
function revocableKey(topology: Topology): string {
  for (const app of topology.apps) for (const k of app.keys) if (k.revocableTokens) return `${app.id}.${k.id}:${k.secret}`;
  throw new Error('workload.revokeEveryS needs a key with revocableTokens: true in the topology');
}

async function freePort(): Promise<number> {
  return (await reservePorts(1))[0]!;
}

/**
 * The scenario's topology with every port replaced by a free one (runs never collide),
 * and a NATS region's servers by a cluster of as many started here (put in `nats`).
 */
async function topologyOnFreePorts(file: string, outDir: string, nats: Map<string, NatsServers>): Promise<{ topology: Topology; file: string }> {
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    regions: {
      name: string;
      transport?: string;
      nats?: { servers: string[]; token?: string; user?: string; pass?: string };
      balancer?: { port: number };
      link?: { port: number };
      nodes: { port: number; meshPort: number; grpcPort?: number }[];
    }[];
    control?: { port?: number };
  };
  for (const r of doc.regions) {
    if (r.transport === 'nats' && r.nats) {
      const where = `regions.${r.name}.nats`;
      const token = resolveSecret(r.nats.token, `${where}.token`);
      const user = r.nats.user;
      const pass = resolveSecret(r.nats.pass, `${where}.pass`);
      const servers = await NatsServers.start({ count: r.nats.servers.length, ...(token ? { token } : {}), ...(user ? { user, pass: pass ?? '' } : {}) });
      nats.set(r.name, servers);
      active.add(servers);
      r.nats.servers = servers.urls;
    }
    if (r.balancer) r.balancer.port = await freePort();
    if (r.link) r.link.port = await freePort();
    for (const n of r.nodes) {
      n.port = await freePort();
      n.meshPort = await freePort();
      if (n.grpcPort !== undefined) n.grpcPort = await freePort();
    }
  }
  if (doc.control) delete doc.control.port;
  const out = join(outDir, 'topology.yaml');
  writeFileSync(out, stringify(doc));
  return { topology: validateTopology(doc, out), file: out };
}

export interface RunResult {
  scenario: Scenario;
  report: Report;
  /** The report's files (summary, JSON, timeline). */
  files: Awaited<ReturnType<typeof writeScenarioReport>>;
  /** Whether the checker's verdict is what the scenario expects. */
  asExpected: boolean;
  dir: string;
  /** Timeline actions the control endpoint refused or that threw (the run went on without them). */
  failedActions: { at: number; action: string; error: string }[];
}

/** The deployments and NATS servers of runs under way, for stopActiveRuns. */
const active = new Set<{ stop(): Promise<void> }>();

/**
 * Stops the deployment of every run under way (its nodes by PID, a paused one continued
 * first so that it can take the SIGTERM) and its NATS servers, for `ably-ng chaos
 * run|random` interrupted.
 */
export async function stopActiveRuns(): Promise<void> {
  await Promise.all([...active].map((s) => s.stop().catch(() => undefined)));
}

export class ScenarioRun {
  private sup!: Supervisor;
  private writer!: RecordWriter;
  private lastNode: string | null = null;
  /** Per region, the node the last node action there acted on (`@last:REGION`). */
  private readonly lastIn = new Map<string, string>();
  /** The nodes named by an action's `as` (`@NAME`). */
  private readonly named = new Map<string, string>();
  private workload: Workload | null = null;
  private readonly open = new Map<string, string>();
  private topology!: Topology;
  /** Per NATS region, the servers this run started for it. */
  private readonly nats = new Map<string, NatsServers>();
  private readonly failedActions: RunResult['failedActions'] = [];

  constructor(
    private readonly s: Scenario,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly o: RunOptions = {},
  ) {}

  private record(e: RecordEvent): void {
    this.writer.write(e);
  }

  private get control(): RunningDeployment {
    return { deployment: this.topology.deployment, control: { url: this.sup.control!.url, token: this.sup.control!.token }, file: '' };
  }

  private nodesOf(region: string): { name: string; port: number }[] {
    return this.topology.regions.find((r) => r.name === region)?.nodes.map((n) => ({ name: n.name, port: n.port })) ?? [];
  }

  private async health(port: number): Promise<Record<string, any> | null> {
    try {
      return (await (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })).json()) as Record<string, any>;
    } catch {
      return null;
    }
  }

  /** Resolves `globalmaster:R`, `master:CHANNEL@R`, `replica:CHANNEL@R`, `@last`, `@last:R` and `@NAME` to a node name. */
  private async resolveNode(spec: string): Promise<string> {
    if (spec === '@last') {
      if (!this.lastNode) throw new Error('"@last" before any node action');
      return this.lastNode;
    }
    const last = /^@last:(.+)$/.exec(spec);
    if (last) {
      const node = this.lastIn.get(last[1]!);
      if (!node) throw new Error(`"${spec}" before any node action in region ${last[1]}`);
      return node;
    }
    const label = /^@([^:]+)$/.exec(spec);
    if (label) {
      const node = this.named.get(label[1]!);
      // (loadScenario refuses a name no earlier action gives; this is one whose action failed)
      if (!node) throw new Error(`"${spec}": the action named "${label[1]}" did not run`);
      return node;
    }
    const gm = /^globalmaster:(.+)$/.exec(spec);
    if (gm) {
      for (const n of this.nodesOf(gm[1]!)) if ((await this.health(n.port))?.globalmaster) return n.name;
      throw new Error(`no globalmaster found in region ${gm[1]}`);
    }
    const m = /^(master|replica):(.+)@(.+)$/.exec(spec);
    if (m) {
      const [, role, channel, region] = m as unknown as [string, 'master' | 'replica', string, string];
      return this.placement(role, channel, region);
    }
    return spec;
  }

  /**
   * A channel's master or replica in a region: what its master says (every node is asked
   * at once, for at most 1 s: a paused node, or a status read waiting on one, must not
   * hold the timeline back; fetch's own limit is 300 s), else where the ring of a node
   * with quorum places it.
   */
  private async placement(role: 'master' | 'replica', channel: string, region: string): Promise<string> {
    const app = this.topology.apps[0]!;
    const key = app.keys[0]!;
    const auth = `Basic ${Buffer.from(`${app.id}.${key.id}:${key.secret}`).toString('base64')}`;
    const nodes = this.nodesOf(region);
    const ask = async (port: number): Promise<string> => {
      const res = await fetch(`http://127.0.0.1:${port}/channels/${encodeURIComponent(channel)}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { master?: string; replica?: string };
      if (!body[role]) throw new Error(`no ${role}`);
      return body[role];
    };
    try {
      return await Promise.any(nodes.map((n) => ask(n.port)));
    } catch {
      const views = await Promise.all(nodes.map((n) => this.health(n.port)));
      const ring = views.find((h) => h?.quorum)?.ring as string[] | undefined;
      const placed = ring ? new Ring(ring)[role === 'master' ? 'owner' : 'replica'](`${app.id}:${channel}`) : null;
      if (placed) return placed;
      throw new Error(`no ${role} found for ${channel} in ${region}`);
    }
  }

  private fault(action: string, target: string, phase: 'start' | 'end'): void {
    const key = `${action}\u0000${target}`;
    if (phase === 'start') {
      if (this.open.has(key)) return;
      this.open.set(key, action);
    } else if (!this.open.delete(key)) return;
    this.record({ type: 'fault', t: Date.now(), action, target, phase });
  }

  private linkName(a: string, b: string): string {
    return [a, b].sort().join('-');
  }

  private async act(a: TimelineAction): Promise<void> {
    const d = this.control;
    switch (a.action) {
      case 'partition':
        await control(d, 'POST', '/regions/partition', { a: a.a, b: a.b, oneWay: a.oneWay });
        this.fault('partition', this.linkName(a.a, a.b), 'start');
        return;
      case 'heal':
        if (a.a && a.b) {
          await control(d, 'POST', '/regions/heal', { a: a.a, b: a.b });
          for (const kind of ['partition', 'latency', 'loss', 'bandwidth']) this.fault(kind, this.linkName(a.a, a.b), 'end');
        } else {
          await control(d, 'POST', '/heal');
          for (const k of [...this.open.keys()]) {
            const [action, target] = k.split('\u0000') as [string, string];
            if (action !== 'kill' && action !== 'stop' && action !== 'nats-kill') this.fault(action, target, 'end');
          }
        }
        return;
      case 'latency':
        await control(d, 'POST', '/regions/faults', { a: a.a, b: a.b, latencyMs: a.ms, jitterMs: a.jitterMs });
        this.fault('latency', this.linkName(a.a, a.b), 'start');
        return;
      case 'loss':
        await control(d, 'POST', '/regions/faults', { a: a.a, b: a.b, lossRate: a.rate });
        this.fault('loss', this.linkName(a.a, a.b), 'start');
        return;
      case 'bandwidth':
        await control(d, 'POST', '/regions/faults', { a: a.a, b: a.b, bandwidthBytesPerS: a.bytesPerS });
        this.fault('bandwidth', this.linkName(a.a, a.b), 'start');
        return;
      case 'rolling-restart':
        for (const n of this.nodesOf(a.region)) {
          this.fault('stop', n.name, 'start');
          await control(d, 'POST', `/nodes/${n.name}/stop`);
          await control(d, 'POST', `/nodes/${n.name}/restart`);
          this.fault('stop', n.name, 'end');
          await this.waitRegionHealthy(a.region);
          await new Promise((r) => setTimeout(r, a.gapS * 1000));
        }
        return;
      case 'nats-kill': {
        const servers = this.nats.get(a.region)!;
        const i = a.server === 'busiest' ? (await servers.busiest()).server : a.server - 1;
        if (i < 0 || i >= servers.count) throw new Error(`region ${a.region} has ${servers.count} NATS servers, none numbered ${i + 1}`);
        if (!servers.isRunning(i)) throw new Error(`NATS server ${i + 1} of region ${a.region} is not running`);
        await servers.kill(i);
        this.fault('nats-kill', `${a.region} nats-${i + 1}`, 'start');
        return;
      }
      case 'nats-restart': {
        const servers = this.nats.get(a.region)!;
        for (let i = 0; i < servers.count; i++) {
          if (servers.isRunning(i)) continue;
          await servers.startOne(i);
          this.fault('nats-kill', `${a.region} nats-${i + 1}`, 'end');
        }
        await servers.routed();
        return;
      }
      case 'flap':
        return; // expanded beforehand
      case 'clock': {
        const node = await this.resolveNode(a.node);
        this.lastNode = node;
        setClockFile(this.clockFile(node), a.offset);
        // A step, not a window: it shows in the timeline as an instant.
        this.fault('clock', `${node} ${a.offset}`, 'start');
        this.fault('clock', `${node} ${a.offset}`, 'end');
        return;
      }
      case 'subscribe':
        await this.workload!.addSubscribers(a.region, a.subscribers);
        return;
      case 'move': {
        // A window from leaving `from` until attached in `to`, so that its convergence
        // says when the moved clients had caught up with everything before it.
        const target = `${a.from}>${a.to}`;
        this.fault('move', target, 'start');
        try {
          await this.workload!.move(a.from, a.to, a.subscribers, a.afterS * 1000);
        } finally {
          this.fault('move', target, 'end');
        }
        return;
      }
      default: {
        const node = await this.resolveNode(a.node);
        // Resolved before this action counts as the last one, so `@last` there is the one before.
        const from = 'from' in a && a.from !== undefined ? await this.resolveNode(a.from) : undefined;
        this.lastNode = node;
        if ('as' in a && a.as !== undefined) this.named.set(a.as, node);
        const region = this.topology.regions.find((r) => r.nodes.some((n) => n.name === node));
        if (region) this.lastIn.set(region.name, node);
        await control(d, 'POST', `/nodes/${node}/${a.action}`, from === undefined ? undefined : { from });
        const target = from === undefined ? node : `${node} from ${from}`;
        const window = { kill: 'kill', stop: 'stop', pause: 'pause', isolate: 'isolate' } as Record<string, string>;
        const ends = { restart: ['kill', 'stop'], resume: ['pause'], rejoin: ['isolate'] } as Record<string, string[]>;
        if (window[a.action]) this.fault(window[a.action]!, target, 'start');
        for (const w of ends[a.action] ?? []) this.fault(w, target, 'end');
        // A whole rejoin heals the node's cuts from single nodes too, either way round.
        if (a.action === 'rejoin' && from === undefined) {
          for (const key of [...this.open.keys()]) {
            const [action, t] = key.split('\u0000') as [string, string];
            if (action === 'isolate' && (t.startsWith(`${node} from `) || t.endsWith(` from ${node}`))) this.fault('isolate', t, 'end');
          }
        }
      }
    }
  }

  /**
   * Where a scenario moves clocks (`clocks`, or a `clock` action), every node runs under
   * libfaketime with a file of its own that says its offset (clocks.ts): null otherwise.
   */
  private clockFiles(topology: Topology): Record<string, Record<string, string>> | undefined {
    if (!Object.keys(this.s.clocks).length && !this.s.timeline.some((a) => a.action === 'clock')) return undefined;
    const dir = join(this.dir, 'clocks');
    mkdirSync(dir, { recursive: true });
    const env: Record<string, Record<string, string>> = {};
    for (const [node, offset] of nodeOffsets(this.s.clocks, topology.regions)) {
      setClockFile(this.clockFile(node), offset);
      env[node] = clockFileEnv(this.clockFile(node));
    }
    return env;
  }

  private clockFile(node: string): string {
    return join(this.dir, 'clocks', node);
  }

  private async waitRegionHealthy(region: string): Promise<void> {
    const nodes = this.nodesOf(region);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const hs = await Promise.all(nodes.map((n) => this.health(n.port)));
      if (hs.every((h) => h?.quorum && (h.ring as string[]).length === nodes.length)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`region ${region} did not recover within 30 s`);
  }

  private async waitLinks(): Promise<void> {
    if (this.topology.regions.length < 2) return;
    const deadline = Date.now() + 30_000;
    for (const r of this.topology.regions) {
      for (;;) {
        const hs = await Promise.all(this.nodesOf(r.name).map((n) => this.health(n.port)));
        const gm = hs.find((h) => h?.globalmaster);
        if (gm && (gm.regionLinks.links as { up: boolean }[]).every((l) => l.up)) break;
        if (Date.now() > deadline) throw new Error(`region ${r.name}'s links did not come up`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
  }

  async run(): Promise<RunResult> {
    mkdirSync(this.dir, { recursive: true });
    try {
      return await this.runOnNats();
    } finally {
      for (const n of this.nats.values()) {
        await n.stop().catch(() => undefined);
        active.delete(n);
      }
    }
  }

  /** The run, once its NATS regions' servers are started (or while they are: run() stops them). */
  private async runOnNats(): Promise<RunResult> {
    const { topology, file } = await topologyOnFreePorts(this.s.topologyFile, this.dir, this.nats);
    this.topology = topology;
    checkScenarioRegions(
      this.s,
      topology.regions.map((r) => r.name),
      topology.regions.flatMap((r) => r.nodes.map((n) => n.name)),
      [...this.nats.keys()],
    );
    this.sup = new Supervisor({
      topology,
      topologyFile: file,
      stateDir: join(this.dir, 'state'),
      nodeLogLevel: process.env.ABLY_NG_LOG_LEVEL ?? 'info',
      log: this.log,
      meshProxies: true,
      env: this.s.env,
      nodeEnv: this.clockFiles(topology),
    });
    active.add(this.sup);
    const recordFile = join(this.dir, 'record.jsonl');
    this.writer = new RecordWriter(recordFile);
    let workload: Workload | null = null;
    const timers: NodeJS.Timeout[] = [];
    try {
      await this.sup.start();
      await this.waitLinks();
      const app = topology.apps[0]!;
      const key = app.keys[0]!;
      workload = new Workload({
        regions: new Map(
          [...this.sup.balancers].map(([region, b]) => {
            const u = new URL(b.url);
            return [region, { host: u.hostname, port: Number(u.port) }];
          }),
        ),
        key: `${app.id}.${key.id}:${key.secret}`,
        ...(this.s.workload.tokenTtlS ? { tokenTtlMs: this.s.workload.tokenTtlS * 1000 } : {}),
        ...(this.s.workload.revokeEveryS
          ? {
              revocations: {
                key: revocableKey(topology),
                everyMs: this.s.workload.revokeEveryS * 1000,
                ...(this.s.workload.revokeGapS !== undefined ? { gapMs: this.s.workload.revokeGapS * 1000 } : {}),
                nodes: topology.regions.flatMap((r) => r.nodes.map((n) => ({ name: n.name, region: r.name, host: n.host, port: n.port }))),
              },
            }
          : {}),
        // Version probes where the app has the `mutable` namespace with its rule (every deployment here has).
        ...(app.namespaces.some((n) => n.id === 'mutable' && n.mutableMessages) ? { versions: { everyMs: VERSIONS_EVERY_MS, historyMs: topology.retention.historyMs } } : {}),
        channels: Array.from({ length: this.s.workload.channels }, (_, i) => `chaos-${i}`),
        publishersPerRegion: this.s.workload.publishersPerRegion,
        subscribersPerRegion: this.s.workload.subscribersPerRegion,
        subscribersByRegion: this.s.workload.subscribersByRegion,
        intervalMs: this.s.workload.intervalMs,
        presenceMembersPerRegion: this.s.workload.presenceMembersPerRegion,
        ...(this.o.trace?.length ? { trace: { clients: new Set(this.o.trace), dir: this.dir } } : {}),
        record: (e) => this.record(e),
      });
      this.workload = workload;
      await workload.start();
      // Interest crosses regions within a second: let it, so the first messages are expected everywhere.
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      const done: Promise<void>[] = [];
      let chain = Promise.resolve();
      for (const a of expandTimeline(this.s.timeline)) {
        done.push(
          new Promise<void>((resolve) => {
            timers.push(
              setTimeout(
                () => {
                  // Actions run one after another, in timeline order.
                  chain = chain.then(() =>
                    this.act(a).catch((err: Error) => {
                      this.failedActions.push({ at: a.at, action: a.action, error: err.message });
                      this.log.warn({ action: a.action, err: err.message }, 'chaos action failed');
                    }),
                  );
                  void chain.then(resolve);
                },
                Math.max(0, t0 + a.at * 1000 - Date.now()),
              ),
            );
          }),
        );
      }
      await new Promise((r) => setTimeout(r, this.s.durationS * 1000));
      await Promise.all(done);
      await workload.stopPublishing(this.s.drainS * 1000);
      // Whatever is still broken is healed, so the checker can expect convergence.
      await this.act({ at: 0, action: 'heal' });
      for (const region of this.nats.keys()) await this.act({ at: 0, action: 'nats-restart', region });
      for (const n of topology.regions.flatMap((r) => r.nodes)) {
        if (!this.sup.nodes.has(n.name)) {
          await control(this.control, 'POST', `/nodes/${n.name}/restart`);
          for (const w of ['kill', 'stop']) this.fault(w, n.name, 'end');
        }
      }
      await this.drain(workload);
      for (const e of await workload.readVersions()) this.record(e);
      for (const e of await workload.readHistory({ historyMs: topology.retention.historyMs, maxMessages: topology.retention.maxMessagesPerChannel })) this.record(e);
      for (const e of await workload.checkPresence(topology.limits.presenceLeaveDelayMs + PRESENCE_SETTLE_MS)) this.record(e);
      for (const e of await workload.checkOccupancy(OCCUPANCY_SETTLE_MS)) this.record(e);
      for (const e of await workload.readLifecycle(Object.fromEntries(topology.regions.map((r) => [r.name, r.nodes.map((n) => n.name)])))) this.record(e);
      await workload.settleRevocations(REVOCATIONS_SETTLE_MS);
      this.record({ type: 'end', t: Date.now() });
    } finally {
      for (const t of timers) clearTimeout(t);
      workload?.close();
      await this.sup.stop().catch(() => undefined);
      await workload?.closeTraces();
      for (const id of workload?.untraced() ?? []) this.log.warn({ client: id }, 'no trace: the workload has no client of that name');
      active.delete(this.sup);
      await this.writer.close();
    }
    const events = await readRecordEvents(recordFile);
    const report = check(events);
    const files = await writeScenarioReport(dirname(this.dir), this.s.name, report, { description: this.s.description });
    const passed = report.verdict === 'PASS';
    return { scenario: this.s, report, files, asExpected: passed === (this.s.expect === 'pass'), dir: this.dir, failedActions: this.failedActions };
  }

  /** Waits until deliveries have stopped for a while (or the drain time is up). */
  private async drain(w: Workload): Promise<void> {
    const deadline = Date.now() + this.s.drainS * 1000;
    let last = w.delivered;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      if (w.delivered !== last) {
        last = w.delivered;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= DRAIN_QUIET_MS) {
        return;
      }
    }
  }
}

/** How a scenario runs, beyond what its file says. */
export interface RunOptions {
  /** Workload clients whose SDK logs every protocol message to `trace-ID.log` in the run's directory. */
  trace?: readonly string[];
}

/** The workload's client ids (`eu-sub1`, `us-pub0`, `eu-mem0`; a region's name as the topology allows): what `RunOptions.trace` may name. */
export const CLIENT_ID = new RegExp(`^${NAME.source}-(sub|pub|mem)\\d+$`);

export function runScenario(s: Scenario, dir: string, log: Logger, o: RunOptions = {}): Promise<RunResult> {
  return new ScenarioRun(s, dir, log, o).run();
}
