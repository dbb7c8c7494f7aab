/**
 * Local nats-server processes for benchmarks, tests and chaos runs: one server, or a cluster whose
 * servers route to each other, on free loopback ports, each with its monitoring port.
 * Every process is started and stopped by its PID (never by name); a process-exit hook
 * kills whatever is still running if the caller forgot or crashed.
 *
 * The binary is Debian's `nats-server` (`scripts/ensure-system-deps.sh` installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { reservePorts } from './ports.js';

/** A server that is not serving (and routed, in a cluster) in this long failed to start. */
const READY_TIMEOUT_MS = 15_000;
/** After SIGTERM a server gets this long to exit before SIGKILL. */
const STOP_GRACE_MS = 5000;

/** The nats-server binary on PATH (or in Debian's /usr/sbin), or null. */
export function findNatsServer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, 'nats-server');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export interface NatsServerOptions {
  /** How many servers; more than one makes a cluster (full mesh of routes). */
  count?: number;
  /** Client authentication every server requires. */
  token?: string;
  user?: string;
  pass?: string;
  /** nats-server's max_payload in bytes (its default, 1 MiB, if unset). */
  maxPayloadBytes?: number;
  /** The binary (default: found on PATH). */
  binary?: string;
}

interface ServerPorts {
  client: number;
  cluster: number;
  monitor: number;
}

interface Running {
  proc: ChildProcess;
  exited: Promise<void>;
}

export class NatsServers {
  private readonly running = new Map<number, Running>();
  private readonly ports: ServerPorts[];
  private readonly dir: string;
  private readonly binary: string;
  private readonly exitHook = () => this.killAllNow();

  private constructor(
    private readonly o: NatsServerOptions,
    ports: ServerPorts[],
    binary: string,
  ) {
    this.ports = ports;
    this.binary = binary;
    this.dir = mkdtempSync(join(tmpdir(), 'ablyng-nats-'));
    process.once('exit', this.exitHook);
  }

  /** Starts the servers and waits until each serves (and, in a cluster, routes to all others). */
  static async start(o: NatsServerOptions = {}): Promise<NatsServers> {
    const binary = o.binary ?? findNatsServer();
    if (!binary) throw new Error('nats-server not found: run scripts/ensure-system-deps.sh (as root) to install it');
    const count = o.count ?? 1;
    const free = await reservePorts(count * 3);
    const ports: ServerPorts[] = Array.from({ length: count }, (_, i) => ({ client: free[3 * i]!, cluster: free[3 * i + 1]!, monitor: free[3 * i + 2]! }));
    const s = new NatsServers(o, ports, binary);
    try {
      await Promise.all(ports.map((_, i) => s.startOne(i)));
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  get count(): number {
    return this.ports.length;
  }

  /** Client URLs of every server (running or not), in order. */
  get urls(): string[] {
    return this.ports.map((p) => `nats://127.0.0.1:${p.client}`);
  }

  url(i: number): string {
    return `nats://127.0.0.1:${this.ports[i]!.client}`;
  }

  monitorUrl(i: number): string {
    return `http://127.0.0.1:${this.ports[i]!.monitor}`;
  }

  pid(i: number): number | undefined {
    return this.running.get(i)?.proc.pid;
  }

  isRunning(i: number): boolean {
    return this.running.has(i);
  }

  private config(i: number): string {
    const p = this.ports[i]!;
    const lines = [`server_name: "ablyng-nats-${i + 1}"`, `listen: "127.0.0.1:${p.client}"`, `http: "127.0.0.1:${p.monitor}"`];
    if (this.o.maxPayloadBytes) lines.push(`max_payload: ${this.o.maxPayloadBytes}`);
    if (this.o.token) lines.push(`authorization { token: ${JSON.stringify(this.o.token)} }`);
    else if (this.o.user) lines.push(`authorization { user: ${JSON.stringify(this.o.user)}, password: ${JSON.stringify(this.o.pass ?? '')} }`);
    if (this.ports.length > 1) {
      const routes = this.ports.filter((_, j) => j !== i).map((q) => `"nats-route://127.0.0.1:${q.cluster}"`);
      lines.push(`cluster { name: "ablyng", listen: "127.0.0.1:${p.cluster}", routes: [${routes.join(', ')}] }`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** Starts server i (again) on its ports and waits until it serves and routes. */
  async startOne(i: number): Promise<void> {
    if (this.running.has(i)) return;
    const conf = join(this.dir, `server-${i + 1}.conf`);
    writeFileSync(conf, this.config(i));
    const proc = spawn(this.binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const log = createWriteStream(join(this.dir, `server-${i + 1}.log`), { flags: 'a' });
    proc.stderr!.pipe(log);
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const r: Running = { proc, exited };
    this.running.set(i, r);
    void exited.then(() => {
      if (this.running.get(i) === r) this.running.delete(i);
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!this.running.has(i)) throw new Error(`nats-server ${i + 1} exited at start (log: ${join(this.dir, `server-${i + 1}.log`)})`);
      if (await this.ready(i)) return;
      if (Date.now() > deadline) throw new Error(`nats-server ${i + 1} not ready in ${READY_TIMEOUT_MS} ms (log: ${join(this.dir, `server-${i + 1}.log`)})`);
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** Serving, and routed to every other running server. */
  private async ready(i: number): Promise<boolean> {
    try {
      const health = await fetch(`${this.monitorUrl(i)}/healthz`);
      if (!health.ok) return false;
      if (this.ports.length === 1) return true;
      const routez = (await (await fetch(`${this.monitorUrl(i)}/routez`)).json()) as { num_routes: number };
      const others = [...this.running.keys()].filter((j) => j !== i).length;
      return routez.num_routes >= others;
    } catch {
      return false;
    }
  }

  /** Waits until every running server routes to every other running one. */
  async routed(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const oks = await Promise.all([...this.running.keys()].map((i) => this.ready(i)));
      if (oks.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error('nats-server cluster not routed in time');
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** Monitoring JSON of server i (`varz`, `connz`, `routez`, …). */
  async monitor<T = Record<string, unknown>>(i: number, endpoint: string): Promise<T> {
    return (await (await fetch(`${this.monitorUrl(i)}/${endpoint}`)).json()) as T;
  }

  /** Names of the client connections on server i (nodes name theirs; see `connectionName`). */
  async connectionNames(i: number): Promise<string[]> {
    const c = await this.monitor<{ connections?: { name?: string }[] }>(i, 'connz?limit=100000');
    return (c.connections ?? []).map((x) => x.name ?? '');
  }

  /**
   * The running server holding the most client connections whose names `counted` takes
   * (all by default), and those names; server -1 where none runs.
   */
  async busiest(counted: (name: string) => boolean = () => true): Promise<{ server: number; names: string[] }> {
    let best = { server: -1, names: [] as string[] };
    for (let i = 0; i < this.count; i++) {
      if (!this.isRunning(i)) continue;
      const names = (await this.connectionNames(i)).filter(counted);
      if (best.server < 0 || names.length > best.names.length) best = { server: i, names };
    }
    return best;
  }

  /** `kill -9` of server i, by PID. */
  async kill(i: number): Promise<void> {
    const r = this.running.get(i);
    if (!r) return;
    process.kill(r.proc.pid!, 'SIGKILL');
    await r.exited;
  }

  /** Stops server i: SIGTERM, then SIGKILL after a grace period, by PID. */
  async stopOne(i: number): Promise<void> {
    const r = this.running.get(i);
    if (!r) return;
    process.kill(r.proc.pid!, 'SIGTERM');
    const t = setTimeout(() => {
      if (this.running.get(i) === r) process.kill(r.proc.pid!, 'SIGKILL');
    }, STOP_GRACE_MS);
    await r.exited;
    clearTimeout(t);
  }

  /** Stops every server it started and removes its files. */
  async stop(): Promise<void> {
    await Promise.all([...this.running.keys()].map((i) => this.stopOne(i)));
    process.off('exit', this.exitHook);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private killAllNow(): void {
    for (const r of this.running.values()) {
      try {
        process.kill(r.proc.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}
