/**
 * A connection's watch on its token (src/gateway/token-watch.ts): a revocation that applies
 * later asks the client to renew first, and ends the connection (40141) when it applies
 * unless the client has renewed by then; one that applies now ends it at once.
 */
import { describe, expect, it } from 'vitest';
import type { Credentials } from '../../../src/auth/keys.js';
import type { RevocableToken } from '../../../src/auth/revocations.js';
import type { AblyError } from '../../../src/errors.js';
import { TokenWatch } from '../../../src/gateway/token-watch.js';
import { waitFor } from '../../helpers/wait.js';

function watched(revokedAt: (t: RevocableToken) => number | null) {
  let credentials = {
    appId: 'app',
    keyName: 'app.rev',
    clientId: 'bob',
    via: 'token',
    expiresAt: Date.now() + 60_000,
    revocable: { keyName: 'app.rev', issuedAt: 1, clientId: 'bob', revocationKey: null, resources: ['*'] },
  } as unknown as Credentials;
  const ended: AblyError[] = [];
  let asked = 0;
  const watch = new TokenWatch({
    auth: { now: () => Date.now(), revokedAt } as never,
    credentials: () => credentials,
    end: (e) => ended.push(e),
    askReauth: () => asked++,
  });
  return {
    watch,
    ended,
    asked: () => asked,
    renew: (issuedAt: number) => (credentials = { ...credentials, revocable: { ...credentials.revocable!, issuedAt } }),
    jwt: () => (credentials = { ...credentials, revocable: { ...credentials.revocable!, jwt: true } }),
  };
}

describe("a connection's token watch", () => {
  it('asks the client to renew once, and ends the connection with 40141 when the revocation applies', async () => {
    const at = Date.now() + 1100;
    const w = watched(() => at);
    w.watch.revocationsChanged(new Set(['app.rev'])); // not started yet: nothing goes to the client
    expect(w.asked()).toBe(0);
    w.watch.arm();
    w.watch.revocationsChanged(new Set(['app.rev'])); // the node hears of more revocations meanwhile: asked once only
    expect(w.asked()).toBe(1);
    expect(w.ended).toEqual([]);
    // Revocations of another key: the token is not looked at again (it would be ended: its revocation applies now).
    let at2 = Date.now() + 60_000;
    const other = watched(() => at2);
    other.watch.arm();
    at2 = Date.now() - 1;
    other.watch.revocationsChanged(new Set(['app.other']));
    expect(other.ended).toEqual([]);
    other.watch.revocationsChanged(new Set(['app.rev']));
    expect(other.ended.map((e) => e.code)).toEqual([40141]);
    other.watch.stop();
    await waitFor(() => w.ended.length === 1, { what: 'the connection ended', timeoutMs: 5000 });
    expect(w.ended[0]!.code).toBe(40141);
    w.watch.stop();
  });

  it('leaves a connection that renewed in time alone, ends one whose revocation applies now at once, and asks none to renew for less than a second', async () => {
    const at = Date.now() + 1100;
    const w = watched((t) => (t.issuedAt < at ? at : null));
    w.watch.arm();
    expect(w.asked()).toBe(1);
    w.renew(at + 1); // its new token (in band), issued after the revocation's issuedBefore
    w.watch.arm();
    // Past the time the revocation applies, and a look at it then: still on.
    await waitFor(() => Date.now() > at + 30, { what: 'the revocation applying' });
    w.watch.revocationsChanged(new Set(['app.rev']));
    expect(w.ended).toEqual([]);
    const now = watched(() => Date.now() - 1);
    now.watch.arm();
    expect(now.ended.map((e) => e.code)).toEqual([40141]);
    expect(now.asked()).toBe(0);
    // A JWT's revocation, from the next second: no renewal asked, ended then.
    // A JWT holder is asked a second on (its new JWT's iat, whole seconds, then after issuedBefore).
    const jwt = watched(() => Date.now() + 5000);
    jwt.jwt();
    const armedAt = Date.now();
    jwt.watch.arm();
    expect(jwt.asked()).toBe(0);
    await waitFor(() => jwt.asked() === 1, { what: 'the JWT holder asked to renew' });
    expect(Date.now() - armedAt).toBeGreaterThanOrEqual(950);
    jwt.watch.stop();
    const soonAt = Date.now() + 300;
    const soon = watched(() => soonAt);
    soon.watch.arm();
    expect(soon.asked()).toBe(0);
    await waitFor(() => soon.ended.length === 1, { what: 'the connection ended' });
    expect(soon.ended.map((e) => e.code)).toEqual([40141]);
    expect(soon.asked()).toBe(0); // less than a second off: ended then, not asked
    w.watch.stop();
  });
});
