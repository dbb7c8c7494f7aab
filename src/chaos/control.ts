/**
 * The control endpoint of a running deployment (`ably-ng up`): an HTTP API to inject
 * faults into it. It listens on loopback unless configured otherwise, and every request
 * must carry the deployment's control token (`Authorization: Bearer <token>`).
 *
 *   GET  /state                                 links with their faults, nodes with their state
 *   POST /regions/partition {a, b, oneWay?}     cut the link (oneWay: only a → b)
 *   POST /regions/heal {a?, b?}                 heal one region link, or all of them
 *   POST /regions/faults {a, b, latencyMs?, jitterMs?, lossRate?, bandwidthBytesPerS?, oneWay?}
 *   POST /nodes/{node}/{kill|restart|stop|pause|resume|isolate|rejoin}
 *   POST /nodes/{node}/{isolate|rejoin} {from}  only the links between node and `from`
 *                                               (a partial partition inside a region)
 *   POST /heal                                  every link healed, every paused node resumed
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Supervisor } from '../cli/supervisor.js';
import type { Logger } from '../log.js';
import type { FaultProxy, LinkFaults } from '../proxy/fault-proxy.js';
import { hostPort } from '../ports.js';

export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function newToken(): string {
  return randomBytes(18).toString('base64url');
}

export class ControlServer {
  private readonly http: Server;
  readonly token: string;
  url = '';

  constructor(
    private readonly sup: Supervisor,
    private readonly log: Logger,
    token?: string,
  ) {
    this.token = token ?? newToken();
    this.http = createServer((req, res) => void this.handle(req, res));
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        const a = this.http.address();
        const p = typeof a === 'object' && a ? a.port : port;
        this.url = `http://${hostPort(host, p)}`;
        resolve(this.url);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      if (!this.authorized(req)) throw new ControlError(401, 'missing or wrong control token');
      const url = new URL(req.url ?? '/', 'http://localhost');
      let body: Record<string, unknown> = {};
      if (req.method === 'POST') {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        if (text) body = JSON.parse(text) as Record<string, unknown>;
      }
      const result = await this.route(req.method ?? 'GET', url.pathname, body);
      this.log.info({ action: url.pathname, body }, 'control action');
      reply(200, result);
    } catch (err) {
      const status = err instanceof ControlError ? err.status : err instanceof SyntaxError ? 400 : 500;
      reply(status, { error: (err as Error).message });
    }
  }

  private async route(method: string, path: string, body: Record<string, unknown>): Promise<unknown> {
    if (method === 'GET' && path === '/state') return this.state();
    if (method !== 'POST') throw new ControlError(405, `${method} ${path} is not a control action`);
    if (path === '/regions/partition') return this.regionFaults(body, { blackhole: true });
    if (path === '/regions/faults') {
      const f: Partial<LinkFaults> = {};
      for (const k of ['latencyMs', 'jitterMs', 'lossRate', 'bandwidthBytesPerS'] as const) {
        if (body[k] !== undefined) {
          const v = Number(body[k]);
          if (!Number.isFinite(v) || v < 0) throw new ControlError(400, `${k} must be a number ≥ 0`);
          (f as Record<string, number>)[k] = v;
        }
      }
      if (f.lossRate !== undefined && f.lossRate > 1) throw new ControlError(400, 'lossRate is a fraction (0..1)');
      return this.regionFaults(body, f);
    }
    if (path === '/regions/heal') {
      if (body.a === undefined && body.b === undefined) {
        for (const p of this.sup.regionProxies.values()) p.heal();
        return { healed: [...this.sup.regionProxies.keys()] };
      }
      const { proxy } = this.regionLink(body);
      proxy.heal();
      return { healed: [proxy.name] };
    }
    if (path === '/heal') {
      for (const p of this.sup.regionProxies.values()) p.heal();
      for (const p of this.sup.meshProxies.values()) p.heal();
      for (const ps of this.sup.natsProxies.values()) for (const p of ps.values()) p.heal();
      for (const n of this.sup.nodes.values()) if (n.paused) this.sup.resume(n.name);
      return { healed: true };
    }
    const m = /^\/nodes\/([^/]+)\/(kill|restart|stop|pause|resume|isolate|rejoin)$/.exec(path);
    if (m) return this.nodeAction(decodeURIComponent(m[1]!), m[2]!, body.from === undefined ? undefined : String(body.from));
    throw new ControlError(404, `no control action ${path}`);
  }

  /** The proxy on the link between regions a and b, and the direction a → b on it. */
  private regionLink(body: Record<string, unknown>): { proxy: FaultProxy; aToB: 'up' | 'down' } {
    const a = String(body.a ?? '');
    const b = String(body.b ?? '');
    const [first, second] = a < b ? [a, b] : [b, a];
    const proxy = this.sup.regionProxies.get(`${first}|${second}`);
    if (!proxy) {
      const have = [...this.sup.regionProxies.keys()].map((k) => k.replace('|', '–'));
      throw new ControlError(404, `no link between regions "${a}" and "${b}" (links: ${have.join(', ') || 'none'})`);
    }
    return { proxy, aToB: a === first ? 'up' : 'down' };
  }

  private regionFaults(body: Record<string, unknown>, faults: Partial<LinkFaults>): unknown {
    const { proxy, aToB } = this.regionLink(body);
    proxy.set(body.oneWay ? aToB : 'both', faults);
    return { link: proxy.name, faults: proxy.state };
  }

  /**
   * The fault proxies on node's links with its region, or only with `other`. A node of a
   * NATS region reaches the others only through NATS: its links are its connections to
   * the NATS servers, all or nothing.
   */
  private linksOf(node: string, other?: string): FaultProxy[] {
    const nats = this.sup.natsProxies.get(node);
    if (nats) {
      if (other !== undefined) throw new ControlError(400, `${node}'s region runs on NATS, where its nodes reach each other only through the NATS servers: a node is cut from all of them (isolate without "from"), not from one`);
      return [...nats.values()];
    }
    const out: FaultProxy[] = [];
    for (const [pair, p] of this.sup.meshProxies) {
      const ends = pair.split('>');
      if (ends.includes(node) && (other === undefined || ends.includes(other))) out.push(p);
    }
    return out;
  }

  private known(node: string): boolean {
    return this.sup.o.topology.regions.some((r) => r.nodes.some((n) => n.name === node));
  }

  private async nodeAction(node: string, action: string, other?: string): Promise<unknown> {
    if (!this.known(node)) throw new ControlError(404, `no node "${node}" in this deployment`);
    if (other !== undefined) {
      if (action !== 'isolate' && action !== 'rejoin') throw new ControlError(400, `"from" is for isolate and rejoin only, not ${action}`);
      if (!this.known(other)) throw new ControlError(404, `no node "${other}" in this deployment`);
      if (other === node) throw new ControlError(400, `a node cannot be isolated from itself`);
    }
    const running = this.sup.nodes.has(node);
    const need = (ok: boolean, why: string) => {
      if (!ok) throw new ControlError(409, why);
    };
    switch (action) {
      case 'kill':
        need(running, `${node} is not running`);
        await this.sup.kill(node);
        break;
      case 'stop':
        need(running, `${node} is not running`);
        await this.sup.terminate(node);
        break;
      case 'restart':
        await this.sup.restart(node);
        break;
      case 'pause':
        need(running, `${node} is not running`);
        this.sup.pause(node);
        break;
      case 'resume':
        need(running, `${node} is not running`);
        this.sup.resume(node);
        break;
      case 'isolate':
      case 'rejoin': {
        const links = this.linksOf(node, other);
        need(links.length > 0, other === undefined ? 'node-to-node links do not go through fault proxies in this deployment' : `no proxied link between ${node} and ${other} (not in one region, or links not proxied)`);
        for (const p of links) {
          if (action === 'isolate') p.set('both', { blackhole: true });
          else p.heal();
        }
        break;
      }
    }
    this.sup.writeState();
    return { node, action, ...(other === undefined ? {} : { from: other }), state: this.nodeState(node) };
  }

  private nodeState(node: string): string {
    const n = this.sup.nodes.get(node);
    if (!n) return 'stopped';
    return n.paused ? 'paused' : 'running';
  }

  state(): unknown {
    const t = this.sup.o.topology;
    return {
      deployment: t.deployment,
      regionLinks: [...this.sup.regionProxies].map(([pair, p]) => ({ link: pair.replace('|', '–'), faults: p.state, bytes: p.bytes })),
      nodes: t.regions.flatMap((r) =>
        r.nodes.map((n) => {
          const links = this.linksOf(n.name);
          const cut = (ps: FaultProxy[]) => ps.length > 0 && ps.every((p) => p.state.up.blackhole);
          return {
            node: n.name,
            region: r.name,
            state: this.nodeState(n.name),
            pid: this.sup.nodes.get(n.name)?.pid ?? null,
            isolated: cut(links),
            /** Nodes of the region whose links with this one are cut (all of them when isolated; NATS regions: none but by isolation). */
            cutFrom: this.sup.natsProxies.has(n.name) ? [] : r.nodes.filter((o) => o.name !== n.name && cut(this.linksOf(n.name, o.name))).map((o) => o.name),
          };
        }),
      ),
    };
  }
}
