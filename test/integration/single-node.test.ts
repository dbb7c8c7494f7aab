/**
 * One node, real process, the real `ably` SDK over JSON and msgpack: what an
 * application developer does first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
let port: number;

beforeAll(async () => {
  // A small per-channel cap, so that "past retention" can be reached without waiting.
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }], retention: { maxMessagesPerChannel: 20 } });
  port = d.port('r1-n1');
});

afterAll(async () => {
  await d?.stop();
});

let seq = 0;
const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${seq++}`;

describe.each([
  ['msgpack', true],
  ['json', false],
])('the ably SDK over %s', (_name, binary) => {
  it('connects, attaches, publishes with ACK and receives its messages with ids, serials and extras', async () => {
    const pub = realtime(port, { useBinaryProtocol: binary, clientId: 'alice' });
    const sub = realtime(port, { useBinaryProtocol: binary });
    try {
      const name = uniq('basic');
      const sch = sub.channels.get(name);
      const got: any[] = [];
      await sch.subscribe((m) => void got.push(m));
      expect(sch.state).toBe('attached');
      const pch = pub.channels.get(name);
      await connected(pub);
      await pch.publish('greeting', 'hello');
      await pch.publish({ name: 'obj', data: { a: 1 }, extras: { headers: { k: 'v' } } });
      await pch.publish('bin', Buffer.from([1, 2, 3]));
      await waitFor(() => got.length === 3, { what: '3 messages' });
      expect(got.map((m) => m.name)).toEqual(['greeting', 'obj', 'bin']);
      expect(got[0].data).toBe('hello');
      expect(got[1].data).toEqual({ a: 1 });
      expect(got[1].extras).toEqual({ headers: { k: 'v' } });
      expect(Buffer.from(got[2].data)).toEqual(Buffer.from([1, 2, 3]));
      for (const m of got) {
        expect(m.connectionId).toBe(pub.connection.id);
        expect(m.clientId).toBe('alice');
        expect(m.id).toMatch(new RegExp(`^${pub.connection.id}:\\d+:0$`));
        expect(typeof m.timestamp).toBe('number');
      }
      // ids carry the publishing connection's msgSerial, in order
      const serials = got.map((m) => Number(m.id.split(':')[1]));
      expect(serials).toEqual([...serials].sort((a, b) => a - b));
    } finally {
      closeAll(pub, sub);
    }
  });

  it("gives each message of a frame its publisher's connectionId, where several publishers' share the frame (rewind sends them in one)", async () => {
    const a = realtime(port, { useBinaryProtocol: binary });
    const b = realtime(port, { useBinaryProtocol: binary });
    try {
      const mixed = uniq('conn-mixed');
      const withRest = uniq('conn-rest');
      for (const [c, data] of [
        [a, 'a1'],
        [b, 'b1'],
        [a, 'a2'],
      ] as const) {
        await c.channels.get(mixed).publish('m', data);
        await c.channels.get(withRest).publish('m', data);
      }
      await rest(port, { useBinaryProtocol: binary }).channels.get(withRest).publish('m', 'rest');
      const want = { a1: a.connection.id, b1: b.connection.id, a2: a.connection.id, rest: undefined };
      for (const name of [mixed, withRest]) {
        const sub = realtime(port, { useBinaryProtocol: binary });
        try {
          const got: { data: string; connectionId?: string }[] = [];
          await sub.channels.get(name, { params: { rewind: '10' } }).subscribe((m) => void got.push({ data: m.data as string, connectionId: m.connectionId }));
          const n = name === mixed ? 3 : 4;
          await waitFor(() => got.length === n, { what: `${n} messages rewound on ${name}` });
          expect(got).toEqual(got.map((m) => ({ data: m.data, connectionId: want[m.data as keyof typeof want] })));
          expect(got.map((m) => m.data)).toEqual(['a1', 'b1', 'a2', 'rest'].slice(0, n));
        } finally {
          closeAll(sub);
        }
      }
    } finally {
      closeAll(a, b);
    }
  });

  it('does not echo a connection\'s own messages when echoMessages is false', async () => {
    const quiet = realtime(port, { useBinaryProtocol: binary, echoMessages: false });
    const other = realtime(port, { useBinaryProtocol: binary });
    try {
      const name = uniq('echo');
      const mine: string[] = [];
      const theirs: string[] = [];
      await quiet.channels.get(name).subscribe((m) => void mine.push(m.data as string));
      await other.channels.get(name).subscribe((m) => void theirs.push(m.data as string));
      await quiet.channels.get(name).publish('x', 'from-quiet');
      await other.channels.get(name).publish('x', 'from-other');
      await waitFor(() => theirs.length === 2 && mine.length === 1, { what: 'deliveries' });
      expect(mine).toEqual(['from-other']);
      expect(theirs).toEqual(['from-quiet', 'from-other']);
    } finally {
      closeAll(quiet, other);
    }
  });

  it('stops delivering after detach', async () => {
    const c = realtime(port, { useBinaryProtocol: binary });
    const p = realtime(port, { useBinaryProtocol: binary });
    try {
      const name = uniq('detach');
      const got: string[] = [];
      const ch = c.channels.get(name);
      await ch.subscribe((m) => void got.push(m.data as string));
      await p.channels.get(name).publish('x', 'before');
      await waitFor(() => got.length === 1);
      await ch.detach();
      expect(ch.state).toBe('detached');
      // A second subscriber proves the later message was broadcast; the detached one must not see it.
      const witness: string[] = [];
      await p.channels.get(name).subscribe((m) => void witness.push(m.data as string));
      await p.channels.get(name).publish('x', 'after');
      await waitFor(() => witness.includes('after'));
      expect(got).toEqual(['before']);
    } finally {
      closeAll(c, p);
    }
  });

  it('delivers REST publishes to realtime subscribers, and REST history returns them in order, paged', async () => {
    const sub = realtime(port, { useBinaryProtocol: binary });
    const r = rest(port, { useBinaryProtocol: binary });
    try {
      const name = uniq('rest');
      const got: string[] = [];
      await sub.channels.get(name).subscribe((m) => void got.push(m.data as string));
      const sent = Array.from({ length: 7 }, (_, i) => `m${i}`);
      for (const s of sent) await r.channels.get(name).publish('n', s);
      await r.channels.get(name).publish([{ name: 'batch', data: 'b0' }, { name: 'batch', data: 'b1' }]);
      sent.push('b0', 'b1');
      await waitFor(() => got.length === sent.length, { what: 'REST messages delivered' });
      expect(got).toEqual(sent);

      const pages: string[][] = [];
      let page = await r.channels.get(name).history({ limit: 4 });
      pages.push(page.items.map((m) => m.data as string));
      while (page.hasNext()) {
        page = (await page.next())!;
        pages.push(page.items.map((m) => m.data as string));
      }
      expect(pages.map((p) => p.length)).toEqual([4, 4, 1]);
      expect(pages.flat()).toEqual([...sent].reverse());

      const fwd = await r.channels.get(name).history({ limit: 100, direction: 'forwards' });
      expect(fwd.items.map((m) => m.data)).toEqual(sent);
      expect(fwd.hasNext()).toBe(false);
    } finally {
      closeAll(sub);
    }
  });
});

describe('REST publishing', () => {
  const auth = { authorization: `Basic ${Buffer.from('app.root:rootsecret').toString('base64')}`, 'content-type': 'application/json' };

  it('stores a message published twice with the same client-supplied id once', async () => {
    const name = uniq('idem');
    const r = rest(port);
    await r.channels.get(name).publish({ id: 'fixed-id-1', name: 'x', data: 'one' });
    await r.channels.get(name).publish({ id: 'fixed-id-1', name: 'x', data: 'one' });
    await r.channels.get(name).publish([{ id: 'batch:0', data: 'a' }, { id: 'batch:1', data: 'b' }]);
    await r.channels.get(name).publish([{ id: 'batch:0', data: 'a' }, { id: 'batch:1', data: 'b' }]);
    const page = await r.channels.get(name).history({ direction: 'forwards' });
    expect(page.items.map((m) => [m.id, m.data])).toEqual([
      ['fixed-id-1', 'one'],
      ['batch:0', 'a'],
      ['batch:1', 'b'],
    ]);
  });

  it('passes encoding and extras through untouched, and answers with serials', async () => {
    const name = uniq('enc');
    const res = await fetch(`http://127.0.0.1:${port}/channels/${name}/messages`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify([{ name: 'e', data: 'payload', encoding: 'custom/thing', extras: { headers: { h: '1' } } }]),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { serials: string[] };
    expect(body.serials).toHaveLength(1);
    const hist = (await (await fetch(`http://127.0.0.1:${port}/channels/${name}/history`, { headers: auth })).json()) as any[];
    expect(hist[0]).toMatchObject({ name: 'e', data: 'payload', encoding: 'custom/thing', extras: { headers: { h: '1' } } });
    const link = (await fetch(`http://127.0.0.1:${port}/channels/${name}/history?limit=1`, { headers: auth })).headers.get('link');
    expect(link).toMatch(/<\.\/history\?[^>]*>; rel="first"/);
  });
});

describe('channel resume by channelSerial', () => {
  async function viaProxy(): Promise<FaultProxy> {
    const proxy = new FaultProxy({ host: '127.0.0.1', port });
    await proxy.listen();
    return proxy;
  }

  it('gives a subscriber whose transport was cut exactly the messages it missed, once, with RESUMED', async () => {
    const proxy = await viaProxy();
    const sub = realtime(proxy.port, { disconnectedRetryTimeout: 200 });
    const pub = realtime(port);
    try {
      const name = uniq('resume');
      const got: string[] = [];
      const ch = sub.channels.get(name);
      await ch.subscribe((m) => void got.push(m.data as string));
      for (let i = 0; i < 3; i++) await pub.channels.get(name).publish('x', `before-${i}`);
      await waitFor(() => got.length === 3);
      const resumed: boolean[] = [];
      ch.on('attached', (sc) => void resumed.push(sc.resumed));
      proxy.set('both', { reset: true });
      await waitFor(() => sub.connection.state !== 'connected', { what: 'subscriber disconnected' });
      for (let i = 0; i < 5; i++) await pub.channels.get(name).publish('x', `during-${i}`);
      proxy.heal();
      await waitFor(() => resumed.length > 0, { what: 're-attach' });
      for (let i = 0; i < 2; i++) await pub.channels.get(name).publish('x', `after-${i}`);
      await waitFor(() => got.length >= 10, { what: 'all messages' });
      expect(got).toEqual([
        ...[0, 1, 2].map((i) => `before-${i}`),
        ...[0, 1, 2, 3, 4].map((i) => `during-${i}`),
        ...[0, 1].map((i) => `after-${i}`),
      ]);
      expect(resumed[0]).toBe(true);
    } finally {
      closeAll(sub, pub);
      await proxy.close();
    }
  });

  it('tells a subscriber that history no longer covers what it missed (no RESUMED, error 90003)', async () => {
    const proxy = await viaProxy();
    const sub = realtime(proxy.port, { disconnectedRetryTimeout: 200 });
    const pub = realtime(port);
    try {
      const name = uniq('expired');
      const got: string[] = [];
      const ch = sub.channels.get(name);
      await ch.subscribe((m) => void got.push(m.data as string));
      await pub.channels.get(name).publish('x', 'first');
      await waitFor(() => got.length === 1);
      const changes: { resumed: boolean; code?: number }[] = [];
      ch.on('attached', (sc) => void changes.push({ resumed: sc.resumed, code: sc.reason?.code }));
      proxy.set('both', { reset: true });
      await waitFor(() => sub.connection.state !== 'connected');
      // The channel keeps 20 messages: 30 more push 'first''s successors out of history.
      for (let i = 0; i < 30; i++) await pub.channels.get(name).publish('x', `gap-${i}`);
      proxy.heal();
      await waitFor(() => changes.length > 0, { what: 're-attach' });
      expect(changes[0]).toEqual({ resumed: false, code: 90003 });
      await pub.channels.get(name).publish('x', 'live');
      await waitFor(() => got.includes('live'));
      // No partial, silent backlog: it went from "first" straight to the live point.
      expect(got).toEqual(['first', 'live']);
    } finally {
      closeAll(sub, pub);
      await proxy.close();
    }
  });
});
