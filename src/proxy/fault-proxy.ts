/**
 * A TCP proxy that injects faults on one link, in either direction:
 * - `blackhole`: a partition. Bytes stop flowing (held, as a real network holds
 *   retransmissions) and new connections hang; on heal, what the endpoints did not give
 *   up on flows again. Endpoints notice only through their own timeouts.
 * - `reset`: the link is cut hard: connections are reset and new ones refused.
 * - `latencyMs` / `jitterMs`: each chunk is delayed, order kept.
 * - `lossRate`: the share of chunks that are "lost" and resent by TCP after a
 *   retransmission timeout (a lost packet on a TCP stream is late, never missing).
 * - `bandwidthBytesPerS`: a cap on throughput.
 *
 * "up" is the direction from the connecting side to the target, "down" the reverse.
 */
import net from 'node:net';
import { preciseTimers, type PreciseTimer } from './precise-timer.js';

export interface LinkFaults {
  blackhole: boolean;
  reset: boolean;
  latencyMs: number;
  jitterMs: number;
  lossRate: number;
  bandwidthBytesPerS: number | null;
}

export const NO_FAULTS: LinkFaults = {
  blackhole: false,
  reset: false,
  latencyMs: 0,
  jitterMs: 0,
  lossRate: 0,
  bandwidthBytesPerS: null,
};

/** Delay a "lost" chunk gets: TCP's minimum retransmission timeout on Linux. */
const RETRANSMIT_DELAY_MS = 200;
/** Bytes held per direction per connection while blackholed, at most (then the connection drops). */
const MAX_HELD_BYTES = 64 * 1024 * 1024;

export type Direction = 'up' | 'down';

/** Where a proxy connects: an address, or a function that opens the connection (null: nowhere to go). */
export type Upstream = { host: string; port: number } | (() => Promise<net.Socket | null>);

/** A connected socket to `target` (no delay set), or null if the connection failed. */
export function openSocket(target: { host: string; port: number }): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect(target);
    s.setNoDelay(true);
    const failed = () => resolve(null);
    s.once('error', failed);
    s.once('connect', () => {
      s.off('error', failed);
      resolve(s);
    });
  });
}

/** One direction of one proxied connection: a paced, delayable, pausable byte pipe. */
class Pipe {
  private queue: { chunk: Buffer; at: number }[] = [];
  private held = 0;
  private timer: PreciseTimer | null = null;
  /** When the last queued chunk is due (order is kept) and when the wire is free again (bandwidth). */
  private lastDue = 0;

  constructor(
    private readonly to: net.Socket,
    private readonly faults: () => LinkFaults,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    const f = this.faults();
    // A monotonic clock finer than a millisecond (with Date.now()'s whole milliseconds a
    // chunk could leave up to 1 ms before its delay was up), and timers as fine
    // (precise-timer.ts): the delay is a floor, and a chunk leaves within a fraction of a
    // millisecond of it.
    const now = performance.now();
    let delay = f.latencyMs + (f.jitterMs ? Math.random() * f.jitterMs : 0);
    if (f.lossRate > 0 && Math.random() < f.lossRate) delay += RETRANSMIT_DELAY_MS;
    // Order is kept: a chunk never leaves before the one ahead of it; with a bandwidth
    // cap, each chunk also waits for the wire time of those ahead of it.
    let at = Math.max(now + delay, this.lastDue);
    if (f.bandwidthBytesPerS !== null && f.bandwidthBytesPerS > 0) at += (chunk.length / f.bandwidthBytesPerS) * 1000;
    this.lastDue = at;
    this.queue.push({ chunk, at });
    this.held += chunk.length;
    if (this.held > MAX_HELD_BYTES) {
      this.onOverflow();
      return;
    }
    this.pump();
  }

  pump(): void {
    if (this.timer) return;
    const f = this.faults();
    if (f.blackhole) return; // held until heal() pumps again
    const now = performance.now();
    while (this.queue.length) {
      const head = this.queue[0]!;
      if (head.at > now) {
        this.timer = preciseTimers.at(head.at, () => {
          this.timer = null;
          this.pump();
        });
        return;
      }
      this.queue.shift();
      this.held -= head.chunk.length;
      if (!this.to.destroyed) this.to.write(head.chunk);
    }
  }

  clear(): void {
    this.timer?.cancel();
    this.timer = null;
    this.queue = [];
  }
}

interface Proxied {
  client: net.Socket;
  upstream: net.Socket | null;
  up: Pipe | null;
  down: Pipe | null;
  pendingConnect: boolean;
}

export class FaultProxy {
  private readonly server: net.Server;
  private readonly conns = new Set<Proxied>();
  private faults: Record<Direction, LinkFaults> = { up: { ...NO_FAULTS }, down: { ...NO_FAULTS } };
  port = 0;
  /** Bytes forwarded per direction since start. */
  readonly bytes: Record<Direction, number> = { up: 0, down: 0 };

  constructor(
    private target: Upstream,
    readonly name = typeof target === 'function' ? 'proxy' : `${target.host}:${target.port}`,
  ) {
    this.server = net.createServer((c) => this.onClient(c));
  }

  listen(port = 0, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        this.port = typeof a === 'object' && a ? a.port : port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.conns) this.destroy(c);
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get state(): Record<Direction, LinkFaults> {
    return { up: { ...this.faults.up }, down: { ...this.faults.down } };
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Sets faults on one or both directions (fields not given are left as they are). */
  set(dir: Direction | 'both', faults: Partial<LinkFaults>): void {
    const dirs: Direction[] = dir === 'both' ? ['up', 'down'] : [dir];
    for (const d of dirs) this.faults[d] = { ...this.faults[d], ...faults };
    if (this.faults.up.reset || this.faults.down.reset) {
      for (const c of this.conns) this.destroy(c, true);
    }
    this.kick();
  }

  /** Removes every fault; held bytes and hanging connections go on. */
  heal(): void {
    this.faults = { up: { ...NO_FAULTS }, down: { ...NO_FAULTS } };
    this.kick();
  }

  /** Points new connections somewhere else (open ones stay where they are). */
  setTarget(target: Upstream): void {
    this.target = target;
  }

  /** Drops every open connection now (the endpoints see a reset), without lasting faults. */
  resetConnections(): void {
    for (const c of this.conns) this.destroy(c, true);
  }

  private kick(): void {
    for (const c of this.conns) {
      if (c.pendingConnect && !this.blocked()) this.connectUpstream(c);
      c.up?.pump();
      c.down?.pump();
    }
  }

  private blocked(): boolean {
    return this.faults.up.blackhole || this.faults.down.blackhole;
  }

  private destroy(c: Proxied, reset = false): void {
    c.up?.clear();
    c.down?.clear();
    if (reset) {
      c.client.resetAndDestroy();
      c.upstream?.resetAndDestroy();
    } else {
      c.client.destroy();
      c.upstream?.destroy();
    }
    this.conns.delete(c);
  }

  private onClient(client: net.Socket): void {
    if (this.faults.up.reset || this.faults.down.reset) {
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const c: Proxied = { client, upstream: null, up: null, down: null, pendingConnect: true };
    this.conns.add(c);
    client.on('error', () => undefined);
    client.on('close', () => this.destroy(c));
    client.pause();
    // A partitioned link accepts the SYN (the proxy is local) but the far side never
    // answers: hold the connection until heal, as a real partition would.
    if (!this.blocked()) this.connectUpstream(c);
  }

  private connectUpstream(c: Proxied): void {
    c.pendingConnect = false;
    const target = this.target;
    void (typeof target === 'function' ? target() : openSocket(target)).then((upstream) => {
      if (!upstream) this.destroy(c);
      else if (!this.conns.has(c)) upstream.destroy();
      else this.pipe(c, upstream);
    });
  }

  private pipe(c: Proxied, upstream: net.Socket): void {
    c.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.destroy(c));
    c.up = new Pipe(upstream, () => this.faults.up, () => this.destroy(c));
    c.down = new Pipe(c.client, () => this.faults.down, () => this.destroy(c));
    c.client.on('data', (d: Buffer) => {
      this.bytes.up += d.length;
      c.up!.push(d);
    });
    upstream.on('data', (d: Buffer) => {
      this.bytes.down += d.length;
      c.down!.push(d);
    });
    c.client.resume();
  }
}
