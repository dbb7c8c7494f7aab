/** Token revocation in tests: the app's server with the revocable key, clients on its tokens, and a REST probe of a token. */
import { Ably, common, type Realtime, type Rest } from './sdk.js';
import { REV_KEY } from './topology.js';

/** The app's server: holds the revocable key, issues tokens and revokes them (through `port`). */
export const revocableServer = (port: number): Rest => new Ably.Rest({ ...common, port, key: REV_KEY } as never);

/**
 * A realtime client on tokens of the revocable key for `clientId`, which its authCallback
 * gets from the app's server through `port` (or from `issue`: a JWT it signs, say);
 * records each token it was given and each state it went through (with the reason's code).
 */
export function tokenClient(port: number, clientId: string, issue?: () => string) {
  const issuer = revocableServer(port);
  const tokens: string[] = [];
  const states: { state: string; code?: number }[] = [];
  const client: Realtime = new Ably.Realtime({
    ...common,
    port,
    clientId,
    authCallback: (_params: unknown, done: (err: unknown, token: unknown) => void) => {
      if (issue) {
        const token = issue();
        tokens.push(token);
        return done(null, token);
      }
      issuer.auth.requestToken({ clientId }).then(
        (td) => {
          tokens.push(td.token);
          done(null, td);
        },
        (err) => done(err, null),
      );
    },
  } as never);
  client.connection.on((change) => states.push({ state: change.current, ...(change.reason?.code ? { code: change.reason.code } : {}) }));
  return { client, tokens, states };
}

/**
 * A REST read with `token` (Bearer) on `port`: 200, 'revoked' (REST answers a revoked
 * token 40101, as it does any 4014x, saying it was revoked: README "Known differences"), or
 * another Ably error's code.
 */
export async function readWith(port: number, token: string): Promise<200 | 'revoked' | number> {
  const res = await fetch(`http://127.0.0.1:${port}/channels/revocation-probe/messages`, {
    headers: { authorization: `Bearer ${Buffer.from(token).toString('base64')}` },
  });
  if (res.ok) return 200;
  const { error } = (await res.json()) as { error: { code: number; message: string } };
  return error.code === 40101 && /token was revoked/.test(error.message) ? 'revoked' : error.code;
}

/**
 * A check for waitFor: `token` on `port` answered `want` (readWith); otherwise it throws
 * what it was answered, so a wait that times out says it.
 */
export function answering(port: number, token: string, want: 200 | 'revoked' | number): () => Promise<true> {
  return async () => {
    const got = await readWith(port, token);
    if (got !== want) throw new Error(`answered ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
    return true;
  };
}
