/**
 * Revocation probes for the chaos workload (scenario `workload.revokeEveryS`; README
 * "Token revocation"). Every so often a probe takes a token for a clientId of its own
 * (`probe-N`) in one region, waits a gap (DEFAULT_GAP_MS, longer than the regions' clocks
 * may be apart in a run, so that every region takes the token for one issued before the
 * revocation even by its own clock; or the scenario's `workload.revokeGapS`),
 * revokes that clientId's tokens through the next region, and then asks every node of
 * every region, on its own port, four times a second, to serve a REST request with the
 * token until it refuses it as revoked. Each revocation and each node's first refusal
 * are recorded (`revocation`, `revoked` lines) for the checker (revocation-check.ts):
 * every node must refuse every revocation's token by the end of the run, faults or not.
 */
import Ably from 'ably';
import type { RevocationEvent, RevokedEvent } from './record.js';

/**
 * From a probe's token to its revocation, unless told (ms): more than the regions' times
 * may be apart in a run (`--clocks` ±8 s a region, `--node-clocks` ±4 s more, steps of up
 * to 10 s), so that every region takes the token for one issued before the revocation.
 */
export const DEFAULT_GAP_MS = 30_000;
/** How often each region is asked with a revoked token (ms). */
const POLL_MS = 250;
/** One request's time limit (ms). */
const REQUEST_TIMEOUT_MS = 3000;

type Endpoint = { host: string; port: number };

type Node = { name: string; region: string; host: string; port: number };

export class RevocationProbes {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Nodes still to refuse each revocation's token: `clientId` → node names. */
  private readonly waiting = new Map<string, Set<string>>();
  /** Aborts every request still on its way at close. */
  private readonly aborts = new AbortController();
  private stopped = false;
  private closed = false;
  private count = 0;

  constructor(
    private readonly o: {
      /** A key with revocableTokens (`appId.keyId:secret`). */
      key: string;
      /** Each region's endpoint: tokens are taken and revoked through them. */
      regions: Map<string, Endpoint>;
      /** Every node, asked with each revoked token on its own port (an endpoint's balancer would let one node answer for all). */
      nodes: Node[];
      everyMs: number;
      /** From a probe's token to its revocation (ms; default DEFAULT_GAP_MS). */
      gapMs?: number;
      record(e: RevocationEvent | RevokedEvent): void;
    },
  ) {}

  start(): void {
    this.later(() => this.probe(), 0);
    const every = setInterval(() => this.probe(), this.o.everyMs);
    this.timers.add(every);
  }

  /** No probe begins or revokes after this (publishing has stopped); those revoked are still asked. */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves once every node has refused every revoked token, or `ms` have passed. */
  async settle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.waiting.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  close(): void {
    this.stopped = this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.aborts.abort();
  }

  private later(fn: () => void, ms: number): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private rest(e: Endpoint) {
    return new Ably.Rest({ key: this.o.key, endpoint: e.host, port: e.port, tls: false, useBinaryProtocol: false, logLevel: 0, httpRequestTimeout: REQUEST_TIMEOUT_MS } as never);
  }

  private probe(): void {
    if (this.stopped) return;
    const regions = [...this.o.regions.keys()];
    const n = this.count++;
    const from = regions[n % regions.length]!;
    const through = regions[(n + 1) % regions.length]!;
    const clientId = `probe-${n}`;
    void (async () => {
      let token: string;
      try {
        token = (await this.rest(this.o.regions.get(from)!).auth.requestToken({ clientId, ttl: 10 * 60_000 })).token;
      } catch {
        return; // that region is cut off or down: no probe this time
      }
      this.later(() => void this.revoke(through, clientId, token), this.o.gapMs ?? DEFAULT_GAP_MS);
    })();
  }

  private async revoke(through: string, clientId: string, token: string): Promise<void> {
    if (this.stopped) return;
    try {
      await this.rest(this.o.regions.get(through)!).auth.revokeTokens([{ type: 'clientId', value: clientId }]);
    } catch {
      return; // not known to have been made: nothing is checked
    }
    if (this.closed) return;
    this.o.record({ type: 'revocation', t: Date.now(), region: through, clientId, nodes: this.o.nodes.map((n) => n.name) });
    this.waiting.set(clientId, new Set(this.o.nodes.map((n) => n.name)));
    for (const node of this.o.nodes) this.ask(node, clientId, token);
  }

  /** Asks `node` to serve a request with the revoked token until it refuses it as revoked. */
  private ask(node: Node, clientId: string, token: string): void {
    if (this.closed) return;
    void fetch(`http://${node.host}:${node.port}/channels/revocation-probe/messages?limit=1`, {
      headers: { authorization: `Bearer ${Buffer.from(token).toString('base64')}` },
      signal: AbortSignal.any([this.aborts.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    })
      .then(async (res) => {
        // The body is read either way, so that the connection is let go.
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        return !res.ok && /token was revoked/.test(body?.error?.message ?? '');
      })
      .catch(() => false)
      .then((refused) => {
        if (this.closed) return;
        if (!refused) return this.later(() => this.ask(node, clientId, token), POLL_MS);
        this.o.record({ type: 'revoked', t: Date.now(), region: node.region, node: node.name, clientId });
        const left = this.waiting.get(clientId);
        left?.delete(node.name);
        if (left?.size === 0) this.waiting.delete(clientId);
      });
  }
}
