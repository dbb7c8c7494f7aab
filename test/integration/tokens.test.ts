/**
 * Token auth with the ably SDK: TokenRequests through authCallback, Ably JWTs, expiry
 * and renewal without losing the channel, in-band re-auth, and the refusals.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action } from '../../src/protocol/actions.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { signJwt } from '../helpers/jwt.js';
import { RawClient } from '../helpers/raw.js';
import { Ably, closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

let d: TestDeployment;
let port: number;
const common = { endpoint: '127.0.0.1', tls: false, disableConnectivityCheck: true, logLevel: 0 } as const;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }] });
  port = d.port('r1-n1');
});

afterAll(async () => {
  await d?.stop();
});


describe('token auth', () => {
  it('connects through authCallback with a TokenRequest; the token\'s clientId and capability apply', async () => {
    const server = rest(port); // the app's own server, holding the key
    let calls = 0;
    const client = new Ably.Realtime({
      ...common,
      port,
      authCallback: (_params: unknown, cb: (e: unknown, t: unknown) => void) => {
        calls++;
        server.auth
          .createTokenRequest({ clientId: 'tok-user', capability: { 'tok:*': ['publish', 'subscribe', 'presence'] } })
          .then((tr) => cb(null, tr), (err) => cb(err, null));
      },
    } as any);
    try {
      await connected(client);
      expect(calls).toBe(1);
      expect(client.auth.clientId).toBe('tok-user');
      const got: string[] = [];
      await client.channels.get('tok:a').subscribe((m) => void got.push(m.data as string));
      await client.channels.get('tok:a').publish('x', 'ok');
      await waitFor(() => got.includes('ok'));
      await client.channels.get('tok:a').presence.enter();
      // Outside the token's capability (the key would allow it): refused.
      const denied = client.channels.get('elsewhere');
      const err = await denied.attach().then(() => null, (e: { code: number }) => e);
      expect(err?.code).toBe(40160);
    } finally {
      closeAll(client);
    }
  });

  it('accepts an Ably JWT on realtime and REST', async () => {
    const token = signJwt({ 'x-ably-capability': JSON.stringify({ 'jwt:*': ['*'] }), 'x-ably-clientId': 'jwt-user' });
    const client = new Ably.Realtime({ ...common, port, authCallback: (_p: unknown, cb: (e: null, t: string) => void) => cb(null, token) } as any);
    const r = new Ably.Rest({ ...common, port, authCallback: (_p: unknown, cb: (e: null, t: string) => void) => cb(null, token) } as any);
    try {
      await connected(client);
      expect(client.auth.clientId).toBe('jwt-user');
      const got: unknown[] = [];
      await client.channels.get('jwt:x').subscribe((m) => void got.push(m.clientId));
      await r.channels.get('jwt:x').publish('n', 'from-rest');
      await waitFor(() => got.length === 1);
      expect(got).toEqual(['jwt-user']);
      const err = await r.channels.get('other').publish('n', 'x').then(() => null, (e: { code: number }) => e);
      expect(err?.code).toBe(40160);
    } finally {
      closeAll(client);
    }
  });

  it('ends a connection whose token expires with 40142; the SDK renews it and the channel goes on without loss', async () => {
    const server = rest(port);
    let calls = 0;
    const sub = new Ably.Realtime({
      ...common,
      port,
      authCallback: (_params: unknown, cb: (e: unknown, t: unknown) => void) => {
        calls++;
        server.auth.createTokenRequest({ ttl: 1500 }).then((tr) => cb(null, tr), (e) => cb(e, null));
      },
    } as any);
    const pubClient = realtime(d.port('r1-n2'));
    try {
      await connected(sub);
      const id = sub.connection.id;
      const reasons: number[] = [];
      sub.connection.on('disconnected', (sc) => void reasons.push(sc.reason?.code ?? 0));
      const rec = new Recorder();
      await sub.channels.get('renew').subscribe(rec.handler);
      await connected(pubClient);
      const pub = new SteadyPublisher('T', pubClient, 'renew', 20);
      pub.start();
      await waitFor(() => calls >= 3, { what: 'two renewals', timeoutMs: 15_000 });
      await pub.stop();
      expect(reasons).toContain(40142);
      expect(sub.connection.id).toBe(id);
      await waitFor(() => rec.check(pub).length === 0, { timeoutMs: 10_000 }).catch(() => undefined);
      expect(rec.check(pub)).toEqual([]);
    } finally {
      closeAll(sub, pubClient);
    }
  });

  it('re-authenticates in band (AUTH) without dropping the connection', async () => {
    const server = rest(port);
    let calls = 0;
    const client = new Ably.Realtime({
      ...common,
      port,
      authCallback: (_params: unknown, cb: (e: unknown, t: unknown) => void) => {
        calls++;
        server.auth.createTokenRequest({ clientId: 'same' }).then((tr) => cb(null, tr), (e) => cb(e, null));
      },
    } as any);
    try {
      await connected(client);
      const id = client.connection.id;
      const details = await client.auth.authorize();
      expect(details.token).toBeTruthy();
      expect(calls).toBe(2);
      expect(client.connection.state).toBe('connected');
      expect(client.connection.id).toBe(id);
    } finally {
      closeAll(client);
    }
  });

  it('refuses bad TokenRequests: wrong mac 40101, old timestamp 40104, replayed nonce 40105, capability beyond the key 40160', async () => {
    const server = rest(port);
    const url = `http://127.0.0.1:${port}/keys/app.root/requestToken`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const tr = (await server.auth.createTokenRequest({})) as any;
    expect((await post({ ...tr, mac: 'bm90IGl0' })).status).toBe(401);
    expect(((await (await post({ ...tr, mac: 'bm90IGl0' })).json()) as any).error.code).toBe(40101);
    const old = (await server.auth.createTokenRequest({}, { queryTime: false, key: 'app.root:rootsecret' } as any)) as any;
    const stale = { ...old, timestamp: Date.now() - 10 * 60_000 };
    const macOf = (t: any) =>
      createHmac('sha256', 'rootsecret').update(`${t.keyName}\n${t.ttl ?? ''}\n${t.capability ?? ''}\n${t.clientId ?? ''}\n${t.timestamp}\n${t.nonce}\n`).digest('base64');
    stale.mac = macOf(stale);
    expect(((await (await post(stale)).json()) as any).error.code).toBe(40104);
    const fresh = (await server.auth.createTokenRequest({})) as any;
    expect((await post(fresh)).status).toBe(200);
    expect(((await (await post(fresh)).json()) as any).error.code).toBe(40105);
    // Replayed to the region's other node: one node keeps each nonce, and both ask it
    // (before the forty-second session each node kept its own, and this was taken).
    const other = `http://127.0.0.1:${d.port('r1-n2')}/keys/app.root/requestToken`;
    for (let i = 0; i < 4; i++) {
      const tr = (await server.auth.createTokenRequest({})) as any;
      const body = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tr) };
      expect((await fetch(url, body)).status).toBe(200);
      const again = await fetch(other, body);
      expect(again.status).toBe(401);
      expect(((await again.json()) as any).error.code).toBe(40105);
    }
    const sub = new Ably.Rest({ ...common, port, key: 'app.sub:subsecret1' } as any);
    const beyond = (await sub.auth.createTokenRequest({ capability: { '*': ['publish'] } })) as any;
    const res = await fetch(`http://127.0.0.1:${port}/keys/app.sub/requestToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(beyond),
    });
    expect(((await res.json()) as any).error.code).toBe(40160);
  });

  it('refuses a connection whose clientId does not match its token (40102) and an expired token (40142)', async () => {
    const token = signJwt({ 'x-ably-clientId': 'alice' });
    const c = await RawClient.connect(port, { key: '', access_token: token, clientId: 'mallory' });
    const e = await c.next((m) => m.action === Action.ERROR);
    expect(e.error?.code).toBe(40102);
    const expired = signJwt({ exp: Math.floor(Date.now() / 1000) - 10 });
    const c2 = await RawClient.connect(port, { key: '', access_token: expired });
    expect((await c2.next((m) => m.action === Action.ERROR)).error?.code).toBe(40142);
  });
});
