/**
 * Mesh links authenticate both ways before any channel traffic crosses them.
 */
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import * as pb from '../../src/gen/node.pb.js';
import { FrameReader, frameHeader } from '../../src/transport/framing.js';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { MeshTransport } from '../../src/transport/mesh.js';
import type { NodeMessage } from '../../src/transport/messages.js';
import type { TransportEvent } from '../../src/transport/transport.js';
import { NODE_PROTOCOL } from '../../src/transport/protocol-version.js';
import { encodeNodeMessage } from '../../src/transport/node-codec.js';
import { freePorts } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

function capturingLogger(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'warn' }, stream), lines };
}

function frame(payload: Uint8Array): Buffer {
  return Buffer.concat([frameHeader(payload.length), Buffer.from(payload)]);
}

/** A framed handshake step. */
function step(st: pb.Handshake['step']): Buffer {
  return frame(pb.Handshake.encode({ step: st }).finish());
}

/** The proof a node makes (HMAC-SHA256 over the parts, each ended by a NUL), as mesh.ts does. */
function proof(secret: string, ...parts: (string | Uint8Array)[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const part of parts) h.update(part).update('\0');
  return h.digest();
}

const BROADCAST: NodeMessage = { type: 'broadcast', channel: 'app:secret', epoch: 'e', entries: [] };
const FROM_OLDER: NodeMessage = { type: 'broadcast', channel: 'app:from-an-older-build', epoch: 'e', entries: [] };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A raw connection to a mesh listener, with every frame it sends, once its challenge has come. */
async function rawDial(port: number): Promise<{ sock: net.Socket; received: Buffer[]; challenge: pb.Challenge }> {
  const sock = net.connect({ host: '127.0.0.1', port });
  const reader = new FrameReader();
  const received: Buffer[] = [];
  sock.on('data', (d) => received.push(...reader.push(d)));
  cleanup.push(async () => void sock.destroy());
  await waitFor(() => received.length > 0, { what: 'the challenge' });
  const first = pb.Handshake.decode(received[0]!);
  if (first.step?.$case !== 'challenge') throw new Error(`expected a challenge, got ${first.step?.$case}`);
  return { sock, received, challenge: first.step.challenge };
}

/** A fake mesh listener on `port` (stopped after the test). */
async function fakeListener(port: number, onSocket: (sock: net.Socket) => void): Promise<void> {
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    onSocket(sock);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise((r) => server.close(() => r())));
}

/** Waits until `events` holds `n` more peerOtherVersion events than it did when called (handshakes that ended). */
function morePeerOtherVersion(events: TransportEvent[], n = 1): Promise<unknown> {
  const count = () => events.filter((e) => e.type === 'peerOtherVersion').length;
  const target = count() + n;
  return waitFor(() => count() >= target, { what: `${n} more handshake(s) ending in a refusal` });
}

async function transport(name: string, port: number, secret: string, log: pino.Logger, protocol?: number): Promise<MeshTransport> {
  const t = new MeshTransport({ self: name, region: 'r', host: '127.0.0.1', meshPort: port, secret, log, ...(protocol === undefined ? {} : { protocol }) });
  await t.start();
  cleanup.push(() => t.stop());
  return t;
}

describe('mesh link authentication', () => {
  it('refuses and logs a connection that does not prove the cluster secret; its frames are never delivered', async () => {
    const [port] = await freePorts(1);
    const { log, lines } = capturingLogger();
    const t = await transport('n1', port!, 'the-secret', log);
    const delivered: NodeMessage[] = [];
    t.onMessage((_f, m) => delivered.push(m));
    const events: TransportEvent[] = [];
    t.onEvent((e) => events.push(e));

    // Only a challenge comes from an unauthenticated listener: nothing to read.
    const { sock, received } = await rawDial(port!);
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(step({ $case: 'hello', hello: { node: 'intruder', region: 'r', nonce: Buffer.alloc(16), mac: Buffer.alloc(32, 7), protocol: NODE_PROTOCOL, session: 1 } }));
    sock.write(frame(encodeNodeMessage(BROADCAST)));
    await closed;
    expect(delivered).toEqual([]);
    expect(received).toHaveLength(1);
    expect(lines.some((l) => l.includes('refused mesh connection') && l.includes('intruder'))).toBe(true);
    expect(events).toEqual([]);
  });

  it('refuses a connection that skips the handshake and sends traffic straight away', async () => {
    const [port] = await freePorts(1);
    const { log } = capturingLogger();
    const t = await transport('n1', port!, 'the-secret', log);
    const delivered: NodeMessage[] = [];
    t.onMessage((_f, m) => delivered.push(m));
    const sock = net.connect({ host: '127.0.0.1', port: port! });
    sock.resume(); // read (and ignore) the challenge, so the close can be seen
    await new Promise((r) => sock.once('connect', r));
    sock.write(frame(encodeNodeMessage(BROADCAST)));
    await new Promise((r) => sock.once('close', r));
    expect(delivered).toEqual([]);
  });

  it('never sends channel traffic to a listener that cannot prove the secret', async () => {
    const [port, fakePort] = await freePorts(2);
    const { log, lines } = capturingLogger();
    const t = await transport('n1', port!, 'the-secret', log);
    const gotFrames: Buffer[] = [];
    await fakeListener(fakePort!, (sock) => {
      const reader = new FrameReader();
      sock.write(step({ $case: 'challenge', challenge: { nonce: Buffer.alloc(16, 1), node: 'n2', protocol: NODE_PROTOCOL } }));
      sock.on('data', (d) => {
        for (const f of reader.push(d)) {
          gotFrames.push(f);
          // A wrong proof of the secret.
          if (pb.Handshake.decode(f).step?.$case === 'hello') sock.write(step({ $case: 'welcome', welcome: { node: 'n2', mac: Buffer.alloc(32, 9) } }));
        }
      });
    });
    t.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: fakePort! });
    t.send('n2', BROADCAST);
    // Two attempts refused: after a welcome taken for proof, the queued broadcast would follow the hello.
    await waitFor(() => lines.filter((l) => l.includes('failed to prove the cluster secret')).length >= 2 && gotFrames.length >= 2, { what: 'the link refused twice' });
    // The only frames it ever got are hellos (one per attempt): no envelope.
    for (const f of gotFrames) expect(pb.Handshake.decode(f).step?.$case).toBe('hello');
    expect(t.stats().links.find((l) => l.peer === 'n2')?.up).toBe(false);
  });

  it('links two nodes with the same secret, and not with different ones', async () => {
    const [p1, p2, p3] = await freePorts(3);
    const { log, lines } = capturingLogger();
    const a = await transport('n1', p1!, 'same', log);
    const b = await transport('n2', p2!, 'same', log);
    const c = await transport('n3', p3!, 'other', log);
    const atB: NodeMessage[] = [];
    const atC: NodeMessage[] = [];
    b.onMessage((_f, m) => atB.push(m));
    c.onMessage((_f, m) => atC.push(m));
    a.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: p2! });
    a.addPeer('n3', { host: '127.0.0.1', port: 0, meshPort: p3! });
    await waitFor(() => {
      a.send('n2', BROADCAST);
      a.send('n3', BROADCAST);
      return atB.length > 0;
    });
    // n3 refused n1's hellos at least twice since: what was queued for it went nowhere.
    const refusedByC = () => lines.filter((l) => l.includes('refused mesh connection') && l.includes('"claimed":"n1"')).length;
    const before = refusedByC();
    await waitFor(() => refusedByC() >= before + 2, { what: 'n3 refusing n1 twice more' });
    expect(atC).toEqual([]);
  });

  it('refuses a link between nodes of two protocol versions, either way, logging both; nothing crosses it', async () => {
    const [p1, p2, p3] = await freePorts(3);
    const newer = capturingLogger();
    const older = capturingLogger();
    // n2 plays a build from before versions: it sends none, which reads as 0.
    const a = await transport('n1', p1!, 'same', newer.log, NODE_PROTOCOL);
    const b = await transport('n2', p2!, 'same', older.log, 0);
    const c = await transport('n3', p3!, 'same', newer.log, NODE_PROTOCOL);
    const atA: NodeMessage[] = [];
    const atB: NodeMessage[] = [];
    a.onMessage((_f, m) => atA.push(m));
    b.onMessage((_f, m) => atB.push(m));
    const eventsA: TransportEvent[] = [];
    const eventsB: TransportEvent[] = [];
    a.onEvent((e) => eventsA.push(e));
    b.onEvent((e) => eventsB.push(e));
    a.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: p2! });
    b.addPeer('n1', { host: '127.0.0.1', port: 0, meshPort: p1! });
    c.addPeer('n1', { host: '127.0.0.1', port: 0, meshPort: p1! });
    // A link of one version still comes up beside them.
    await waitFor(() => {
      c.send('n1', BROADCAST);
      return atA.length > 0;
    });
    await waitFor(() => {
      a.send('n2', BROADCAST);
      b.send('n1', FROM_OLDER);
      const refused = (lines: string[], text: string) => lines.some((l) => l.includes('"level":50') && l.includes(text));
      return (
        refused(newer.lines, `refused mesh link: n2 speaks node protocol 0 (a build from before protocol versions), this node ${NODE_PROTOCOL}`) &&
        refused(older.lines, `refused mesh link: n1 speaks node protocol ${NODE_PROTOCOL}, this node 0`)
      );
    }, { what: 'both sides refusing the other version' });
    // Sent now, each would cross on the next link up: a handshake more each way ends refused.
    a.send('n2', BROADCAST);
    b.send('n1', FROM_OLDER);
    await Promise.all([morePeerOtherVersion(eventsA), morePeerOtherVersion(eventsB)]);
    expect(atB).toEqual([]);
    expect(atA.filter((m) => m.type === 'broadcast' && m.channel === FROM_OLDER.channel)).toEqual([]);
    expect(a.stats().links.find((l) => l.peer === 'n2')?.up).toBe(false);
    expect(b.stats().links.find((l) => l.peer === 'n1')?.up).toBe(false);
    // Each side logged the other once, though both kept redialling.
    expect(newer.lines.filter((l) => l.includes('n2 speaks node protocol')).length).toBe(1);
  });

  it('refuses a dialer of a build from before versions (a hello without one), though it proves the secret; its frames are never delivered', async () => {
    const [port] = await freePorts(1);
    const { log, lines } = capturingLogger();
    const t = await transport('n1', port!, 'same', log);
    const delivered: NodeMessage[] = [];
    t.onMessage((_f, m) => delivered.push(m));
    const events: TransportEvent[] = [];
    t.onEvent((e) => events.push(e));
    const { sock, received, challenge } = await rawDial(port!);
    expect(challenge.protocol).toBe(NODE_PROTOCOL);
    let closed = false;
    sock.once('close', () => (closed = true));
    // The proof an older build makes (over "hello", the nonce, node and region), and no version.
    const mac = proof('same', 'hello', challenge.nonce, 'old', 'r');
    sock.write(step({ $case: 'hello', hello: { node: 'old', region: 'r', nonce: Buffer.alloc(16), mac, protocol: 0, session: 0 } }));
    sock.write(frame(encodeNodeMessage(BROADCAST)));
    await waitFor(() => closed, { what: 'the connection closed', timeoutMs: 5000 });
    expect(delivered).toEqual([]);
    // No welcome came back: only the challenge.
    expect(received).toHaveLength(1);
    expect(lines.some((l) => l.includes('refused mesh link: old speaks node protocol 0'))).toBe(true);
    // It proved the secret, so membership hears of it: alive, in another version.
    expect(events).toEqual([{ type: 'peerOtherVersion', peer: 'old', protocol: 0 }]);
  });

  it('tells nodes of two versions of each other, though only one dials: the listener by the hello, the dialer by the welcome; the link never comes up', async () => {
    const [p1, p2] = await freePorts(2);
    const { log } = capturingLogger();
    const a = await transport('n1', p1!, 'same', log, NODE_PROTOCOL);
    const b = await transport('n2', p2!, 'same', log, NODE_PROTOCOL + 1);
    const atA: TransportEvent[] = [];
    const atB: TransportEvent[] = [];
    a.onEvent((e) => atA.push(e));
    b.onEvent((e) => atB.push(e));
    const delivered: NodeMessage[] = [];
    b.onMessage((_f, m) => delivered.push(m));
    a.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: p2! });
    a.send('n2', BROADCAST);
    await waitFor(() => atA.length > 0 && atB.length > 0, { what: 'each hearing of the other' });
    expect(atA[0]).toEqual({ type: 'peerOtherVersion', peer: 'n2', protocol: NODE_PROTOCOL + 1 });
    expect(atB[0]).toEqual({ type: 'peerOtherVersion', peer: 'n1', protocol: NODE_PROTOCOL });
    // A second round each way ends the same (and would have carried the queued broadcast).
    await Promise.all([morePeerOtherVersion(atA), morePeerOtherVersion(atB)]);
    expect([...atA, ...atB].filter((e) => e.type !== 'peerOtherVersion')).toEqual([]);
    expect(delivered).toEqual([]);
    expect(a.stats().links.find((l) => l.peer === 'n2')?.up).toBe(false);
  });

  it('tells nodes of two versions of each other through a fault proxy with latency too (what is on its way is not cut off)', async () => {
    const [p1, p2] = await freePorts(2);
    const { log } = capturingLogger();
    const proxy = new FaultProxy({ host: '127.0.0.1', port: p2! });
    await proxy.listen();
    proxy.set('both', { latencyMs: 30 });
    cleanup.push(() => proxy.close());
    const a = new MeshTransport({ self: 'n1', region: 'r', host: '127.0.0.1', meshPort: p1!, secret: 'same', log, dialVia: () => ({ host: '127.0.0.1', port: proxy.port }) });
    await a.start();
    cleanup.push(() => a.stop());
    const b = await transport('n2', p2!, 'same', log, NODE_PROTOCOL + 1);
    const atA: TransportEvent[] = [];
    const atB: TransportEvent[] = [];
    a.onEvent((e) => atA.push(e));
    b.onEvent((e) => atB.push(e));
    a.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: p2! });
    await waitFor(() => atA.some((e) => e.type === 'peerOtherVersion') && atB.some((e) => e.type === 'peerOtherVersion'), { what: 'each hearing of the other through the proxy' });
    expect([...atA, ...atB].filter((e) => e.type === 'linkUp')).toEqual([]);
  });

  it('sends a listener of a build from before versions (a challenge without one) its hello and nothing after it; that listener\'s welcome proves it alive, and links nothing', async () => {
    const [port, oldPort] = await freePorts(2);
    const { log, lines } = capturingLogger();
    const t = await transport('n1', port!, 'same', log);
    const gotFrames: Buffer[] = [];
    await fakeListener(oldPort!, (sock) => {
      const reader = new FrameReader();
      sock.write(step({ $case: 'challenge', challenge: { nonce: Buffer.alloc(16, 1), node: 'n2', protocol: 0 } }));
      sock.on('data', (d) => {
        for (const f of reader.push(d)) {
          gotFrames.push(f);
          const hs = pb.Handshake.decode(f);
          // An older build takes the hello (it proves the secret) and proves it back.
          if (hs.step?.$case === 'hello') sock.write(step({ $case: 'welcome', welcome: { node: 'n2', mac: proof('same', 'welcome', hs.step.hello.nonce, 'n2', 'r') } }));
        }
      });
    });
    const events: TransportEvent[] = [];
    t.onEvent((e) => events.push(e));
    t.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: oldPort! });
    t.send('n2', BROADCAST);
    await waitFor(() => lines.some((l) => l.includes('refused mesh link: n2 speaks node protocol 0')) && gotFrames.length >= 2, { what: 'the link refused, twice' });
    // Sent now, it would follow a welcome on the next attempt: wait for one more.
    t.send('n2', BROADCAST);
    const before = gotFrames.length;
    await waitFor(() => gotFrames.length > before, { what: 'another attempt' });
    await morePeerOtherVersion(events);
    // Only hellos (one per attempt, each telling our version): no envelope, though welcomed.
    for (const f of gotFrames) {
      const hs = pb.Handshake.decode(f);
      expect(hs.step?.$case).toBe('hello');
      if (hs.step?.$case === 'hello') expect(hs.step.hello.protocol).toBe(NODE_PROTOCOL);
    }
    expect(t.stats().links.find((l) => l.peer === 'n2')?.up).toBe(false);
    expect(events.filter((e) => e.type === 'linkUp')).toEqual([]);
    expect(events.filter((e) => e.type === 'peerOtherVersion')[0]).toEqual({ type: 'peerOtherVersion', peer: 'n2', protocol: 0 });
  });

  it('takes a welcome that does not prove the secret, after a challenge of another version, as nothing', async () => {
    const [port, fakePort] = await freePorts(2);
    let welcomed = 0;
    const { log, lines } = capturingLogger();
    const t = await transport('n1', port!, 'same', log);
    await fakeListener(fakePort!, (sock) => {
      sock.write(step({ $case: 'challenge', challenge: { nonce: Buffer.alloc(16, 1), node: 'n2', protocol: NODE_PROTOCOL + 1 } }));
      // Answers the hello with a welcome that proves nothing; the dialer then drops the socket.
      sock.once('data', () => sock.write(step({ $case: 'welcome', welcome: { node: 'n2', mac: Buffer.alloc(32, 9) } })));
      sock.once('close', () => welcomed++);
    });
    const events: TransportEvent[] = [];
    t.onEvent((e) => events.push(e));
    t.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: fakePort! });
    await waitFor(() => lines.some((l) => l.includes(`refused mesh link: n2 speaks node protocol ${NODE_PROTOCOL + 1}`)) && welcomed >= 2, {
      what: 'the link refused, and two sockets dropped after the welcome',
    });
    expect(events).toEqual([]);
  });
});
