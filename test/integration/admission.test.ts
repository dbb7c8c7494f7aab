/**
 * How many clients a node takes (src/gateway/admission.ts). A node out of file descriptors
 * was stuck, not stopped: 400 sockets at a node limited to 300 descriptors, and it took no
 * health check or REST request, and failed every read of /proc (fifty-seventh session).
 * Now a node turns WebSocket connections away (DISCONNECTED, 50004) past
 * `limits.maxConnectionsPerNode`, or past what its open-file limit allows less a reserve
 * for its own links and REST, and it goes on serving those it holds. Real node processes,
 * the real SDK, raw sockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { descriptorsKept, REST_FD_SHARE } from '../../src/gateway/admission.js';
import { pidAlive } from '../../src/cli/chaos.js';
import { Action } from '../../src/protocol/actions.js';
import { decodeFrame } from '../../src/protocol/codec.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, rest, turnedAway, type Realtime } from '../helpers/sdk.js';
import { removeTempDir } from '../helpers/tmp.js';
import { KEY, makeTopology } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** What a raw WebSocket is answered: CONNECTED, DISCONNECTED (with its error's code), or nothing (the socket closed or failed first). */
function openRaw(port: number, params = ''): Promise<{ ws: WebSocket; got: 'connected' | 'disconnected' | 'dropped'; code?: number; connectionId?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/?key=${encodeURIComponent(KEY)}&format=json&v=6${params}`);
    const done = (got: 'connected' | 'disconnected' | 'dropped', code?: number, connectionId?: string) =>
      resolve({ ws, got, ...(code !== undefined ? { code } : {}), ...(connectionId ? { connectionId } : {}) });
    ws.on('message', (data: Buffer) => {
      const pm = decodeFrame(data.toString('utf8'), 'json');
      if (pm.action === Action.CONNECTED) done('connected', undefined, pm.connectionId);
      else if (pm.action === Action.DISCONNECTED) done('disconnected', pm.error?.code);
    });
    ws.on('error', () => done('dropped'));
    ws.on('close', () => done('dropped'));
  });
}

/** A WebSocket upgrade request for `target` (a path and query), as a bare socket sends it. */
function upgradeRequest(target: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/**
 * A WebSocket handshake on a bare socket that then says nothing (no close frame back, and
 * its side kept open after the server's end): how long until the server has let the
 * socket go (a byte written then fails: a socket held half open would take it), and what it sent.
 */
async function silentHandshake(port: number, query: string, path = '/'): Promise<{ bytes: string; closedInMs: number | null }> {
  const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let bytes = '';
  let gone = false;
  sock.on('data', (b) => (bytes += b.toString('latin1')));
  sock.on('error', () => (gone = true));
  sock.on('close', () => (gone = true));
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(upgradeRequest(`${path}?${query}`));
  const t0 = Date.now();
  const let_go = await waitFor(
    () => {
      if (!gone && !sock.destroyed && bytes) sock.write('\0'); // refused once the server's end is gone
      return gone;
    },
    { what: 'the server to let the socket go', timeoutMs: 5000, intervalMs: 100 },
  ).catch(() => false);
  sock.destroy();
  return { bytes, closedInMs: let_go ? Date.now() - t0 : null };
}

describe('a node at limits.maxConnectionsPerNode', () => {
  let d: TestDeployment;
  const CAP = 4;
  const clients: Realtime[] = [];
  beforeAll(async () => {
    d = await startDeployment({ limits: { maxConnectionsPerNode: CAP } });
  });
  afterAll(async () => {
    closeAll(...clients);
    await d?.stop();
  });

  it('turns the next connection away with 50004 until one closes, and serves those it holds and REST meanwhile', async () => {
    const port = d.port('r1-n1');
    const held = Array.from({ length: CAP }, () => realtime(port));
    clients.push(...held);
    await Promise.all(held.map(connected));
    const late = realtime(port, { disconnectedRetryTimeout: 300 });
    clients.push(late);
    const reason = await turnedAway(late);
    expect(reason).toMatchObject({ code: 50004, statusCode: 503 });
    expect(reason.message).toMatch(/holds 4 connections \(limits.maxConnectionsPerNode\)/);
    // The connections it holds publish and receive; REST is answered.
    const got: unknown[] = [];
    await held[1]!.channels.get('held').subscribe((m) => got.push(m.data));
    await held[0]!.channels.get('held').publish('x', 'realtime');
    await rest(port).channels.get('held').publish('x', 'rest');
    await waitFor(() => got.length === 2, { what: 'both publishes delivered' });
    const h = await d.health('r1-n1');
    expect(h.connections).toBe(CAP);
    expect(h.connectionCaps).toMatchObject({ connections: CAP, boundBy: 'limits.maxConnectionsPerNode' });
    expect(h.counters.connectionsRefused).toBeGreaterThanOrEqual(1);
    expect(late.connection.state).not.toBe('connected');
    // Room again: the SDK's retry is taken.
    closeAll(held[CAP - 1]);
    await waitFor(() => late.connection.state === 'connected', { what: 'the turned-away client connected on its retry', timeoutMs: 10_000 });
  });

  it('drops a socket it turned away or refused whose client does not close it (ws would hold it, and its descriptor, for 30 s)', async () => {
    // Still at the cap: CAP - 1 of the first clients and the late one.
    const port = d.port('r1-n1');
    const away = await silentHandshake(port, `key=${encodeURIComponent(KEY)}&format=json&v=6`);
    expect(away.closedInMs, away.bytes.slice(0, 300)).not.toBeNull();
    expect(away.bytes).toMatch(/^HTTP\/1.1 101/);
    expect(away.bytes).toContain('50004');
    const refused = await silentHandshake(port, 'key=app.root:wrong&format=json&v=6');
    expect(refused.closedInMs, refused.bytes.slice(0, 300)).not.toBeNull();
    expect(refused.bytes).toContain('"action":9'); // ERROR: the credentials
    // An upgrade refused before it is one (here a path that is not the realtime endpoint):
    // Node keeps such a socket half open, off its timeouts (the third review's finding).
    const nowhere = await silentHandshake(port, 'key=x', '/nope');
    expect(nowhere.closedInMs, nowhere.bytes.slice(0, 300)).not.toBeNull();
    expect(nowhere.bytes).toMatch(/^HTTP\/1.1 404/);
  });

  // A review's finding: the resume's own old socket, not yet known to be gone (45 s), kept it out.
  it('takes the resume of a connection it holds, at the cap', async () => {
    const port = d.port('r1-n1');
    const h = await d.health('r1-n1');
    expect(h.connections).toBe(CAP);
    const holder = clients.find((c) => c.connection.state === 'connected')!;
    const [id, key] = [holder.connection.id!, holder.connection.key!];
    const fresh = await openRaw(port);
    fresh.ws.terminate();
    expect(fresh).toMatchObject({ got: 'disconnected', code: 50004 });
    // Named with other credentials it is not a resume but a new connection (the next
    // review: ten such got in over a cap of two).
    for (let i = 0; i < 3; i++) {
      const other = await openRaw(port, `&clientId=bob${i}&resume=${encodeURIComponent(key)}`);
      other.ws.terminate();
      expect(other).toMatchObject({ got: 'disconnected', code: 50004 });
    }
    expect((await d.health('r1-n1')).connections).toBe(CAP);
    const resumed = await openRaw(port, `&resume=${encodeURIComponent(key)}`);
    resumed.ws.terminate();
    expect(resumed).toMatchObject({ got: 'connected', connectionId: id });
  });
});

/** A fresh-socket health check: its status, or why it failed. */
function healthOnce(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('timeout', function (this: { destroy(e: Error): void }) {
        this.destroy(new Error('timeout'));
      })
      .on('error', (e) => resolve(e.message));
  });
}

describe('a connection the node closes', () => {
  let d: TestDeployment;
  beforeAll(async () => {
    d = await startDeployment({ limits: { maxConnectionsPerNode: 1 } });
  });
  afterAll(async () => {
    await d?.stop();
  });

  // The third review's: ws waits 30 s for the close frame back, and the connection held its place meanwhile.
  it('gives its place back within a second or two though its client never answers the close', async () => {
    const port = d.port('r1-n1');
    const first = await openRaw(port);
    expect(first.got).toBe('connected');
    // A frame it cannot read ends the connection (ERROR, close); the client reads no more.
    first.ws.send('not json');
    (first.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const t0 = Date.now();
    try {
      await waitFor(
        async () => {
          const next = await openRaw(port);
          next.ws.terminate();
          return next.got === 'connected';
        },
        { what: 'room for another connection', timeoutMs: 8000 },
      );
      expect(Date.now() - t0).toBeLessThan(8000);
    } finally {
      first.ws.terminate();
    }
  });
});

describe('a node under a low open-file limit', () => {
  const FILES = 400;
  /** Client sockets a node of one takes at most under FILES descriptors (its socket cap). */
  const SOCKET_CAP = FILES - descriptorsKept(1) + REST_FD_SHARE;
  let child: ChildProcess | null = null;
  let dir: string | null = null;
  const sockets: WebSocket[] = [];
  const plain: Socket[] = [];

  /** A node of one started under `ulimit -n FILES`; its port, and what it printed. */
  async function startLimited(): Promise<{ port: number; out: () => string }> {
    const { file, dir: d, topology } = await makeTopology();
    dir = d;
    const node = topology.regions[0]!.nodes[0]!;
    child = spawn('sh', ['-c', `ulimit -n ${FILES} && exec "$0" "$@"`, process.execPath, cli, 'node', '--topology', file, '--region', 'r1', '--node', node.name], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => out.includes('"ready":true'), { what: 'the node ready', timeoutMs: 20_000 });
    return { port: node.port, out: () => out };
  }

  /** FILES more sockets, kept; resolves once the node has dropped one of them (it reached its socket cap, and closed its idle REST sockets). */
  async function flood(port: number): Promise<void> {
    const these: Socket[] = [];
    for (let i = 0; i < FILES; i++) {
      const sock = connect(port, '127.0.0.1');
      sock.on('error', () => {});
      these.push(sock);
    }
    plain.push(...these);
    await waitFor(() => these.some((x) => x.destroyed), { what: 'a socket past the cap dropped' });
  }

  /** FILES sockets that send nothing, kept; resolves once each is accepted or dropped, and those past the socket cap dropped. */
  async function fillToCap(port: number): Promise<Socket[]> {
    const opened = await Promise.all(
      Array.from({ length: FILES }, () => {
        const sock = connect(port, '127.0.0.1');
        sock.on('error', () => {});
        plain.push(sock);
        return new Promise<Socket>((resolve) => {
          sock.once('connect', () => resolve(sock));
          sock.once('close', () => resolve(sock));
        });
      }),
    );
    await waitFor(() => opened.filter((x) => x.destroyed).length >= FILES - SOCKET_CAP, { what: 'the sockets past the cap dropped' });
    return opened;
  }

  /** Resolves once a WebSocket connection is taken again (kept, to be closed after the test). */
  async function connectedAgain(port: number): Promise<void> {
    await waitFor(
      async () => {
        const a = await openRaw(port);
        sockets.push(a.ws);
        return a.got === 'connected';
      },
      { what: 'a connection taken again', timeoutMs: 10_000 },
    );
  }

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    for (const p of plain.splice(0)) p.destroy();
    if (child?.pid && pidAlive(child.pid)) {
      const pid = child.pid;
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !pidAlive(pid), { what: 'the node to stop', timeoutMs: 10_000 }).catch(() => process.kill(pid, 'SIGKILL'));
    }
    if (dir) removeTempDir(dir);
  });

  it('takes what its descriptors allow, turns the rest away, and still answers health, REST and its clients', async () => {
    const { port, out } = await startLimited();
    const cap = FILES - descriptorsKept(1);
    const sub = realtime(port);
    try {
      const got: unknown[] = [];
      await sub.channels.get('fd').subscribe((m) => got.push(m.data));
      // More than the node has descriptors for, fifty at a time.
      const answers: Awaited<ReturnType<typeof openRaw>>[] = [];
      for (let i = 0; i < 450; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => openRaw(port)));
        for (const a of batch) sockets.push(a.ws);
        answers.push(...batch);
      }
      const count = (g: string) => answers.filter((a) => a.got === g).length;
      // The SDK's connection and cap - 1 of these; the others turned away with 50004, or
      // dropped as accepted past the socket cap.
      expect(count('connected')).toBe(cap - 1);
      expect(count('disconnected') + count('dropped')).toBe(450 - (cap - 1));
      expect(count('disconnected')).toBeGreaterThan(0);
      expect(answers.filter((a) => a.got === 'disconnected').every((a) => a.code === 50004)).toBe(true);
      // Health and REST are answered; the client it held still receives.
      const h = await waitFor(async () => fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json() as Promise<Record<string, any>>).catch(() => null), {
        what: 'the node to answer its health',
        timeoutMs: 10_000,
      });
      expect(h.connections).toBe(cap);
      expect(h.connectionCaps).toMatchObject({ connections: cap, sockets: cap + REST_FD_SHARE, openFiles: FILES, boundBy: 'open files' });
      expect(h.counters.connectionsRefused).toBeGreaterThan(0);
      await rest(port).channels.get('fd').publish('x', 'after');
      await waitFor(() => got.includes('after'), { what: 'the REST publish delivered' });
      // REST sockets kept alive idle, as many as REST's share and more, do not shut out the
      // next health check (a review's finding: they held every socket left for 65 s).
      // First the sockets turned away go (a second at most), so that the idle ones take every socket left.
      // (The WebSockets held, this test's REST and fetch sockets: a few.)
      await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json())) as { sockets: number }).sockets <= cap + 4, {
        what: 'the sockets turned away to go',
      });
      const agents = Array.from({ length: REST_FD_SHARE + 8 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
      try {
        const statuses = await Promise.all(
          agents.map(
            (agent) =>
              new Promise<number>((resolve) => {
                get({ host: '127.0.0.1', port: port, path: '/health', agent }, (res) => {
                  res.resume();
                  res.on('end', () => resolve(res.statusCode ?? 0));
                }).on('error', () => resolve(0));
              }),
          ),
        );
        expect(statuses.filter((x) => x === 200).length).toBeGreaterThan(0);
        // On a socket of its own (fetch would reuse one it keeps).
        expect(await healthOnce(port)).toBe(200);
      } finally {
        for (const a of agents) a.destroy();
      }
      expect(out()).not.toMatch(/EMFILE/);
      // Those gone, there is room again.
      for (const ws of sockets.splice(0)) ws.terminate();
      await connectedAgain(port);
    } finally {
      closeAll(sub);
    }
  });

  // The next review's: sockets that all came before any asked anything, then asked and went
  // idle, held every socket (none was idle when the last came): health checks failed for 65 s.
  it('closes REST sockets kept alive idle at its socket cap, though they came together', async () => {
    const { port } = await startLimited();
    const opened = await fillToCap(port);
    // Every one accepted or dropped (past the socket cap) before any asks: asked at once,
    // each answered one went idle as the next came and was closed then.
    const alive = opened.filter((x) => !x.destroyed);
    expect(alive.length).toBe(SOCKET_CAP);
    // Each asks once, on a socket it keeps alive, and reads its answer.
    const answered = await Promise.all(
      alive.map(
        (sock) =>
          new Promise<boolean>((resolve) => {
            let buf = '';
            const t = setTimeout(() => resolve(false), 5000);
            sock.on('data', (b) => {
              buf += b.toString();
              if (/\r\n\r\n\{[\s\S]*\}$/.test(buf)) {
                clearTimeout(t);
                resolve(true);
              }
            });
            sock.once('close', () => resolve(false));
            sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
          }),
      ),
    );
    expect(answered.filter(Boolean).length).toBe(alive.length);
    // A fresh health check is answered within a couple of tries (the first may be the one
    // dropped that frees the idle ones).
    const tries: (number | string)[] = [];
    await waitFor(async () => (tries.push(await healthOnce(port)), tries.at(-1) === 200), { what: 'a fresh health check answered', timeoutMs: 10_000 });
    expect(tries.length).toBeLessThanOrEqual(3);
  });

  // Sockets that connect and send nothing held every socket until the node's 70 s idle
  // timeout (Node times a request's headers only from its first byte): health checks and
  // REST were shut out for that long.
  it('closes sockets that have sent nothing for 2 s when it is at its socket cap', async () => {
    const { port } = await startLimited();
    const opened = await fillToCap(port);
    const silent = opened.filter((x) => !x.destroyed);
    expect(silent.length).toBe(SOCKET_CAP);
    const t0 = Date.now();
    const tries: (number | string)[] = [];
    await waitFor(async () => (tries.push(await healthOnce(port)), tries.at(-1) === 200), { what: 'a fresh health check answered', timeoutMs: 10_000 });
    // Answered once the silent ones were 2 s old (a try before that was dropped), well before 10 s.
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(silent.filter((x) => x.destroyed).length).toBeGreaterThan(0);
  });

  // Within 16 of the socket cap, the sockets left are REST's and health checks': REST
  // answers carry `connection: close` and an upgrade gets HTTP 503, as does an upgrade to
  // a URL it cannot read (400) at any time.
  it('answers an upgrade 503 and REST with connection: close within 16 of its socket cap, and an unreadable URL 400', async () => {
    const { port } = await startLimited();
    /** What a raw socket is answered (its first bytes), and whether the node closed it. */
    const ask = (request: string) =>
      new Promise<{ answer: string; closed: boolean }>((resolve) => {
        const sock = connect(port, '127.0.0.1');
        plain.push(sock);
        sock.on('error', () => {});
        let answer = '';
        const t = setTimeout(() => resolve({ answer, closed: false }), 3000);
        sock.on('data', (b: Buffer) => (answer += b.toString('latin1')));
        sock.once('close', () => {
          clearTimeout(t);
          resolve({ answer, closed: true });
        });
        sock.once('connect', () => sock.write(request));
      });
    const bad = await ask(upgradeRequest(`//[/?key=${encodeURIComponent(KEY)}`));
    expect(bad.answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad.closed).toBe(true);
    // Requests whose bodies have not come: neither silent nor idle, so the node keeps them.
    const held = SOCKET_CAP - 8;
    const auth = `Basic ${Buffer.from(KEY).toString('base64')}`;
    await Promise.all(
      Array.from({ length: held }, () => {
        const sock = connect(port, '127.0.0.1');
        sock.on('error', () => {});
        plain.push(sock);
        return new Promise<void>((resolve) => {
          sock.once('connect', () => {
            sock.write(`POST /channels/held/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`);
            resolve();
          });
        });
      }),
    );
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json())) as { sockets: number }).sockets >= held, {
      what: 'the held sockets in',
    });
    const health = await ask('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(health.answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(health.answer.toLowerCase()).toContain('connection: close');
    expect(health.closed).toBe(true);
    const up = await ask(upgradeRequest(`/?key=${encodeURIComponent(KEY)}&format=json&v=6`));
    expect(up.answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(up.closed).toBe(true);
    // The held ones gone, an upgrade is taken again.
    for (const x of plain.splice(0)) x.destroy();
    await connectedAgain(port);
  });

  // The third review's: Node's closeIdleConnections takes an answer as done once ended, not
  // once written, and cut off a large history page going to a slow reader near the cap.
  it('does not cut off an answer still being written to a slow reader when it closes idle REST sockets', async () => {
    const { port } = await startLimited();
    const r = rest(port);
    const data = 'x'.repeat(60_000);
    for (let i = 0; i < 100; i++) await r.channels.get('big').publish({ id: `big-${i}`, name: 'big', data });
    const path = '/channels/big/messages?limit=1000';
    const auth = `Basic ${Buffer.from(KEY).toString('base64')}`;
    const whole = (await (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: auth, accept: 'application/json' } })).arrayBuffer()).byteLength;
    expect(whole).toBeGreaterThan(5_000_000);
    // A reader that asks and then reads nothing: the answer waits in the node's buffers. It
    // asks for its health first, pipelined (the fourth review's: the first answer written
    // out marked the socket idle while the second was still going).
    const slow = connect({ port, host: '127.0.0.1' });
    plain.push(slow);
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    let got = 0;
    let seen = '';
    const read = (b: Buffer) => {
      got += b.length;
      if (seen.length < 4096) seen += b.toString('latin1', 0, Math.min(b.length, 4096));
      // The page's answer has begun, so it is ended: read no more, and the rest waits in the node.
      if (seen.split('HTTP/1.1 200').length > 2) slow.pause();
    };
    slow.on('data', read);
    slow.write(
      `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` +
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\nAccept: application/json\r\n\r\n`,
    );
    await waitFor(() => slow.isPaused(), { what: 'the page\'s answer begun' });
    expect(got).toBeLessThan(whole);
    await flood(port);
    // Now read it all: both answers whole (more bytes than the page's body alone), or the socket cut.
    slow.off('data', read);
    const complete = await new Promise<boolean>((resolve) => {
      slow.on('data', (b: Buffer) => {
        got += b.length;
        if (got > whole) resolve(true);
      });
      slow.once('close', () => resolve(false));
      slow.once('error', () => resolve(false));
      slow.resume();
    });
    expect({ complete, short: complete ? 0 : whole - got }).toEqual({ complete: true, short: 0 });
    for (const x of plain.splice(0)) x.destroy();
    // A socket kept alive for REST and then upgraded is the WebSocket's: not closed as idle
    // REST (the fourth review's, behind a proxy that reuses its sockets).
    const ka = connect({ port, host: '127.0.0.1' });
    plain.push(ka);
    let kaBytes = '';
    ka.on('data', (b: Buffer) => (kaBytes += b.toString('latin1')));
    let kaClosed = false;
    ka.on('close', () => (kaClosed = true));
    await new Promise<void>((resolve) => ka.once('connect', () => resolve()));
    ka.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => kaBytes.endsWith('}'), { what: 'the health answer on the kept socket' });
    ka.write(upgradeRequest(`/?key=${encodeURIComponent(KEY)}&format=json&v=6`));
    await waitFor(() => kaBytes.includes('"action":4'), { what: 'CONNECTED on the upgraded socket' });
    await flood(port);
    // A HEARTBEAT, masked as a client's frame must be, is answered on it.
    const payload = Buffer.from('{"action":0}');
    const mask = Buffer.from([1, 2, 3, 4]);
    ka.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4]!)]));
    await waitFor(() => kaClosed || kaBytes.includes('"action":0'), { what: 'the heartbeat answered, or the socket closed' });
    expect(kaClosed).toBe(false);
    // A refused upgrade's socket that the client reset: with no 'error' listener, the node stopped.
    const reset = connect({ port, host: '127.0.0.1' });
    reset.on('error', () => {});
    await new Promise<void>((resolve) => reset.once('connect', () => resolve()));
    reset.write(upgradeRequest('/nope'));
    reset.resetAndDestroy();
    for (const x of plain.splice(1)) x.destroy();
    expect(await waitFor(async () => (await healthOnce(port)) === 200, { what: 'the node to answer after the reset' })).toBe(true);
  });
});

describe('a client socket that sends nothing, or its headers a byte at a time', () => {
  let d: TestDeployment;
  beforeAll(async () => {
    d = await startDeployment({});
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('is closed within about 10 s, while one kept alive after a request stays', async () => {
    const port = d.port('r1-n1');
    const open = (first?: string) =>
      new Promise<Socket>((resolve) => {
        const sock = connect(port, '127.0.0.1');
        sock.on('error', () => {});
        sock.on('data', () => {});
        sock.once('connect', () => {
          if (first) sock.write(first);
          resolve(sock);
        });
      });
    const closedAt = (sock: Socket) => new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now())));
    const t0 = Date.now();
    const silent = await open();
    const partial = await open('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const kept = await open('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let keptClosed = false;
    kept.once('close', () => (keptClosed = true));
    try {
      const [a, b] = await Promise.all([closedAt(silent), closedAt(partial)]);
      // Within 10 s and the sweep's second (silent), or the 2 s check of headers begun.
      expect(a - t0).toBeGreaterThanOrEqual(9000);
      expect(a - t0).toBeLessThan(14_000);
      expect(b - t0).toBeLessThan(14_000);
      expect(keptClosed).toBe(false);
    } finally {
      for (const s of [silent, partial, kept]) s.destroy();
    }
  }, 30_000);
});
