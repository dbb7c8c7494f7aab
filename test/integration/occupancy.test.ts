/**
 * Occupancy events (Ably's inband occupancy, the `occupancy` channel param) on a region of
 * three nodes, with the real SDK: the counts are every node's attachments by mode, added
 * up at the channel's master, and the presence set's size; a client is sent an event when
 * a count it asked for changes; and after the master is killed the counts go on from every
 * node's attachments, without showing one node's share as the whole.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { ringOf } from '../helpers/region.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, realtime, type Realtime } from '../helpers/sdk.js';
import { SUB_KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';
import { watchOccupancy, type Metrics } from '../helpers/occupancy.js';

const NODES = ['r1-n1', 'r1-n2', 'r1-n3'];
let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }] });
  await ringOf(d, 3);
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

const ALL = (o: Partial<Metrics>): Metrics => ({
  connections: 0,
  publishers: 0,
  subscribers: 0,
  presenceConnections: 0,
  presenceMembers: 0,
  presenceSubscribers: 0,
  objectPublishers: 0,
  objectSubscribers: 0,
  ...o,
});

describe('occupancy events', () => {
  it("count every node's attachments by mode, and the presence set", { timeout: 60_000 }, async () => {
    const channel = channelMasteredBy(NODES, 'r1-n3', 'occ-modes');
    const w = realtime(d.port('r1-n1'));
    const p = realtime(d.port('r1-n2'));
    const s = realtime(d.port('r1-n3'), { clientId: 'sam' });
    try {
      const watcher = await watchOccupancy(w, channel);
      // Its own attachment, at once: a count went from zero.
      await waitFor(() => watcher.events.length > 0, { what: 'a first event', timeoutMs: 5_000 });
      expect(watcher.events[0]).toEqual(ALL({ connections: 1, publishers: 1, subscribers: 1, presenceConnections: 1, presenceSubscribers: 1 }));
      await p.channels.get(channel, { modes: ['PUBLISH'] }).attach();
      const sc = s.channels.get(channel, { modes: ['SUBSCRIBE', 'PRESENCE', 'PRESENCE_SUBSCRIBE'] });
      await sc.presence.enter('here');
      const full = ALL({ connections: 3, publishers: 2, subscribers: 2, presenceConnections: 2, presenceMembers: 1, presenceSubscribers: 2 });
      await waitFor(() => isDeepStrictEqual(watcher.last(), full), { what: 'all three attachments and the member', timeoutMs: 10_000 });
      // A client that leaves: gone from every count, and its member from the set.
      s.close();
      const after = ALL({ connections: 2, publishers: 2, subscribers: 1, presenceConnections: 1, presenceSubscribers: 1 });
      await waitFor(() => isDeepStrictEqual(watcher.last(), after), { what: 'the counts without it', timeoutMs: 10_000 });
      // An event only where something changed.
      for (let i = 1; i < watcher.events.length; i++) expect(watcher.events[i]).not.toEqual(watcher.events[i - 1]);
    } finally {
      closeAll(w, p, s);
    }
  });

  it('send one category where one is asked for, over JSON, and only when it changes', { timeout: 60_000 }, async () => {
    const channel = channelMasteredBy(NODES, 'r1-n1', 'occ-one');
    const w = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    const all = realtime(d.port('r1-n3'));
    const m = realtime(d.port('r1-n1'), { clientId: 'mo' });
    try {
      const conns = await watchOccupancy(w, channel, 'metrics.connections');
      expect(w.channels.get(channel).params).toEqual({ occupancy: 'metrics.connections' });
      const full = await watchOccupancy(all, channel);
      await waitFor(() => conns.last()?.connections === 2, { what: 'two connections', timeoutMs: 10_000 });
      expect(conns.events.every((e) => Object.keys(e).join() === 'connections')).toBe(true);
      const mc = m.channels.get(channel);
      await mc.attach();
      await waitFor(() => conns.last()?.connections === 3 && full.last()?.connections === 3, { what: 'three connections', timeoutMs: 10_000 });
      const seen = conns.events.length;
      // A member enters: the full watcher is told, the connections watcher is not.
      await mc.presence.enter('in');
      await waitFor(() => full.last()?.presenceMembers === 1, { what: 'the member counted', timeoutMs: 10_000 });
      m.close();
      await waitFor(() => conns.last()?.connections === 2, { what: 'two connections again', timeoutMs: 10_000 });
      expect(conns.events.length).toBe(seen + 1);
      // Every event of the connections watcher, to the last, had that category alone.
      expect(conns.events.every((e) => Object.keys(e).join() === 'connections')).toBe(true);
    } finally {
      closeAll(w, all, m);
    }
  });

  it('refuse a param it cannot read (40003), and a client without channel-metadata (40160)', { timeout: 30_000 }, async () => {
    const a = realtime(d.port('r1-n1'));
    const b = realtime(d.port('r1-n1'), { key: SUB_KEY });
    try {
      const bad = await a.channels
        .get('occ-bad', { params: { occupancy: 'metrics.everything' } })
        .attach()
        .catch((e) => e);
      expect(bad.code).toBe(40003);
      const denied = await b.channels
        .get('occ-denied', { params: { occupancy: 'metrics' } })
        .attach()
        .catch((e) => e);
      expect(denied.code).toBe(40160);
      // The same key attaches where it asks for no occupancy.
      await b.channels.get('occ-denied-plain').attach();
    } finally {
      closeAll(a, b);
    }
  });

  it("go on from every node's attachments after the channel's master is killed", { timeout: 90_000 }, async () => {
    const channel = channelMasteredBy(NODES, 'r1-n3', 'occ-failover');
    // A watcher on each node left: whichever reports first to the new master, it must not be told its share as the whole.
    const w1 = realtime(d.port('r1-n1'));
    const w2 = realtime(d.port('r1-n2'));
    let s3: Realtime | undefined;
    try {
      const watchers = [await watchOccupancy(w1, channel), await watchOccupancy(w2, channel)];
      await waitFor(() => watchers.every((w) => w.last()?.connections === 2), { what: 'two connections', timeoutMs: 10_000 });
      const before = watchers.map((w) => w.events.length);
      await d.sup.kill('r1-n3');
      await ringOf(d, 2);
      // The new master has both nodes' attachments: one more is counted on top of both.
      s3 = realtime(d.port('r1-n2'));
      await s3.channels.get(channel).attach();
      await waitFor(() => watchers.every((w) => w.last()?.connections === 3), { what: 'three connections at the new master', timeoutMs: 15_000 });
      for (const [i, w] of watchers.entries()) {
        const since = w.events.slice(before[i]).map((e) => e.connections);
        expect(since.every((n) => n >= 2), `connections told on n${i + 1} after the kill: ${since.join(', ')}`).toBe(true);
      }
    } finally {
      closeAll(w1, w2, s3);
      await d.sup.restart('r1-n3');
    }
  });
});
