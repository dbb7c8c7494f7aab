/**
 * The shared RegionTransport suite on NatsTransport, against a real nats-server cluster
 * (two routed servers, the nodes on different ones, its default 1 MiB max_payload so that
 * large messages go in parts). Each node has a TCP listener standing in for its client
 * port: "killing" a node stops its transport and closes that port, which is what the
 * transport probes when a peer falls silent.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { connect, headers as natsHeaders } from 'nats';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { NODE_PROTOCOL } from '../../src/transport/protocol-version.js';
import type { RegionTransport, TransportEvent } from '../../src/transport/transport.js';
import { startNats, type NatsServers } from '../helpers/nats.js';
import { freePorts } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { transportConformance } from './transport-suite.js';

const TOKEN = 'conformance-nats-token';
let nats: NatsServers;

beforeAll(async () => {
  nats = await startNats({ count: 2, token: TOKEN });
});

afterAll(async () => {
  await nats?.stop();
});

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

function close(s: net.Server | undefined): Promise<void> {
  return new Promise((r) => (s ? s.close(() => r()) : r()));
}

transportConformance('nats', async (n) => {
  const ports = await freePorts(n);
  const clientPorts: (net.Server | undefined)[] = await Promise.all(ports.map(listen));
  const make = (i: number) => {
    const t = new NatsTransport({
      self: `n${i}`,
      deployment: 'conformance',
      region: 'r',
      // Each node starts on its own server of the cluster: traffic crosses the route.
      servers: [nats.url(i % nats.count)],
      token: TOKEN,
      log: silentLogger(),
      heartbeatIntervalMs: 100,
    });
    for (let j = 0; j < n; j++) if (j !== i) t.addPeer(`n${j}`, { host: '127.0.0.1', port: ports[j]!, meshPort: 0 });
    return t;
  };
  const transports: RegionTransport[] = Array.from({ length: n }, (_, i) => make(i));
  await Promise.all(transports.map((t) => t.start()));
  return {
    transports,
    kill: async (i) => {
      await transports[i]!.stop();
      await close(clientPorts[i]);
      clientPorts[i] = undefined;
    },
    restart: async (i) => {
      clientPorts[i] = await listen(ports[i]!);
      const t = make(i);
      transports[i] = t;
      await t.start();
      return t;
    },
    close: async () => {
      await Promise.all(transports.map((t) => t.stop().catch(() => undefined)));
      await Promise.all(clientPorts.map(close));
    },
  };
});

describe('NatsTransport', () => {
  it('refuses to start without the cluster credentials, naming the servers', async () => {
    const t = new NatsTransport({ self: 'x', deployment: 'conformance', region: 'r', servers: [nats.url(0)], token: 'wrong', log: silentLogger() });
    await expect(t.start()).rejects.toThrow(new RegExp(`cannot reach NATS at ${nats.url(0).replace(/[.:/]/g, '.')}`));
  });

  it('survives the loss of its NATS server: linkDown, then linkUp on another server, and what it sent meanwhile arrives in order', async () => {
    // a starts on server 0 and learns of server 1 from the cluster; b lives on server 1.
    const mk = (self: string, server: number) =>
      new NatsTransport({ self, deployment: 'conformance', region: 'reconnect', servers: [nats.url(server)], token: TOKEN, log: silentLogger(), heartbeatIntervalMs: 100 });
    const a = mk('a', 0);
    const b = mk('b', 1);
    await Promise.all([a.start(), b.start()]);
    const events: TransportEvent[] = [];
    let queuedWhileDown = -1;
    a.onEvent((e) => {
      events.push(e);
      if (e.type === 'linkDown' && e.peer === 'b' && queuedWhileDown < 0) {
        // Sent while a knows it has no connection: held and sent after the reconnect.
        for (let i = 0; i < 100; i++) a.send('b', { type: 'unsub', channel: `during-${i}` });
        queuedWhileDown = a.natsStats().queued;
      }
    });
    const got: string[] = [];
    b.onMessage((from, msg) => from === 'a' && msg.type === 'unsub' && got.push(msg.channel));
    try {
      await waitFor(
        () => {
          a.send('b', { type: 'unsub', channel: 'hello' });
          return got.includes('hello');
        },
        { what: 'a reaching b', intervalMs: 50 },
      );
      // b must be known to a for link events to name it.
      a.addPeer('b', { host: '127.0.0.1', port: 0, meshPort: 0 });
      await nats.kill(0);
      await waitFor(() => events.some((e) => e.type === 'linkDown' && e.peer === 'b'), { what: 'linkDown for b' });
      expect(queuedWhileDown).toBe(100);
      await waitFor(() => events.some((e) => e.type === 'linkUp' && e.peer === 'b'), { what: 'linkUp for b after the reconnect' });
      for (let i = 0; i < 100; i++) a.send('b', { type: 'unsub', channel: `after-${i}` });
      await waitFor(() => got.includes('after-99'), { what: 'traffic after the reconnect' });
      const during = got.filter((c) => c.startsWith('during-'));
      expect(during).toEqual(Array.from({ length: 100 }, (_, i) => `during-${i}`));
      expect(got.filter((c) => c.startsWith('after-'))).toEqual(Array.from({ length: 100 }, (_, i) => `after-${i}`));
      const s = a.natsStats();
      expect(s.connected).toBe(true);
      expect(s.disconnects).toBe(1);
      expect(s.reconnects).toBe(1);
      expect(s.dropped).toBe(0);
      expect(s.server).toBe(nats.url(1).replace('nats://', ''));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await nats.startOne(0);
    }
  });

  it('reconnects and resubscribes when its only NATS server restarts', async () => {
    const solo = await startNats({ count: 1 });
    const mk = (self: string) => new NatsTransport({ self, deployment: 'conformance', region: 'solo', servers: [solo.url(0)], log: silentLogger(), heartbeatIntervalMs: 100 });
    const a = mk('a');
    const b = mk('b');
    try {
      await Promise.all([a.start(), b.start()]);
      const got: string[] = [];
      b.onMessage((from, msg) => from === 'a' && msg.type === 'unsub' && got.push(msg.channel));
      const reaches = (tag: string) =>
        waitFor(
          () => {
            a.send('b', { type: 'unsub', channel: tag });
            return got.includes(tag);
          },
          { what: `a reaching b (${tag})`, intervalMs: 50 },
        );
      await reaches('before');
      await solo.kill(0);
      await waitFor(() => !a.natsStats().connected && !b.natsStats().connected, { what: 'both disconnected' });
      await solo.startOne(0);
      await waitFor(() => a.natsStats().connected && b.natsStats().connected, { what: 'both reconnected' });
      // b subscribed again by itself: a's messages reach it.
      await reaches('after');
      expect(b.natsStats().reconnects).toBe(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await solo.stop();
    }
  });

  it('keeps nodes of two node protocols in one region apart: neither hears the other, and each logs the other once', async () => {
    const capture = () => {
      const lines: string[] = [];
      const log = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => void (lines.push(String(c)), cb()) }));
      return { log, lines };
    };
    const [la, lb] = [capture(), capture()];
    const mk = (self: string, protocol: number, log: pino.Logger) =>
      new NatsTransport({ self, deployment: 'conformance', region: 'versions', servers: [nats.url(0)], token: TOKEN, log, heartbeatIntervalMs: 100, protocol });
    const a = mk('a', NODE_PROTOCOL, la.log);
    const b = mk('b', NODE_PROTOCOL + 1, lb.log);
    const c = mk('c', NODE_PROTOCOL, silentLogger());
    await Promise.all([a.start(), b.start(), c.start()]);
    const legacy = await connect({ servers: nats.url(0), token: TOKEN });
    const at = { a: [] as string[], b: [] as string[], c: [] as string[] };
    const events: TransportEvent[] = [];
    a.onEvent((e) => events.push(e));
    a.onMessage((from) => void at.a.push(from));
    b.onMessage((from) => void at.b.push(from));
    c.onMessage((from) => void at.c.push(from));
    const refused = (lines: string[], text: string) => lines.filter((l) => l.includes('"level":50') && l.includes(text)).length;
    try {
      await waitFor(
        () => {
          a.broadcast({ type: 'unsub', channel: 'x' });
          a.send('b', { type: 'unsub', channel: 'x' });
          b.broadcast({ type: 'unsub', channel: 'x' });
          // A build from before versions: the bare control subject.
          const h = natsHeaders();
          h.set('Ablyng-From', 'old');
          legacy.publish('ablyng.conformance.versions.control', new Uint8Array([1]), { headers: h });
          return (
            at.c.includes('a') &&
            refused(la.lines, `refused NATS traffic: b speaks node protocol ${NODE_PROTOCOL + 1}, this node ${NODE_PROTOCOL}`) > 0 &&
            refused(la.lines, `refused NATS traffic: old speaks node protocol 0 (a build from before protocol versions), this node ${NODE_PROTOCOL}`) > 0 &&
            refused(lb.lines, `refused NATS traffic: a speaks node protocol ${NODE_PROTOCOL}, this node ${NODE_PROTOCOL + 1}`) > 0
          );
        },
        { what: 'a reaching c, and a and b refusing each other', intervalMs: 50 },
      );
      await legacy.flush();
      expect(at.b).toEqual([]);
      expect(at.a).toEqual([]);
      expect(at.c.every((f) => f === 'a')).toBe(true);
      // Logged once each, though heard many times; each time, membership hears of them alive.
      expect(refused(la.lines, 'b speaks node protocol')).toBe(1);
      const others = events.filter((e) => e.type === 'peerOtherVersion');
      expect(others).toContainEqual({ type: 'peerOtherVersion', peer: 'b', protocol: NODE_PROTOCOL + 1 });
      expect(others).toContainEqual({ type: 'peerOtherVersion', peer: 'old', protocol: 0 });
      expect(events.filter((e) => e.type === 'peerOtherVersion' && e.peer === 'c')).toEqual([]);
    } finally {
      await legacy.close();
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });

  it('rejects contradictory authentication options', () => {
    expect(() => new NatsTransport({ self: 'x', deployment: 'd', region: 'r', servers: ['nats://127.0.0.1:1'], token: 't', user: 'u', pass: 'p', log: silentLogger() })).toThrow(/not both/);
    expect(() => new NatsTransport({ self: 'x', deployment: 'd', region: 'r', servers: ['nats://127.0.0.1:1'], user: 'u', log: silentLogger() })).toThrow(/password/);
  });
});
