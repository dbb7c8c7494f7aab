/**
 * Token auth for the chaos workload (scenario `workload.tokenTtlS`): every client's SDK
 * gets its tokens through an authCallback that signs a TokenRequest with the key (no
 * request to the service for that), sends it to its region's `requestToken` and hands the
 * SDK the token. Tokens live `tokenTtlS`, so the SDK renews them through the run (the
 * service ends a connection whose token expires with 40142, and the SDK resumes it with a
 * new one), faults or not. Each request, once issued, is sent again at once (a replay,
 * which must be refused with 40105: the region's nonces, src/auth/nonces.ts). Both are
 * recorded (`token` lines) for the checker (token-check.ts).
 */
import Ably from 'ably';
import type { RecordError, TokenEvent } from './record.js';

/** How long one requestToken may take before it counts as failed (ms). */
const REQUEST_TIMEOUT_MS = 5000;

type Outcome = { outcome: 'issued'; token: unknown } | { outcome: 'refused' | 'failed'; error: RecordError; statusCode: number };

export class WorkloadTokens {
  /** Signs TokenRequests locally with the key (createTokenRequest asks the service nothing unless queryTime). */
  private readonly signer: InstanceType<typeof Ably.Rest>;
  private closed = false;

  constructor(
    private readonly o: {
      key: string;
      ttlMs: number;
      endpoint(region: string): { host: string; port: number };
      record(e: TokenEvent): void;
    },
  ) {
    this.signer = new Ably.Rest({ key: o.key, logLevel: 0 } as never);
  }

  /** The authCallback for client `client` in `region` (under `clientId`, if it has one). */
  authCallback(client: string, region: string, clientId?: string): (params: unknown, done: (err: unknown, token: unknown) => void) => void {
    return (_params, done) => {
      this.token(client, region, clientId).then(
        (token) => done(null, token),
        (err) => done(err, null),
      );
    };
  }

  /** Stops recording (the record is about to close): an answer still on its way is left out. */
  close(): void {
    this.closed = true;
  }

  private async token(client: string, region: string, clientId: string | undefined): Promise<unknown> {
    const request = await this.signer.auth.createTokenRequest({ ttl: this.o.ttlMs, ...(clientId ? { clientId } : {}) });
    const first = await this.requestToken(region, request);
    this.record(client, region, 'request', first);
    if (first.outcome !== 'issued') throw { ...first.error, statusCode: first.statusCode };
    void this.requestToken(region, request).then((r) => this.record(client, region, 'replay', r));
    return first.token;
  }

  private async requestToken(region: string, request: { keyName: string }): Promise<Outcome> {
    const { host, port } = this.o.endpoint(region);
    try {
      const res = await fetch(`http://${host}:${port}/keys/${encodeURIComponent(request.keyName)}/requestToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const body = (await res.json()) as { error?: { code?: number; message?: string } };
      if (res.ok) return { outcome: 'issued', token: body };
      return { outcome: 'refused', error: { code: body.error?.code ?? 0, message: body.error?.message ?? `HTTP ${res.status}` }, statusCode: res.status };
    } catch (err) {
      // 500: the SDK goes on trying (a 403 would fail the connection for good, RSA4d).
      return { outcome: 'failed', error: { code: 0, message: (err as Error).message }, statusCode: 500 };
    }
  }

  private record(client: string, region: string, use: TokenEvent['use'], r: Outcome): void {
    if (this.closed) return;
    this.o.record({ type: 'token', t: Date.now(), region, client, use, outcome: r.outcome, ...(r.outcome === 'issued' ? {} : { error: r.error }) });
  }
}
