/**
 * Revocation probes for the chaos workload (scenario `workload.revokeEveryS`; README
 * "Token revocation"). Every so often a probe takes a token for a clientId of its own
 * (`probe-N`) in one region, waits GAP_MS (longer than the regions' clocks may be apart
 * in a run, so that every region takes the token for one issued before the revocation),
 * revokes that clientId's tokens through the next region, and then asks every region,
 * four times a second, to serve a REST request with the token until it refuses it as
 * revoked. Each revocation and each region's first refusal are recorded (`revocation`,
 * `revoked` lines) for the checker (revocation-check.ts): every region must refuse every
 * revocation's token by the end of the run, faults or not.
 */
import Ably from 'ably';
import type { RevocationEvent, RevokedEvent } from './record.js';

/** From a probe's token to its revocation (ms): more than the regions' clocks are apart in a run. */
export const GAP_MS = 20_000;
/** How often each region is asked with a revoked token (ms). */
const POLL_MS = 250;
/** One request's time limit (ms). */
const REQUEST_TIMEOUT_MS = 3000;

type Endpoint = { host: string; port: number };

export class RevocationProbes {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Regions still to refuse each revocation's token: `clientId` → regions. */
  private readonly waiting = new Map<string, Set<string>>();
  private stopped = false;
  private closed = false;
  private count = 0;

  constructor(
    private readonly o: {
      /** A key with revocableTokens (`appId.keyId:secret`). */
      key: string;
      regions: Map<string, Endpoint>;
      everyMs: number;
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

  /** Resolves once every region has refused every revoked token, or `ms` have passed. */
  async settle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.waiting.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  close(): void {
    this.stopped = this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(fn: () => void, ms: number): void {
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
      this.later(() => void this.revoke(through, clientId, token, regions), GAP_MS);
    })();
  }

  private async revoke(through: string, clientId: string, token: string, regions: string[]): Promise<void> {
    if (this.stopped) return;
    try {
      await this.rest(this.o.regions.get(through)!).auth.revokeTokens([{ type: 'clientId', value: clientId }]);
    } catch {
      return; // not known to have been made: nothing is checked
    }
    if (this.closed) return;
    this.o.record({ type: 'revocation', t: Date.now(), region: through, clientId, regions });
    this.waiting.set(clientId, new Set(regions));
    for (const region of regions) this.ask(region, clientId, token);
  }

  /** Asks `region` to serve a request with the revoked token until it refuses it as revoked. */
  private ask(region: string, clientId: string, token: string): void {
    if (this.closed) return;
    const { host, port } = this.o.regions.get(region)!;
    void fetch(`http://${host}:${port}/channels/revocation-probe/messages?limit=1`, {
      headers: { authorization: `Bearer ${Buffer.from(token).toString('base64')}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
      .then(async (res) => !res.ok && /token was revoked/.test(((await res.json()) as { error?: { message?: string } }).error?.message ?? ''))
      .catch(() => false)
      .then((refused) => {
        if (this.closed) return;
        if (!refused) return this.later(() => this.ask(region, clientId, token), POLL_MS);
        this.o.record({ type: 'revoked', t: Date.now(), region, clientId });
        const left = this.waiting.get(clientId);
        left?.delete(region);
        if (left?.size === 0) this.waiting.delete(clientId);
      });
  }
}
