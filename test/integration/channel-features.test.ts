/**
 * Channel params and history with the ably SDK: rewind, untilAttach, channel status,
 * batch publish, stats, and idempotent publishing across REST and realtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { PUB_ONLY_KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
let port: number;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }] });
  port = d.port('r1-n1');
});

afterAll(async () => {
  await d?.stop();
});

async function publishAll(channel: string, n: number, prefix = 'm'): Promise<void> {
  const r = rest(d.port('r1-n2'));
  for (let i = 0; i < n; i++) await r.channels.get(channel).publish('x', `${prefix}${i}`);
}

describe('rewind', () => {
  it('delivers the last N messages on the first attach, then live ones', async () => {
    await publishAll('rw-count', 8);
    const c = realtime(port);
    try {
      const got: string[] = [];
      const ch = c.channels.get('rw-count', { params: { rewind: '3' } });
      await ch.subscribe((m) => void got.push(m.data as string));
      await publishAll('rw-count', 1, 'live');
      await waitFor(() => got.length === 4);
      expect(got).toEqual(['m5', 'm6', 'm7', 'live0']);
      // ATTACHED names the params applied; the SDK shows them (RTL4k1).
      expect(ch.params).toEqual({ rewind: '3' });
      const other = c.channels.get('rw-unknown-param', { params: { notAParam: 'x' } });
      await other.attach();
      expect(other.params, 'a param not applied is not shown as applied').toEqual({});
    } finally {
      closeAll(c);
    }
  });

  it('accepts a duration, and the [?rewind=] channel name qualifier', async () => {
    await publishAll('rw-time', 3);
    const c = realtime(port, { useBinaryProtocol: false });
    try {
      const got: string[] = [];
      await c.channels.get('[?rewind=1m]rw-time').subscribe((m) => void got.push(m.data as string));
      await waitFor(() => got.length === 3);
      expect(got).toEqual(['m0', 'm1', 'm2']);
    } finally {
      closeAll(c);
    }
  });

  it('delivers at most 100 messages and says so (90004)', async () => {
    const r = rest(port);
    await r.channels.get('rw-many').publish(Array.from({ length: 150 }, (_, i) => ({ name: 'x', data: `b${i}` })));
    const c = realtime(port);
    try {
      const got: string[] = [];
      const ch = c.channels.get('rw-many', { params: { rewind: '500' } });
      const reasons: (number | undefined)[] = [];
      ch.on('attached', (sc) => void reasons.push(sc.reason?.code));
      await ch.subscribe((m) => void got.push(m.data as string));
      await waitFor(() => got.length === 100);
      expect(got[0]).toBe('b50');
      expect(got[99]).toBe('b149');
      expect(reasons).toEqual([90004]);
    } finally {
      closeAll(c);
    }
  });

  it('asked for more than the channel has, delivers what there is with no error; rewindLimit caps a duration (rewind=1m&rewindLimit=2)', async () => {
    await publishAll('rw-few', 3);
    const c = realtime(port);
    try {
      const got: string[] = [];
      const reasons: (number | undefined)[] = [];
      const ch = c.channels.get('rw-few', { params: { rewind: '500' } });
      ch.on('attached', (sc) => void reasons.push(sc.reason?.code));
      await ch.subscribe((m) => void got.push(m.data as string));
      await waitFor(() => got.length === 3);
      // Ably: "If fewer than the requested number of messages exists … This does not constitute an error."
      expect(reasons).toEqual([undefined]);
      const limited: string[] = [];
      const lch = c.channels.get('rw-few-limit', { params: { rewind: '1m', rewindLimit: '2' } });
      await publishAll('rw-few-limit', 5);
      await lch.subscribe((m) => void limited.push(m.data as string));
      await publishAll('rw-few-limit', 1, 'live');
      await waitFor(() => limited.length === 3);
      expect(limited).toEqual(['m3', 'm4', 'live0']);
      expect(lch.params).toEqual({ rewind: '1m', rewindLimit: '2' });
      const bad = await c.channels.get('rw-bad-limit', { params: { rewind: '1m', rewindLimit: '0' } }).attach().then(() => null, (e: { code: number }) => e.code);
      expect(bad).toBe(40003);
    } finally {
      closeAll(c);
    }
  });

  it('fails the attach for a rewind it cannot read', async () => {
    const c = realtime(port);
    try {
      const err = await c.channels.get('rw-bad', { params: { rewind: 'lots' } }).attach().then(() => null, (e: { code: number }) => e);
      expect(err?.code).toBe(40003);
    } finally {
      closeAll(c);
    }
  });
});

describe('history', () => {
  it('returns exactly the messages before the attach point with untilAttach', async () => {
    await publishAll('until', 4, 'before');
    const c = realtime(port);
    try {
      const ch = c.channels.get('until');
      await ch.attach();
      await publishAll('until', 2, 'after');
      await waitFor(async () => (await rest(port).channels.get('until').history()).items.length === 6);
      const page = await ch.history({ untilAttach: true });
      expect(page.items.map((m) => m.data)).toEqual(['before3', 'before2', 'before1', 'before0']);
    } finally {
      closeAll(c);
    }
  });
});

describe('channel status, batch publish, idempotency and stats', () => {
  it('reports a channel\'s status with its occupancy', async () => {
    const c = realtime(port, { clientId: 'occ' });
    const c2 = realtime(d.port('r1-n2'));
    const c3 = realtime(d.port('r1-n2'));
    try {
      await c.channels.get('status-me').attach();
      await c.channels.get('status-me').presence.enter();
      await c2.channels.get('status-me', { modes: ['SUBSCRIBE'] }).attach();
      // May enter, has not: a presence connection all the same (Ably counts the mode).
      await c3.channels.get('status-me', { modes: ['PRESENCE'] }).attach();
      const details = await rest(d.port('r1-n2')).channels.get('status-me').status();
      expect(details.channelId).toBe('status-me');
      expect(details.status.isActive).toBe(true);
      expect(details.status.occupancy.metrics).toEqual({
        connections: 3,
        publishers: 1,
        subscribers: 2,
        presenceMembers: 1,
        presenceConnections: 2,
        presenceSubscribers: 1,
        objectPublishers: 0,
        objectSubscribers: 0,
      });
      // Both nodes were asked for their attachments, and both answered.
      expect((details as unknown as { occupancyNodes: unknown }).occupancyNodes).toEqual({ asked: 2, answered: 2 });
    } finally {
      closeAll(c, c2, c3);
    }
  });

  it('answers a browser: a CORS preflight with 204, and every answer (errors too) with the origin echoed, credentials allowed and the paging and error headers exposed', async () => {
    const base = `http://127.0.0.1:${port}`;
    const origin = 'https://app.example';
    const pre = await fetch(`${base}/channels/cors/messages`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(pre.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const auth = { authorization: `Basic ${Buffer.from('app.root:rootsecret').toString('base64')}`, origin };
    for (let i = 0; i < 3; i++) await rest(port).channels.get('cors').publish('x', `m${i}`);
    const page = await fetch(`${base}/channels/cors/messages?limit=2`, { headers: auth });
    expect(page.status).toBe(200);
    expect(page.headers.get('access-control-allow-origin')).toBe(origin);
    expect(page.headers.get('access-control-expose-headers')).toContain('link');
    expect(page.headers.get('link')).toContain('rel="next"');
    const refused = await fetch(`${base}/channels/cors/messages`, { headers: { origin } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(origin);
    expect(refused.headers.get('access-control-expose-headers')).toContain('x-ably-errorcode');
    // Without an Origin (not a browser), none of it; nor for the node's own health and metrics.
    expect((await fetch(`${base}/time`)).headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${base}/health`, { headers: { origin } })).headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${base}/metrics`, { method: 'OPTIONS', headers: { origin } })).status).not.toBe(204);
  });

  it('publishes a batch to many channels and reports each result', async () => {
    const r = rest(port);
    const sub = realtime(d.port('r1-n2'));
    try {
      const got: string[] = [];
      await sub.channels.get('batch-b').subscribe((m) => void got.push(m.data as string));
      const result = await r.batchPublish({ channels: ['batch-a', 'batch-b', ''], messages: [{ name: 'x', data: 'one' }, { name: 'x', data: 'two' }] });
      expect(result.successCount).toBe(2);
      expect(result.failureCount).toBe(1);
      expect((result.results[2] as any).error.code).toBe(40010);
      await waitFor(() => got.length === 2);
      expect(got).toEqual(['one', 'two']);
      const a = await r.channels.get('batch-a').history({ direction: 'forwards' });
      expect(a.items.map((m) => m.data)).toEqual(['one', 'two']);
    } finally {
      closeAll(sub);
    }
  });

  it("answers batchPresence with each channel's members, and a channel it cannot read with its error", async () => {
    const a = realtime(port, { clientId: 'ann' });
    const b = realtime(d.port('r1-n2'), { clientId: 'ben' });
    try {
      await a.channels.get('bp-1').presence.enter('here');
      await b.channels.get('bp-1').presence.enter();
      await b.channels.get('bp-2').presence.enter('there');
      // One BatchResult (ably.d.ts says an array of them; the SDK's own type, and Ably's answer, is one).
      const result = (await rest(port).batchPresence(['bp-1', 'bp-2', 'bp-none', '[meta]x'])) as unknown as { successCount: number; failureCount: number; results: unknown[] };
      expect(result.successCount).toBe(3);
      expect(result.failureCount).toBe(1);
      const [one, two, none, bad] = result.results as any[];
      expect(one.channel).toBe('bp-1');
      expect(one.presence.map((m: any) => m.clientId).sort()).toEqual(['ann', 'ben']);
      expect(one.presence.find((m: any) => m.clientId === 'ann').data).toBe('here');
      expect(two.presence.map((m: any) => [m.clientId, m.data])).toEqual([['ben', 'there']]);
      expect(none).toEqual({ channel: 'bp-none', presence: [] });
      expect(bad.error.code).toBe(40010);
    } finally {
      closeAll(a, b);
    }
  });

  it('enumerates the active channels of the region (GET /channels) by name or with details, by prefix, page by page, as far as the key may see', async () => {
    const r = rest(port);
    for (const ch of ['enum-b', 'enum-a', 'enum-c', 'other-enum']) await r.channels.get(ch).publish('x', 'here');
    const page1 = await r.request('get', '/channels', 3, { prefix: 'enum-', by: 'id', limit: 2 }, null);
    expect(page1.statusCode).toBe(200);
    expect(page1.items).toEqual(['enum-a', 'enum-b']);
    expect(page1.hasNext()).toBe(true);
    // A channel that sorts before the cursor, new between the pages, does not bring one of page 1 back.
    await r.channels.get('enum-0').publish('x', 'here');
    const page2 = await page1.next();
    expect(page2!.items).toEqual(['enum-c']);
    expect(page2!.hasNext()).toBe(false);
    const details = await r.request('get', '/channels', 3, { prefix: 'enum-a' }, null);
    expect(details.items).toHaveLength(1);
    expect(details.items[0]).toMatchObject({ channelId: 'enum-a', name: 'enum-a', status: { isActive: true, occupancy: { metrics: { connections: 0 } } } });
    // A key that may only publish to pub:* sees none of them.
    const pubOnly = await rest(port, { key: PUB_ONLY_KEY }).request('get', '/channels', 3, { prefix: 'enum-', by: 'id' }, null);
    expect(pubOnly.statusCode).toBe(200); // answered, with none it may see (not refused)
    expect(pubOnly.items).toEqual([]);
    const bad = await r.request('get', '/channels', 3, { by: 'everything' }, null);
    expect(bad.statusCode).toBe(400);
    expect(bad.errorCode).toBe(40003);
  });

  // Each node lists a page of the app's channels (the first limit + 1 after the cursor);
  // before, every node sent every channel of every app for each request.
  it('pages GET /channels over channels mastered on both nodes: every one once and in order, and a key that sees one finds it', async () => {
    const r = rest(port);
    const names = Array.from({ length: 24 }, (_, i) => `walk-${String(i).padStart(2, '0')}`);
    await Promise.all([...names, 'open'].map((ch) => r.channels.get(ch).publish('x', 'here')));
    const seen: string[] = [];
    type Page = { items: unknown[]; hasNext(): boolean; next(): Promise<Page | null> };
    let page: Page = await r.request('get', '/channels', 3, { prefix: 'walk-', by: 'id', limit: 5 }, null);
    for (let i = 0; i < 10; i++) {
      seen.push(...(page.items as string[]));
      if (!page.hasNext()) break;
      page = (await page.next())!;
    }
    expect(seen).toEqual(names);
    // Masters on both nodes: the pages merged what each node gave.
    const masters = new Set(await Promise.all(names.map(async (n) => (await r.request('get', `/channels/${n}`, 3, {}, null)).items[0].master)));
    expect(masters.size).toBe(2);
    // A key that may see only `open`: pages without it are empty, with a next link, up to it.
    const found: string[] = [];
    let p: Page = await rest(port, { key: PUB_ONLY_KEY }).request('get', '/channels', 3, { by: 'id', limit: 3 }, null);
    for (let i = 0; i < 50; i++) {
      found.push(...(p.items as string[]));
      if (!p.hasNext()) break;
      p = (await p.next())!;
    }
    expect(found).toEqual(['open']);
  });

  it('pages presence members by key: a member leaving between pages makes the next page skip no one still there', async () => {
    const c = realtime(port);
    try {
      const p = c.channels.get('presence-pages').presence;
      for (let i = 0; i < 5; i++) await p.enterClient(`c${i}`);
      const r = rest(d.port('r1-n2'));
      const page1 = await r.channels.get('presence-pages').presence.get({ limit: 2 });
      expect(page1.items.map((m) => m.clientId)).toEqual(['c0', 'c1']);
      await p.leaveClient('c0');
      await waitFor(async () => (await r.channels.get('presence-pages').presence.get()).items.length === 4, { what: 'c0 gone' });
      const page2 = await page1.next();
      expect(page2!.items.map((m) => m.clientId)).toEqual(['c2', 'c3']);
      const page3 = await page2!.next();
      expect(page3!.items.map((m) => m.clientId)).toEqual(['c4']);
      expect(page3!.hasNext()).toBe(false);
    } finally {
      closeAll(c);
    }
  });

  it('stores a message once when the same id is published over REST and realtime', async () => {
    const r = rest(port);
    const c = realtime(d.port('r1-n2'));
    try {
      await connected(c);
      await r.channels.get('idem-both').publish({ id: 'shared-id', name: 'x', data: 'first' });
      await c.channels.get('idem-both').publish({ id: 'shared-id', name: 'x', data: 'first' });
      await r.channels.get('idem-both').publish({ id: 'shared-id', name: 'x', data: 'first' });
      const page = await r.channels.get('idem-both').history();
      expect(page.items.map((m) => m.id)).toEqual(['shared-id']);
    } finally {
      closeAll(c);
    }
  });

  it('counts messages, connections and channels in /stats, across the region\'s nodes', async () => {
    const a = realtime(port);
    const b = realtime(d.port('r1-n2'));
    try {
      await b.channels.get('stats-ch').subscribe(() => undefined);
      for (let i = 0; i < 5; i++) await a.channels.get('stats-ch').publish('x', 'y');
      const r = rest(port);
      const read = async () => (await r.stats({ unit: 'minute', limit: 5 })).items;
      const items = await waitFor(async () => {
        const s = await read();
        return s.length > 0 && (s[0]!.entries['messages.inbound.realtime.messages.count'] ?? 0) >= 5 ? s : null;
      });
      const e = items[0]!.entries;
      expect(e['messages.outbound.realtime.messages.count']).toBeGreaterThanOrEqual(5);
      expect(e['connections.all.opened']).toBeGreaterThanOrEqual(2);
      expect(e['connections.all.peak']).toBeGreaterThanOrEqual(2);
      expect(e['channels.opened']).toBeGreaterThanOrEqual(1);
      expect(items[0]!.intervalId).toMatch(/^\d{4}-\d\d-\d\d:\d\d:\d\d$/);
      const hours = await r.stats({ unit: 'hour' });
      expect(hours.items[0]!.intervalId).toMatch(/^\d{4}-\d\d-\d\d:\d\d$/);
      expect(hours.items[0]!.entries['messages.inbound.realtime.messages.count']).toBeGreaterThanOrEqual(5);
    } finally {
      closeAll(a, b);
    }
  });
});
