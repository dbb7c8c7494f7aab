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
import { sleep, waitFor } from '../helpers/wait.js';

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

const BROADCAST: NodeMessage = { type: 'broadcast', channel: 'app:secret', epoch: 'e', entries: [] };
const FROM_OLDER: NodeMessage = { type: 'broadcast', channel: 'app:from-an-older-build', epoch: 'e', entries: [] };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

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

    const sock = net.connect({ host: '127.0.0.1', port: port! });
    const reader = new FrameReader();
    const received: Buffer[] = [];
    sock.on('data', (d) => received.push(...reader.push(d)));
    await new Promise((r) => sock.once('connect', r));
    await waitFor(() => received.length > 0, { what: 'the challenge' });
    // Only a challenge comes from an unauthenticated listener: nothing to read.
    const first = pb.Handshake.decode(received[0]!);
    expect(first.step?.$case).toBe('challenge');
    const hello: pb.Handshake = {
      step: { $case: 'hello', hello: { node: 'intruder', region: 'r', nonce: Buffer.alloc(16), mac: Buffer.alloc(32, 7), protocol: NODE_PROTOCOL } },
    };
    sock.write(frame(pb.Handshake.encode(hello).finish()));
    sock.write(frame(encodeNodeMessage(BROADCAST)));
    await new Promise((r) => sock.once('close', r));
    await sleep(50);
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
    const fake = net.createServer((sock) => {
      const reader = new FrameReader();
      sock.write(frame(pb.Handshake.encode({ step: { $case: 'challenge', challenge: { nonce: Buffer.alloc(16, 1), node: 'n2', protocol: NODE_PROTOCOL } } }).finish()));
      sock.on('data', (d) => {
        for (const f of reader.push(d)) {
          gotFrames.push(f);
          const hs = pb.Handshake.decode(f);
          if (hs.step?.$case === 'hello') {
            // A wrong proof of the secret.
            sock.write(frame(pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: 'n2', mac: Buffer.alloc(32, 9) } } }).finish()));
          }
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => fake.listen(fakePort, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => fake.close(() => r())));
    t.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: fakePort! });
    t.send('n2', BROADCAST);
    await waitFor(() => lines.some((l) => l.includes('failed to prove the cluster secret')), { what: 'the link refused' });
    await sleep(100);
    // The only frames it ever got are hellos (one per attempt): no envelope.
    for (const f of gotFrames) expect(pb.Handshake.decode(f).step?.$case).toBe('hello');
    expect(t.stats().links.find((l) => l.peer === 'n2')?.up).toBe(false);
  });

  it('links two nodes with the same secret, and not with different ones', async () => {
    const [p1, p2, p3] = await freePorts(3);
    const { log } = capturingLogger();
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
    await sleep(200);
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
    await sleep(200);
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
    const sock = net.connect({ host: '127.0.0.1', port: port! });
    const reader = new FrameReader();
    const received: Buffer[] = [];
    sock.on('data', (d) => received.push(...reader.push(d)));
    await waitFor(() => received.length > 0, { what: 'the challenge' });
    const challenge = pb.Handshake.decode(received[0]!);
    if (challenge.step?.$case !== 'challenge') throw new Error('no challenge');
    expect(challenge.step.challenge.protocol).toBe(NODE_PROTOCOL);
    // The proof an older build makes (HMAC over "hello", the nonce, node and region), and no version.
    const proof = createHmac('sha256', 'same');
    for (const part of ['hello', challenge.step.challenge.nonce, 'old', 'r']) proof.update(part).update('\0');
    const hello: pb.Handshake = { step: { $case: 'hello', hello: { node: 'old', region: 'r', nonce: Buffer.alloc(16), mac: proof.digest(), protocol: 0 } } };
    let closed = false;
    sock.once('close', () => (closed = true));
    sock.write(frame(pb.Handshake.encode(hello).finish()));
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
    await sleep(200);
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
    const old = net.createServer((sock) => {
      const reader = new FrameReader();
      sock.write(frame(pb.Handshake.encode({ step: { $case: 'challenge', challenge: { nonce: Buffer.alloc(16, 1), node: 'n2', protocol: 0 } } }).finish()));
      sock.on('data', (d) => {
        for (const f of reader.push(d)) {
          gotFrames.push(f);
          const hs = pb.Handshake.decode(f);
          if (hs.step?.$case !== 'hello') continue;
          // An older build takes the hello (it proves the secret) and proves it back.
          const proof = createHmac('sha256', 'same');
          for (const part of ['welcome', hs.step.hello.nonce, 'n2', 'r']) proof.update(part).update('\0');
          sock.write(frame(pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: 'n2', mac: proof.digest() } } }).finish()));
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => old.listen(oldPort, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => old.close(() => r())));
    const events: TransportEvent[] = [];
    t.onEvent((e) => events.push(e));
    t.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: oldPort! });
    t.send('n2', BROADCAST);
    await waitFor(() => lines.some((l) => l.includes('refused mesh link: n2 speaks node protocol 0')) && gotFrames.length >= 2, { what: 'the link refused, twice' });
    t.send('n2', BROADCAST);
    await sleep(100);
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
    let welcomes = 0;
    const { log, lines } = capturingLogger();
    const t = await transport('n1', port!, 'same', log);
    const fake = net.createServer((sock) => {
      sock.write(frame(pb.Handshake.encode({ step: { $case: 'challenge', challenge: { nonce: Buffer.alloc(16, 1), node: 'n2', protocol: NODE_PROTOCOL + 1 } } }).finish()));
      // Answers the hello with a welcome that proves nothing.
      sock.once('data', () => {
        welcomes++;
        sock.write(frame(pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: 'n2', mac: Buffer.alloc(32, 9) } } }).finish()));
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => fake.listen(fakePort, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => fake.close(() => r())));
    const events: TransportEvent[] = [];
    t.onEvent((e) => events.push(e));
    t.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: fakePort! });
    await waitFor(() => lines.some((l) => l.includes(`refused mesh link: n2 speaks node protocol ${NODE_PROTOCOL + 1}`)) && welcomes > 0, { what: 'the link refused, and a welcome sent' });
    await sleep(200);
    expect(events).toEqual([]);
  });
});
