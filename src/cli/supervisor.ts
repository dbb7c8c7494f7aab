/**
 * Runs a deployment's node processes: spawn, wait for ready lines, kill, pause, resume,
 * restart, stop, always by PID. Used by `ably-ng up` and by the integration tests, so
 * tests run nodes exactly as operators do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Topology } from '../config/topology.js';
import type { Logger } from '../log.js';
import { Balancer } from '../proxy/balancer.js';
import { FaultProxy } from '../proxy/fault-proxy.js';
import { ControlServer } from '../chaos/control.js';
import { resolveSecret } from '../config/topology.js';
import { hostPort } from '../ports.js';

/** A node that has not printed its ready line in this long failed to start. */
const READY_TIMEOUT_MS = 30_000;
/** After SIGTERM, a node gets this long to hand off and exit before SIGKILL. */
const STOP_GRACE_MS = 10_000;
/**
 * V8 flags every node starts with (before ABLY_NG_NODE_FLAGS, which can override them).
 *
 * `--no-allocation-site-pretenuring`: V8 watches how many objects from each allocation
 * site survive a scavenge, and once most do, it allocates that site's objects straight
 * in the old generation. A node's hot path allocates short-lived objects: a publish's
 * parsed frame, messages and queue item live a few milliseconds. But during a stall (a
 * first burst before the code is optimised, a long GC) they briefly outlive a scavenge.
 * V8 then tenured those sites for good. In the region benchmark, the publisher's node
 * promoted 1.7 MB per scavenge and its scavenges took 5.8 ms (median). Without
 * pretenuring: 0.17 MB and 2.2 ms, and the A → B → C p99 went from 26, 39 and 33 ms to
 * 19, 23 and 21 ms (three runs each, alternated; BENCHMARKS.md).
 *
 * `--initial-old-space-size=128`: V8 sizes the old generation's limit from what is
 * live (about 20 MB on a benchmark node) while the young generation, under a steady
 * stream of messages, grows to two 16 MB semi-spaces; it then starts a full collection
 * whenever the room under the limit is less than a scavenge could promote. The
 * channel's master ran one every 2 s that freed almost nothing (20.4 → 19.0 MB), each
 * with a pause of a few milliseconds and 45–90 ms of marking on background threads,
 * on the same core as the other nodes. A first limit of 128 MB leaves the room: the
 * master went from 31 full collections in 65 s to 4, and the A → B → C p99 at a fixed
 * load from a median of 33.6 ms to 17.0 (12 steps each way, alternated; BENCHMARKS.md).
 * Later limits are again V8's own, from what is live, so large heaps are not made
 * larger.
 */
export const NODE_V8_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring', '--initial-old-space-size=128'];

/**
 * glibc's malloc settings every node starts with (GLIBC_TUNABLES; where the operator set
 * GLIBC_TUNABLES, theirs is used instead, and an empty value leaves glibc's defaults; a
 * deployment's own `env` (SupervisorOptions) comes last, over both).
 *
 * A node's Buffers (its channels' logs and dedup windows, frames read and written) come
 * from malloc. By default, each allocation of 128 KiB or more is a mapping of its own, and
 * freed memory past 128 KiB at the heap's top goes back to the kernel: the next use of
 * that memory is a fresh page, one minor fault per 4 KiB. Page faults are dear on a
 * virtual machine (11–15 µs each on the benchmark host, `machine-speed.ts`). In a heal
 * catch-up, the nodes took 0.3–0.4 of them per message, most of their kernel time.
 *
 * - `mmap_threshold` 32 MiB and `trim_threshold` 64 MiB: frames and log buffers come from
 *   the heap, and freed memory stays there to be used again.
 * - `hugetlb=1`: the heap is marked for transparent huge pages (where the kernel's
 *   `transparent_hugepage` is `madvise` or `always`), so growing it faults once per 2 MiB.
 *
 * Three runs of the failover-and-heal benchmark each way, alternated: 0.0 faults per
 * message instead of 0.3–0.4, the nodes' CPU per message 15–24 µs instead of 20–32, the
 * catch-up 45–70 k/s instead of 35–51 (BENCHMARKS.md, the thirty-seventh session).
 * A node may keep up to 64 MiB of freed memory at the top of each malloc arena (its
 * Buffers come from the main thread's), and its RSS grows in steps of 2 MiB.
 */
export const NODE_MALLOC_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864';

/** Node/V8 flags from an environment variable, space-separated (ABLY_NG_NODE_FLAGS and the like). */
export function flagsFromEnv(name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter(Boolean);
}

export interface NodeProcess {
  name: string;
  region: string;
  pid: number;
  url: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  paused: boolean;
  /** Signalled to end by this supervisor (kill, terminate): its exit is no news. */
  ending?: boolean;
}

export type ReadyLine =
  | { ready: true; region: string; node: string; url: string; pid: number }
  | { ready: 'region'; region: string; url: string }
  | { ready: 'all'; key: string; control: string };

export interface SupervisorOptions {
  topology: Topology;
  topologyFile: string;
  stateDir: string;
  nodeLogLevel: string;
  log: Logger;
  /** Path of the compiled CLI (dist/cli.js); found from this module by default. */
  cliPath?: string;
  /** Extra environment for node processes. */
  env?: Record<string, string>;
  /** Extra environment for the nodes of one region, over `env` (a test's clock skew). */
  regionEnv?: Record<string, Record<string, string>>;
  /** Extra environment for one node, over its region's (a chaos scenario's clock skew for that node). */
  nodeEnv?: Record<string, Record<string, string>>;
  /** Whether to start per-region balancers (default true). */
  balancers?: boolean;
  /**
   * Whether node-to-node (mesh) links go through fault proxies too (region-to-region
   * links always do): what lets `isolate` cut one node off from its region.
   */
  meshProxies?: boolean;
}

/** The key of a pair of regions, in name order: the first dials the second. */
export function regionPair(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}

/** dist/cli.js, whether this module runs from dist/ or (in tests) from src/. */
export function defaultCliPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(here, '..', '..');
  return join(root, 'dist', 'cli.js');
}

/** The url of a node's ready line (`{"ready":true,"url":…}` on stdout), or null for any other line. */
function readyUrl(line: string): string | null {
  try {
    const m = JSON.parse(line) as { ready?: unknown; url?: unknown } | null;
    return m !== null && typeof m === 'object' && m.ready === true && typeof m.url === 'string' ? m.url : null;
  } catch {
    return null;
  }
}

/** The PID of the live supervisor (not this process) a state file names, or null. */
function runningSupervisor(stateFile: string): number | null {
  let pid: unknown;
  try {
    pid = (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid?: unknown }).pid;
  } catch {
    return null; // none, or unreadable: nothing running that it could tell of
  }
  if (typeof pid !== 'number' || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

export class Supervisor {
  readonly nodes = new Map<string, NodeProcess>();
  readonly balancers = new Map<string, { balancer: Balancer; url: string }>();
  /** Per region: the balancer in front of its globalmaster (where peers' links land). */
  readonly linkBalancers = new Map<string, Balancer>();
  /** Per pair of regions ("a|b", a < b): the proxy on the link a dials to b ("up" is a → b). */
  readonly regionProxies = new Map<string, FaultProxy>();
  /** Per ordered pair of nodes ("from>to"): the proxy on the mesh link from dials to. */
  readonly meshProxies = new Map<string, FaultProxy>();
  /** Per node of a NATS region, with mesh proxies: a proxy on its connection to each of the region's NATS servers (by URL). */
  readonly natsProxies = new Map<string, Map<string, FaultProxy>>();
  control: ControlServer | null = null;
  private readonly logs = new Map<string, WriteStream>();
  private readonly cliPath: string;
  private stopped = false;

  constructor(readonly o: SupervisorOptions) {
    this.cliPath = o.cliPath ?? defaultCliPath();
  }

  get stateFile(): string {
    return join(this.o.stateDir, `${this.o.topology.deployment}.json`);
  }

  /** Starts every node and balancer; `print` gets each ready line as it happens. */
  async start(print: (line: ReadyLine) => void = () => undefined): Promise<void> {
    if (!existsSync(this.cliPath)) throw new Error(`${this.cliPath} not found: run "make build" first`);
    const running = runningSupervisor(this.stateFile);
    if (running !== null) throw new Error(`deployment ${this.o.topology.deployment} is already running here (supervisor PID ${running}, ${this.stateFile}): stop it first, or give another --state-dir (or remove that file if its PID is not an ably-ng supervisor)`);
    mkdirSync(join(this.o.stateDir, 'logs'), { recursive: true });
    await this.startLinks();
    const all = this.o.topology.regions.flatMap((r) => r.nodes.map((n) => ({ region: r.name, node: n.name })));
    await Promise.all(
      all.map(async ({ region, node }) => {
        const p = await this.startNode(region, node);
        print({ ready: true, region, node, url: p.url, pid: p.pid });
      }),
    );
    if (this.o.balancers !== false) {
      for (const r of this.o.topology.regions) {
        const balancer = new Balancer(
          r.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port })),
          this.o.log.child({ balancer: r.name }),
        );
        const host = r.balancer?.host ?? '127.0.0.1';
        const port = await balancer.listen(r.balancer?.port ?? 0, host);
        const url = `http://${hostPort(host, port)}`;
        this.balancers.set(r.name, { balancer, url });
        print({ ready: 'region', region: r.name, url });
      }
    }
    const t = this.o.topology;
    this.control = new ControlServer(this, this.o.log.child({ role: 'control' }), resolveSecret(t.secrets.control, 'secrets.control'));
    const controlUrl = await this.control.listen(t.control?.port ?? 0, t.control?.host ?? '127.0.0.1');
    const app = t.apps[0]!;
    const key = app.keys[0]!;
    this.writeState();
    print({ ready: 'all', key: `${app.id}.${key.id}:${key.secret}`, control: controlUrl });
  }

  /** Link balancers and fault proxies, before any node starts (nodes dial through them). */
  private async startLinks(): Promise<void> {
    const t = this.o.topology;
    if (t.regions.length > 1) {
      for (const r of t.regions) {
        const b = new Balancer(
          r.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port, target: n.grpcPort! })),
          this.o.log.child({ linkBalancer: r.name }),
          (h) => h.globalmaster === true,
        );
        await b.listen(r.link!.port, r.link!.host);
        this.linkBalancers.set(r.name, b);
      }
      for (const a of t.regions) {
        for (const b of t.regions) {
          if (a.name >= b.name) continue;
          // The proxy connects to b's globalmaster through b's link balancer's choice, not
          // through the balancer itself: one relay on the link instead of two.
          const toB = this.linkBalancers.get(b.name)!;
          const proxy = new FaultProxy(() => toB.dial(), `${a.name}->${b.name}`);
          await proxy.listen();
          this.regionProxies.set(`${a.name}|${b.name}`, proxy);
        }
      }
    }
    if (this.o.meshProxies) {
      for (const r of t.regions) {
        if (r.transport === 'nats' && r.nats) {
          // Its nodes reach each other through NATS only: each node's connection to each server is proxied.
          for (const n of r.nodes) {
            const proxies = new Map<string, FaultProxy>();
            for (const url of r.nats.servers) {
              const u = new URL(url);
              const proxy = new FaultProxy({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 4222) }, `${n.name}->nats ${u.host}`);
              await proxy.listen();
              proxies.set(url, proxy);
            }
            this.natsProxies.set(n.name, proxies);
          }
          continue;
        }
        for (const from of r.nodes) {
          for (const to of r.nodes) {
            if (from.name === to.name) continue;
            const proxy = new FaultProxy({ host: to.host, port: to.meshPort }, `${from.name}->${to.name}`);
            await proxy.listen();
            this.meshProxies.set(`${from.name}>${to.name}`, proxy);
          }
        }
      }
    }
  }

  /** The command-line flags that make a node dial its peers through the fault proxies. */
  private viaArgs(region: string, node: string): string[] {
    const args: string[] = [];
    for (const [pair, proxy] of this.regionProxies) {
      const [a, b] = pair.split('|') as [string, string];
      if (a === region) args.push('--link-via', `${b}=127.0.0.1:${proxy.port}`);
    }
    for (const [pair, proxy] of this.meshProxies) {
      const [from, to] = pair.split('>') as [string, string];
      if (from === node) args.push('--mesh-via', `${to}=127.0.0.1:${proxy.port}`);
    }
    for (const [url, proxy] of this.natsProxies.get(node) ?? []) args.push('--nats-via', `${url}=127.0.0.1:${proxy.port}`);
    return args;
  }

  /** Whether this supervisor wrote the state file (stop removes only its own). */
  private wroteState = false;

  writeState(extra: Record<string, unknown> = {}): void {
    const state = {
      deployment: this.o.topology.deployment,
      topology: this.o.topologyFile,
      pid: process.pid,
      nodes: Object.fromEntries([...this.nodes.values()].map((n) => [n.name, { region: n.region, pid: n.pid, url: n.url }])),
      regions: Object.fromEntries([...this.balancers].map(([r, b]) => [r, b.url])),
      ...(this.control ? { control: { url: this.control.url, token: this.control.token } } : {}),
      ...extra,
    };
    writeFileSync(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
    this.wroteState = true;
  }

  /** Spawns one node and waits for its ready line. */
  startNode(region: string, node: string, extraArgs: string[] = []): Promise<NodeProcess> {
    // ABLY_NG_NODE_CPU_PROF_DIR=DIR: every node writes a V8 CPU profile there when it
    // stops gracefully (Node refuses --cpu-prof in NODE_OPTIONS). ABLY_NG_NODE_FLAGS:
    // more Node/V8 flags for every node (space-separated, e.g. `--trace-gc`), which
    // NODE_OPTIONS would refuse too; what they print on stdout goes to the node's log.
    const profDir = process.env.ABLY_NG_NODE_CPU_PROF_DIR;
    const flags = flagsFromEnv('ABLY_NG_NODE_FLAGS');
    const args = [
      ...NODE_V8_FLAGS,
      ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      ...flags,
      this.cliPath,
      'node',
      '--topology',
      this.o.topologyFile,
      '--region',
      region,
      '--node',
      node,
      '--log-level',
      this.o.nodeLogLevel,
      ...this.viaArgs(region, node),
      ...extraArgs,
    ];
    // The IPC channel is the node's lifeline: if this process dies without stopping it
    // (kill -9, a crash), the channel closes and the node stops itself (cli/node.ts).
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? NODE_MALLOC_TUNABLES, ...this.o.env, ...this.o.regionEnv?.[region], ...this.o.nodeEnv?.[node] },
    });
    proc.channel?.unref();
    let log = this.logs.get(node);
    if (!log) {
      log = createWriteStream(join(this.o.stateDir, 'logs', `${node}.log`), { flags: 'a' });
      // A full disk or a late write must not take the supervisor (and every node) down.
      log.on('error', (err) => this.o.log.warn({ node, err: err.message }, 'cannot write the node log'));
      this.logs.set(node, log);
    }
    proc.stderr!.pipe(log, { end: false });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    return new Promise<NodeProcess>((resolveReady, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`node ${node} did not become ready in ${READY_TIMEOUT_MS} ms (see ${join(this.o.stateDir, 'logs', `${node}.log`)})`));
      }, READY_TIMEOUT_MS);
      const lines = createInterface({ input: proc.stdout! });
      let waitingForLog = false;
      lines.on('line', (line) => {
        const url = readyUrl(line);
        if (url !== null) {
          clearTimeout(timer);
          const p: NodeProcess = { name: node, region, pid: proc.pid!, url, proc, exited, paused: false };
          this.nodes.set(node, p);
          // A node that dies of something not sent from here (a crash, a kill from outside) is no longer counted as running.
          void exited.then((code) => {
            if (p.ending || this.nodes.get(node) !== p) return;
            this.o.log.warn({ node, pid: p.pid, code }, 'a node exited by itself');
            this.nodes.delete(node);
            if (!this.stopped) this.writeState();
          });
          resolveReady(p);
          return;
        }
        // Anything else (e.g. --trace-gc output) goes to the log, read no faster than it is
        // written. readline still hands over the lines of a chunk it has read after pause(),
        // so only the first of them waits for 'drain' (one listener, not one per line).
        if (!log.writableEnded && !log.write(`${line}\n`) && !waitingForLog) {
          waitingForLog = true;
          lines.pause();
          log.once('drain', () => {
            waitingForLog = false;
            lines.resume();
          });
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node ${node} exited with code ${code} before it was ready (see ${join(this.o.stateDir, 'logs', `${node}.log`)})`));
      });
    });
  }

  private get(node: string): NodeProcess {
    const p = this.nodes.get(node);
    if (!p) throw new Error(`no running node "${node}"`);
    return p;
  }

  /**
   * Sends a node's process a signal; false where the process is gone (it died of something
   * not sent from here): the node is then no longer counted as running (and so restarted
   * where a chaos run ends), not a throw out of whatever sent it.
   */
  private signal(p: NodeProcess, sig: NodeJS.Signals): boolean {
    try {
      process.kill(p.pid, sig);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      this.o.log.warn({ node: p.name, pid: p.pid, signal: sig }, "the node's process is gone: it died of something not sent by the supervisor");
      if (this.nodes.get(p.name) === p) this.nodes.delete(p.name);
      return false;
    }
  }

  /** `kill -9`: the node dies without a word. */
  async kill(node: string): Promise<void> {
    const p = this.get(node);
    p.ending = true;
    if (p.paused) this.signal(p, 'SIGCONT');
    if (this.signal(p, 'SIGKILL')) await p.exited;
    this.nodes.delete(node);
  }

  /** SIGTERM: the node hands its channels off and leaves. */
  async terminate(node: string): Promise<void> {
    const p = this.get(node);
    p.ending = true;
    if (p.paused) this.signal(p, 'SIGCONT');
    if (!this.signal(p, 'SIGTERM')) return;
    const t = setTimeout(() => p.proc.kill('SIGKILL'), STOP_GRACE_MS);
    await p.exited;
    clearTimeout(t);
    this.nodes.delete(node);
  }

  pause(node: string): void {
    const p = this.get(node);
    if (!this.signal(p, 'SIGSTOP')) throw new Error(`node ${node}'s process is gone`);
    p.paused = true;
  }

  /** Lets a paused node go on (nothing to do where its process is gone). */
  /** SIGCONT; nothing for a node no longer running (it died meanwhile: nothing to resume). */
  resume(node: string): void {
    const p = this.nodes.get(node);
    if (!p) return;
    this.signal(p, 'SIGCONT');
    p.paused = false;
  }

  /** Starts a node that was killed or stopped (same name, same ports: a new incarnation). */
  async restart(node: string): Promise<NodeProcess> {
    if (this.nodes.has(node)) await this.kill(node);
    const region = this.o.topology.regions.find((r) => r.nodes.some((n) => n.name === node));
    if (!region) throw new Error(`node "${node}" is not in the topology`);
    const p = await this.startNode(region.name, node);
    this.writeState();
    return p;
  }

  /** Stops everything this supervisor started (SIGTERM, then SIGKILL after the grace period). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.nodes.keys()].map((n) => this.terminate(n).catch(() => undefined)));
    await this.control?.close();
    for (const b of this.balancers.values()) await b.balancer.close();
    for (const b of this.linkBalancers.values()) await b.close();
    for (const p of this.regionProxies.values()) await p.close();
    for (const p of this.meshProxies.values()) await p.close();
    for (const ps of this.natsProxies.values()) for (const p of ps.values()) await p.close();
    for (const l of this.logs.values()) l.end();
    // Only its own: a second `up` that failed to start must not take a running deployment's away.
    if (this.wroteState) rmSync(this.stateFile, { force: true });
  }
}
