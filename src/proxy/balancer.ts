/**
 * A small TCP balancer: one client endpoint per region. Each accepted connection is
 * piped to the next healthy node, round-robin, and among those first to one with room for
 * another connection (fewer than its `connectionCaps.connections`, and `admitting`: not
 * at its memory budget; gateway/admission.ts),
 * so that a client is not sent to a full node while another has room. Health is polled
 * from each node's `GET /health` (a node without quorum is skipped, so clients of a node
 * cut off from its region reconnect to the majority). In production put HAProxy or nginx
 * here (README).
 */
import http from 'node:http';
import net from 'node:net';
import type { Logger } from '../log.js';
import { openSocket } from './fault-proxy.js';

/** How often backends' health is polled. */
const HEALTH_INTERVAL_MS = 500;
const HEALTH_TIMEOUT_MS = 400;

export interface Backend {
  name: string;
  host: string;
  port: number;
  /** Where connections go, when not `port` (health is still read from `port`). */
  target?: number;
}

export class Balancer {
  private readonly server: net.Server;
  private readonly healthy = new Set<string>();
  /** Healthy backends whose last health had room for another connection. */
  private readonly roomy = new Set<string>();
  private next = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private backends: Backend[],
    private readonly log: Logger,
    /** Which backends take connections, from their `/health` (default: those serving: with quorum, not stopping). */
    private readonly accepts: (health: { quorum?: boolean; serving?: boolean; globalmaster?: boolean }) => boolean = (h) => h.quorum !== false && h.serving !== false,
  ) {
    this.server = net.createServer((c) => this.onClient(c));
  }

  setBackends(backends: Backend[]): void {
    this.backends = backends;
  }

  async listen(port: number, host: string): Promise<number> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), HEALTH_INTERVAL_MS);
    this.timer.unref();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The backends the last polls found healthy, in the order given. */
  healthyBackends(): string[] {
    return this.backends.filter((b) => this.healthy.has(b.name)).map((b) => b.name);
  }

  private poll(): Promise<void> {
    return Promise.all(
      this.backends.map(
        (b) =>
          new Promise<void>((resolve) => {
            const req = http.get({ host: b.host, port: b.port, path: '/health', timeout: HEALTH_TIMEOUT_MS }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => {
                let ok = res.statusCode === 200;
                let room = false;
                try {
                  const h = JSON.parse(body) as { quorum?: boolean; globalmaster?: boolean; connections?: number; connectionCaps?: { connections?: number | null }; admitting?: boolean };
                  ok = ok && this.accepts(h);
                  const cap = h.connectionCaps?.connections;
                  // admitting: false: at its memory budget it turns every new connection away.
                  room = h.admitting !== false && (typeof cap !== 'number' || typeof h.connections !== 'number' || h.connections < cap);
                } catch {
                  ok = false;
                }
                this.mark(b, ok);
                if (ok && room) this.roomy.add(b.name);
                else this.roomy.delete(b.name);
                resolve();
              });
            });
            req.on('timeout', () => req.destroy());
            req.on('error', () => {
              this.mark(b, false);
              resolve();
            });
          }),
      ),
    ).then(() => undefined);
  }

  private mark(b: Backend, ok: boolean): void {
    const was = this.healthy.has(b.name);
    if (ok) this.healthy.add(b.name);
    else {
      this.healthy.delete(b.name);
      this.roomy.delete(b.name);
    }
    if (was !== ok) this.log.info({ backend: b.name, healthy: ok }, 'balancer backend health changed');
  }

  /** The next backend in turn that is healthy and has room, else the next that is healthy. */
  private pick(exclude: Set<string>): Backend | null {
    const n = this.backends.length;
    for (const ok of [this.roomy, this.healthy]) {
      for (let i = 0; i < n; i++) {
        const b = this.backends[(this.next + i) % n]!;
        if (ok.has(b.name) && !exclude.has(b.name)) {
          this.next = (this.next + i + 1) % n;
          return b;
        }
      }
    }
    return null;
  }

  /**
   * A connection to a healthy backend, trying each in turn (one that refuses is marked
   * unhealthy until the next poll says otherwise); null when none answers.
   */
  async dial(): Promise<net.Socket | null> {
    const tried = new Set<string>();
    for (let b = this.pick(tried); b; b = this.pick(tried)) {
      tried.add(b.name);
      const upstream = await openSocket({ host: b.host, port: b.target ?? b.port });
      if (upstream) return upstream;
      this.mark(b, false);
    }
    return null;
  }

  private onClient(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => undefined);
    client.setNoDelay(true);
    client.pause();
    void this.dial().then((upstream) => {
      if (!upstream) {
        client.destroy();
        return;
      }
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.sockets.add(upstream);
      upstream.on('error', () => undefined);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }
}
