/**
 * Bad input never takes a node down and never costs other clients anything: each gets
 * the Ably error code and status Ably uses.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action, Flag, PresenceAction } from '../../src/protocol/actions.js';
import { packMsgpack } from '../../src/protocol/codec.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { RawClient } from '../helpers/raw.js';
import { closeAll, realtime } from '../helpers/sdk.js';
import { KEY, PUB_ONLY_KEY, SUB_KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
let port: number;
let base: string;
const basic = (key: string) => `Basic ${Buffer.from(key).toString('base64')}`;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }], limits: { maxMessageSize: 1024, maxFrameSize: 8192 } });
  port = d.port('r1-n1');
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await d?.stop();
});

/** A bystander that must keep working through everything below. */
async function bystanderStillWorks(): Promise<void> {
  const a = realtime(port);
  const b = realtime(port);
  try {
    const got: string[] = [];
    await b.channels.get('bystander').subscribe((m) => void got.push(m.data as string));
    await a.channels.get('bystander').publish('x', 'ok');
    await waitFor(() => got.includes('ok'), { what: 'bystander delivery' });
  } finally {
    closeAll(a, b);
  }
}

/**
 * Writes `request` (raw bytes) and resolves with what came back by the time the socket
 * closed or 2 s passed; without `then`, as soon as a response head has come. With `then`,
 * writes those bytes too once a head has come (a frame after a WebSocket's 101).
 */
function rawRequest(port: number, request: string | Buffer, then?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    let sent = false;
    const s = connect(port, '127.0.0.1', () => s.write(request));
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 2000);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      if (!then) done();
      else if (!sent) {
        sent = true;
        s.write(then);
      }
    });
    s.on('close', done);
    s.on('error', then ? done : reject);
  });
}

/** A WebSocket upgrade to `path` by hand, then `frame` (raw bytes): in the same write as the request (`together`), or once the 101 is read. */
function upgradeThenFrame(port: number, path: string, frame: Buffer, together: boolean): Promise<string> {
  const request = Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  return together ? rawRequest(port, Buffer.concat([request, frame]), Buffer.alloc(0)) : rawRequest(port, request, frame);
}

function expectError(m: { action: number; error?: { code: number; statusCode: number } }, action: number, code: number, status: number) {
  expect(m.action).toBe(action);
  expect(m.error?.code).toBe(code);
  expect(m.error?.statusCode).toBe(status);
}

describe('realtime bad input', () => {
  it('answers a wrong key with ERROR 40101 and closes', async () => {
    const c = await RawClient.connect(port, { key: 'app.root:wrong-secret' });
    expectError(await c.next((m) => m.action === Action.ERROR), Action.ERROR, 40101, 401);
    await c.waitClosed();
  });

  it('answers an unknown key name with 40101 and a missing key with 40100', async () => {
    const c1 = await RawClient.connect(port, { key: 'app.nokey:whatever' });
    expectError(await c1.next((m) => m.action === Action.ERROR), Action.ERROR, 40101, 401);
    const c2 = await RawClient.connect(port, { key: '' });
    expectError(await c2.next((m) => m.action === Action.ERROR), Action.ERROR, 40100, 401);
  });

  it('refuses an attach the capability does not allow with a channel ERROR 40160', async () => {
    const c = await RawClient.connect(port, { key: PUB_ONLY_KEY });
    await c.next((m) => m.action === Action.CONNECTED);
    c.send({ action: Action.ATTACH, channel: 'secret' });
    const e = await c.next((m) => m.action === Action.ERROR);
    expectError(e, Action.ERROR, 40160, 401);
    expect(e.channel).toBe('secret');
    // The connection itself is fine: an allowed attach works afterwards.
    c.send({ action: Action.ATTACH, channel: 'open' });
    const ok = await c.next((m) => m.action === Action.ATTACHED && m.channel === 'open');
    expect(ok.flags! & (1 << 17)).not.toBe(0); // PUBLISH granted
    c.close();
  });

  it('NACKs a publish the capability does not allow with 40160', async () => {
    const c = await RawClient.connect(port, { key: SUB_KEY });
    await c.next((m) => m.action === Action.CONNECTED);
    c.send({ action: Action.MESSAGE, channel: 'ro', msgSerial: 0, messages: [{ name: 'x', data: 'y' }] });
    const n = await c.next((m) => m.action === Action.NACK);
    expect(n.msgSerial).toBe(0);
    expect(n.count).toBe(1);
    expectError(n, Action.NACK, 40160, 401);
    c.close();
  });

  it('NACKs a message over maxMessageSize with 40009, and ACKs the next one in order', async () => {
    const c = await RawClient.connect(port);
    await c.next((m) => m.action === Action.CONNECTED);
    c.send({ action: Action.MESSAGE, channel: 'big', msgSerial: 0, messages: [{ data: 'x'.repeat(2000) }] });
    c.send({ action: Action.MESSAGE, channel: 'big', msgSerial: 1, messages: [{ data: 'small' }] });
    const n = await c.next((m) => m.action === Action.NACK);
    expectError(n, Action.NACK, 40009, 413);
    expect(n.msgSerial).toBe(0);
    const a = await c.next((m) => m.action === Action.ACK);
    expect(a.msgSerial).toBe(1);
    expect(a.count).toBe(1);
    c.close();
  });

  it('fails a connection that sends a frame over maxFrameSize with 40009', async () => {
    const c = await RawClient.connect(port);
    await c.next((m) => m.action === Action.CONNECTED);
    c.sendRaw(JSON.stringify({ action: Action.MESSAGE, channel: 'f', msgSerial: 0, messages: [{ data: 'x'.repeat(9000) }] }));
    expectError(await c.next((m) => m.action === Action.ERROR), Action.ERROR, 40009, 413);
    await c.waitClosed();
  });

  it('fails a connection that sends malformed JSON, malformed msgpack or an unknown action with 40000', async () => {
    const j = await RawClient.connect(port);
    await j.next((m) => m.action === Action.CONNECTED);
    j.sendRaw('{"action": 15, "channel":');
    expectError(await j.next((m) => m.action === Action.ERROR), Action.ERROR, 40000, 400);
    await j.waitClosed();

    const mp = await RawClient.connect(port, {}, 'msgpack');
    await mp.next((m) => m.action === Action.CONNECTED);
    mp.sendRaw(Buffer.from([0xc1, 0xff, 0x00]), true);
    expectError(await mp.next((m) => m.action === Action.ERROR), Action.ERROR, 40000, 400);
    await mp.waitClosed();

    const notMap = await RawClient.connect(port, {}, 'msgpack');
    await notMap.next((m) => m.action === Action.CONNECTED);
    notMap.sendRaw(packMsgpack([1, 2, 3]), true);
    expectError(await notMap.next((m) => m.action === Action.ERROR), Action.ERROR, 40000, 400);

    const u = await RawClient.connect(port);
    await u.next((m) => m.action === Action.CONNECTED);
    u.send({ action: 99 });
    expectError(await u.next((m) => m.action === Action.ERROR), Action.ERROR, 40000, 400);
    await u.waitClosed();
  });

  // A client frame must be masked: `ws` reports this one as an 'error' event on the
  // socket, which stopped the node while no listener was on it yet (a refused socket, or
  // one whose resume was being looked up).
  it('stays up when a bad WebSocket frame comes while its connection is refused or its resume is looked up', async () => {
    const unmasked = Buffer.from([0x81, 0x01, 0x41]);
    const refused = await upgradeThenFrame(port, '/?key=nosuch.key:wrong&v=6', unmasked, false);
    expect(refused.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(refused).toContain('40101');
    const live = await RawClient.connect(port);
    const connected = await live.next((m) => m.action === Action.CONNECTED);
    const resumeKey = encodeURIComponent(connected.connectionDetails!.connectionKey!);
    const resumed = await upgradeThenFrame(port, `/?key=${encodeURIComponent(KEY)}&v=6&resume=${resumeKey}`, unmasked, true);
    expect(resumed.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    live.close();
    expect((await fetch(`${base}/time`)).status).toBe(200);
    await bystanderStillWorks();
  });

  it('rejects empty, too long and ill-formed channel names with 40010', async () => {
    const c = await RawClient.connect(port);
    await c.next((m) => m.action === Action.CONNECTED);
    for (const channel of ['', 'x'.repeat(3000), ':starts-with-colon', 'new\nline']) {
      c.send({ action: Action.ATTACH, channel });
      const e = await c.next((m) => m.action === Action.ERROR && m.channel === channel);
      expectError(e, Action.ERROR, 40010, 400);
    }
    c.send({ action: Action.MESSAGE, channel: '', msgSerial: 0, messages: [{ data: 'x' }] });
    expectError(await c.next((m) => m.action === Action.NACK), Action.NACK, 40010, 400);
    c.close();
  });

  it('rejects a message clientId that is not the connection\'s with 40012', async () => {
    const c = await RawClient.connect(port, { clientId: 'bob' });
    const connectedMsg = await c.next((m) => m.action === Action.CONNECTED);
    expect(connectedMsg.connectionDetails?.clientId).toBe('bob');
    c.send({ action: Action.MESSAGE, channel: 'cid', msgSerial: 0, messages: [{ clientId: 'mallory', data: 'x' }] });
    expectError(await c.next((m) => m.action === Action.NACK), Action.NACK, 40012, 400);
    c.close();
  });

  it('applies presence operations sent without a msgSerial, each under an id of its own', async () => {
    // No Ably SDK sends one without; they used to be named by the time (ms): those of one
    // ms (or of a clock stepped back) shared an id, and all but the first were dropped as repeats.
    const c = await RawClient.connect(port, { clientId: 'carol' });
    await c.next((m) => m.action === Action.CONNECTED);
    c.send({ action: Action.ATTACH, channel: 'no-serial', flags: Flag.PRESENCE | Flag.PRESENCE_SUBSCRIBE });
    await c.next((m) => m.action === Action.ATTACHED && m.channel === 'no-serial');
    c.send({ action: Action.PRESENCE, channel: 'no-serial', presence: [{ action: PresenceAction.ENTER, data: 'v0' }] });
    for (let i = 1; i <= 5; i++) c.send({ action: Action.PRESENCE, channel: 'no-serial', presence: [{ action: PresenceAction.UPDATE, data: `v${i}` }] });
    await waitFor(
      async () => {
        const r = await fetch(`${base}/channels/no-serial/presence`, { headers: { authorization: basic(KEY) } });
        return ((await r.json()) as { data: string }[])[0]?.data === 'v5';
      },
      { what: 'the last update applied' },
    );
    c.close();
  });

  it('keeps serving everyone else', async () => {
    await bystanderStillWorks();
    const h = await d.health('r1-n1');
    expect(h.quorum).toBe(true);
  });
});

describe('REST bad input', () => {
  async function expectRestError(res: Response, status: number, code: number) {
    expect(res.status).toBe(status);
    expect(res.headers.get('x-ably-errorcode')).toBe(String(code));
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { error: { code: number; statusCode: number; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.statusCode).toBe(status);
    expect(body.error.message.length).toBeGreaterThan(0);
  }

  it('answers wrong and missing credentials with 401 40101 / 40100', async () => {
    await expectRestError(await fetch(`${base}/channels/x/messages`, { headers: { authorization: basic('app.root:nope') } }), 401, 40101);
    await expectRestError(await fetch(`${base}/channels/x/messages`), 401, 40100);
  });

  it('refuses history and publish without the capability (401 40160)', async () => {
    await expectRestError(
      await fetch(`${base}/channels/secret/messages`, { headers: { authorization: basic(PUB_ONLY_KEY) } }),
      401,
      40160,
    );
    await expectRestError(
      await fetch(`${base}/channels/ro/messages`, {
        method: 'POST',
        headers: { authorization: basic(SUB_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ data: 'x' }),
      }),
      401,
      40160,
    );
  });

  it('rejects a malformed body (40001), a body of the wrong type (40000) and an oversized message (413 40009)', async () => {
    const post = (body: string) =>
      fetch(`${base}/channels/x/messages`, {
        method: 'POST',
        headers: { authorization: basic(KEY), 'content-type': 'application/json' },
        body,
      });
    await expectRestError(await post('{"data": '), 400, 40001);
    await expectRestError(await post('42'), 400, 40000);
    await expectRestError(await post('[{"data": 5, "name": 7}]'), 400, 40000);
    await expectRestError(await post(JSON.stringify({ data: 'x'.repeat(2000) })), 413, 40009);
  });

  it('refuses extras nested too deep (40030), over REST and realtime, with a msgpack subscriber on the channel', async () => {
    // 1,300 levels overflowed msgpack's encoder, and the node delivering them died.
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const sub = realtime(port);
    try {
      await sub.channels.get('deep').subscribe(() => undefined);
      const post = (extras: string) =>
        fetch(`${base}/channels/deep/messages`, {
          method: 'POST',
          headers: { authorization: basic(KEY), 'content-type': 'application/json' },
          body: `{"name":"x","data":"x","extras":{"x":${extras}}}`,
        });
      await expectRestError(await post(deep(1300)), 400, 40030);
      await expectRestError(await post(deep(40)), 400, 40030);
      expect((await post(deep(8))).status).toBe(201);
      const c = await RawClient.connect(port);
      c.sendRaw(`{"action":15,"channel":"deep","msgSerial":0,"messages":[{"data":"x","extras":${deep(40)}}]}`);
      const nack = await c.next((m) => m.action === Action.NACK);
      expect(nack.error?.code).toBe(40030);
      c.close();
    } finally {
      closeAll(sub);
    }
    await bystanderStillWorks();
  });

  it('refuses a batch publish naming more than 1,000 channels in all its specs with 90010, and publishes nothing of it', async () => {
    const spec = (i: number) => ({ channels: Array.from({ length: 100 }, (_, j) => `bulk-${i}-${j}`), messages: { data: 'x' } });
    const post = (specs: unknown[]) =>
      fetch(`${base}/messages`, { method: 'POST', headers: { authorization: basic(KEY), 'content-type': 'application/json' }, body: JSON.stringify(specs) });
    await expectRestError(await post(Array.from({ length: 11 }, (_, i) => spec(i))), 400, 90010);
    const history = await fetch(`${base}/channels/bulk-0-0/messages`, { headers: { authorization: basic(KEY) } });
    expect(await history.json()).toEqual([]);
    const ok = await post([spec(20), { channels: 'bulk-one', messages: { data: 'y' } }]);
    expect(ok.status).toBe(201);
    // Nor more than 100,000 messages in all (each spec's messages on each of its channels).
    const many = { channels: Array.from({ length: 100 }, (_, j) => `bulk-m-${j}`), messages: Array.from({ length: 1000 }, () => ({})) };
    await expectRestError(await post([many, many]), 400, 40000);
  });

  it('answers a body over 2 MiB sent without a length (chunked) with 413 40009, not a reset', async () => {
    const res = await new Promise<{ status: number; code: string | undefined }>((resolve, reject) => {
      const req = httpRequest(`${base}/channels/huge/messages`, { method: 'POST', headers: { authorization: basic(KEY), 'content-type': 'application/json' } }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, code: r.headers['x-ably-errorcode'] as string | undefined });
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 'x');
      for (let i = 0; i < 10; i++) req.write(chunk);
      req.end();
    });
    expect(res).toEqual({ status: 413, code: '40009' });
  });

  it('rejects bad history params with 40003 and unknown paths with 404 40400', async () => {
    const get = (q: string) => fetch(`${base}/channels/x/messages?${q}`, { headers: { authorization: basic(KEY) } });
    await expectRestError(await get('limit=5000'), 400, 40003);
    await expectRestError(await get('direction=sideways'), 400, 40003);
    await expectRestError(await fetch(`${base}/no/such/thing`, { headers: { authorization: basic(KEY) } }), 404, 40400);
  });

  it('answers a request target that is not a URL path with 400, over REST and on the WebSocket upgrade, and stays up', async () => {
    // Node's HTTP parser lets these through; `new URL` throws on them (the node died of it before).
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
    for (const target of ['//[', '//a%20b:99999/x', '//x:99999']) {
      for (const headers of ['', upgrade]) {
        const head = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
        expect(head.split('\r\n')[0], `${target} ${headers ? 'upgrade' : 'REST'}`).toBe('HTTP/1.1 400 Bad Request');
        if (!headers) expect(head).toContain('x-ably-errorcode: 40000');
      }
    }
    const res = await fetch(`${base}/time`);
    expect(res.status).toBe(200);
  });

  // Half an emoji (a lone surrogate) in an error's text: JSON.parse's message quotes it,
  // and encodeURIComponent threw on it while the error header was made, which stopped the
  // node. This route is open: no credentials needed.
  it('answers a body whose error quotes half an emoji with 400, and stays up', async () => {
    for (const body of ['😀', '[😀', '{"a":😀']) {
      const res = await fetch(`${base}/keys/nosuch.key/requestToken`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status, body).toBe(400);
      expect(res.headers.get('x-ably-errormessage'), body).toBeTruthy();
    }
    expect((await fetch(`${base}/time`)).status).toBe(200);
  });

  it('answers GET /time without credentials', async () => {
    const res = await fetch(`${base}/time`);
    const [t] = (await res.json()) as [number];
    expect(Math.abs(t - Date.now())).toBeLessThan(5000);
  });

  it('keeps serving everyone else', async () => {
    await bystanderStillWorks();
  });
});
