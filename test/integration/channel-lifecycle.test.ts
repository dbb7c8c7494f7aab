/**
 * [meta]channel.lifecycle with the real SDK across two regions: each region's activity
 * (channel.region.active / inactive) told by the channel's master there, the deployment's
 * (channel.opened / closed) by its home region's, each event once in every region; a
 * master killed while an end is pending; what a metachannel refuses.
 */
import { describe, expect, it } from 'vitest';
import { regionsDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { META_KEY, SUB_KEY } from '../helpers/topology.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { homeRegion, LIFECYCLE_CHANNEL } from '../../src/channel/lifecycle.js';

const DELAY_MS = 2000;
const R1 = ['r1-n1', 'r1-n2', 'r1-n3'];
const REGIONS = ['r1', 'r2'];
const deployment = regionsDeployment(
  [
    { name: 'r1', nodes: 3 },
    { name: 'r2', nodes: 1 },
  ],
  { limits: { channelInactiveDelayMs: DELAY_MS, occupancyIntervalMs: 200 } },
);

interface Seen {
  id: string;
  name: string;
  channelId: string;
  region?: string;
  isGlobalMaster?: boolean;
  isActive: boolean;
  connections: number;
}

/** A client subscribed to the metachannel: every event it is sent, in order. */
async function watch(port: number): Promise<{ client: Realtime; events: Seen[]; of(channel: string): string[]; seq(channel: string, region?: string): string[] }> {
  const client = realtime(port, { key: META_KEY });
  const events: Seen[] = [];
  await client.channels.get(LIFECYCLE_CHANNEL).subscribe((m) => {
    const data = m.data as { channelId: string; region?: string; isGlobalMaster?: boolean; status: { isActive: boolean; occupancy: { metrics: { connections: number } } } };
    events.push({ id: m.id!, name: m.name!, channelId: data.channelId, region: data.region, isGlobalMaster: data.isGlobalMaster, isActive: data.status.isActive, connections: data.status.occupancy.metrics.connections });
  });
  const of = (channel: string) => events.filter((e) => e.channelId === channel).map((e) => (e.region ? `${e.name}@${e.region}` : e.name));
  /** A region's events of a channel in the order they came (none: the deployment's). */
  const seq = (channel: string, region?: string) => events.filter((e) => e.channelId === channel && e.region === region).map((e) => e.name);
  return { client, events, of, seq };
}

/** A channel name (prefix-n) homed in `home` and mastered in r1 by `owner`. */
function channelFor(home: string, owner: string, prefix: string): string {
  for (let i = 0; i < 1000; i++) {
    const name = channelMasteredBy(R1, owner, `${prefix}${i}`);
    if (homeRegion(`app:${name}`, REGIONS) === home) return name;
  }
  throw new Error('no channel');
}

describe('[meta]channel.lifecycle', () => {
  it('tells each region active and inactive, and the deployment opened and closed, once in every region', { timeout: 60_000 }, async () => {
    const channel = channelFor('r1', 'r1-n2', 'lc-both-');
    const w1 = await watch(deployment().port('r1-n1'));
    const w2 = await watch(deployment().port('r2-n1'));
    const a = realtime(deployment().port('r1-n3'));
    const b = realtime(deployment().port('r2-n1'));
    try {
      await a.channels.get(channel).attach();
      const opening = ['channel.opened', 'channel.region.active@r1'];
      await waitFor(() => w1.of(channel).length >= 2 && w2.of(channel).length >= 2, { what: 'opened and active in r1, in both regions', timeoutMs: 10_000 });
      expect(w1.of(channel).sort()).toEqual(opening);
      expect(w2.of(channel).sort()).toEqual(opening);
      const active = w1.events.find((e) => e.channelId === channel && e.name === 'channel.region.active')!;
      expect(active).toMatchObject({ region: 'r1', isGlobalMaster: true, isActive: true, connections: 1 });

      await b.channels.get(channel).attach();
      await waitFor(() => w1.of(channel).includes('channel.region.active@r2') && w2.of(channel).includes('channel.region.active@r2'), { what: 'active in r2', timeoutMs: 10_000 });
      expect(w2.events.find((e) => e.channelId === channel && e.region === 'r2')).toMatchObject({ isGlobalMaster: false, isActive: true, connections: 1 });

      // r1's last attachment goes: r1 inactive after the delay, the channel still open (r2 has one).
      const left = Date.now();
      await a.channels.get(channel).detach();
      await waitFor(() => w1.of(channel).includes('channel.region.inactive@r1') && w2.of(channel).includes('channel.region.inactive@r1'), { what: 'inactive in r1', timeoutMs: 10_000 });
      expect(Date.now() - left).toBeGreaterThanOrEqual(DELAY_MS - 50);
      expect(w1.of(channel)).not.toContain('channel.closed');

      await b.channels.get(channel).detach();
      await waitFor(() => w1.of(channel).includes('channel.closed') && w2.of(channel).includes('channel.closed'), { what: 'closed', timeoutMs: 10_000 });
      const all = ['channel.closed', 'channel.opened', 'channel.region.active@r1', 'channel.region.active@r2', 'channel.region.inactive@r1', 'channel.region.inactive@r2'];
      await waitFor(() => w1.of(channel).length >= 6 && w2.of(channel).length >= 6, { what: 'every event in both', timeoutMs: 5_000 });
      // No event twice: another delay's worth of time brings nothing more.
      await sleep(DELAY_MS * 2);
      expect(w1.of(channel).sort()).toEqual(all);
      expect(w2.of(channel).sort()).toEqual(all);
      // And in order, each region's and the deployment's.
      for (const w of [w1, w2]) {
        expect(w.seq(channel)).toEqual(['channel.opened', 'channel.closed']);
        for (const r of REGIONS) expect(w.seq(channel, r)).toEqual(['channel.region.active', 'channel.region.inactive']);
      }
      const closed = w1.events.find((e) => e.channelId === channel && e.name === 'channel.closed')!;
      expect(closed).toMatchObject({ isActive: false, connections: 0 });
      expect(closed.region).toBeUndefined();

      // History keeps them, in each region.
      const page = await rest(deployment().port('r2-n1'), { key: META_KEY }).channels.get(LIFECYCLE_CHANNEL).history({ limit: 1000 });
      expect(page.items.filter((m) => (m.data as { channelId: string }).channelId === channel).map((m) => m.name).sort()).toEqual(all.map((x) => x.split('@')[0]).sort());
    } finally {
      closeAll(a, b, w1.client, w2.client);
    }
  });

  it('a channel only another region attaches to is opened and closed by its home region', { timeout: 60_000 }, async () => {
    const channel = channelFor('r1', 'r1-n1', 'lc-away-');
    const w2 = await watch(deployment().port('r2-n1'));
    const b = realtime(deployment().port('r2-n1'));
    try {
      await b.channels.get(channel).attach();
      await waitFor(() => w2.of(channel).includes('channel.opened') && w2.of(channel).includes('channel.region.active@r2'), { what: 'opened by r1, active in r2', timeoutMs: 10_000 });
      expect(w2.of(channel).sort()).toEqual(['channel.opened', 'channel.region.active@r2']);
      await b.channels.get(channel).detach();
      await waitFor(() => w2.of(channel).includes('channel.closed'), { what: 'closed by r1', timeoutMs: 10_000 });
      await sleep(DELAY_MS);
      expect(w2.of(channel).sort()).toEqual(['channel.closed', 'channel.opened', 'channel.region.active@r2', 'channel.region.inactive@r2']);
    } finally {
      closeAll(b, w2.client);
    }
  });

  it('says nothing when a channel is attached again within the delay', { timeout: 30_000 }, async () => {
    const channel = channelFor('r2', 'r1-n2', 'lc-back-');
    const w1 = await watch(deployment().port('r1-n1'));
    const a = realtime(deployment().port('r1-n3'));
    try {
      const ch = a.channels.get(channel);
      await ch.attach();
      await waitFor(() => w1.of(channel).length >= 2, { what: 'active and opened', timeoutMs: 10_000 });
      await ch.detach();
      // Its node's last attachment gone: the master sees the region's interest end (no node
      // subscribed there), then begin again.
      await waitFor(async () => ((await rest(deployment().port('r1-n1')).channels.get(channel).status()) as { subscriberNodes?: string[] }).subscriberNodes?.length === 0, {
        what: 'no node subscribed at the master',
        timeoutMs: 5_000,
      });
      await ch.attach();
      await sleep(DELAY_MS * 2);
      expect(w1.of(channel).sort()).toEqual(['channel.opened', 'channel.region.active@r1']);
      expect(w1.events.find((e) => e.channelId === channel && e.region === 'r1')!.isGlobalMaster).toBe(false);
    } finally {
      closeAll(a, w1.client);
    }
  });

  it('refuses to publish or be present on the metachannel, other metachannels, and subscribers without the capability', { timeout: 30_000 }, async () => {
    const c = realtime(deployment().port('r1-n1'), { key: META_KEY, clientId: 'me' });
    const s = realtime(deployment().port('r1-n1'), { key: SUB_KEY });
    try {
      const meta = c.channels.get(LIFECYCLE_CHANNEL);
      await expect(meta.publish('x', 'y')).rejects.toMatchObject({ code: 40160, statusCode: 401 });
      await expect(meta.presence.enter('me')).rejects.toMatchObject({ code: 40160 });
      await expect(rest(deployment().port('r1-n2'), { key: META_KEY }).channels.get(LIFECYCLE_CHANNEL).publish('x', 'y')).rejects.toMatchObject({ code: 40160 });
      await expect(c.channels.get('[meta]log').attach()).rejects.toMatchObject({ code: 40010 });
      // `*` does not cover a [meta] name: the capability must name it.
      await expect(s.channels.get(LIFECYCLE_CHANNEL).attach()).rejects.toMatchObject({ code: 40160 });
    } finally {
      closeAll(c, s);
    }
  });

  it("ends what a killed master had announced, once: its replica's master tells it", { timeout: 90_000 }, async () => {
    const channel = channelFor('r1', 'r1-n3', 'lc-kill-');
    const w1 = await watch(deployment().port('r1-n1'));
    const w2 = await watch(deployment().port('r2-n1'));
    const a = realtime(deployment().port('r1-n2'));
    try {
      await a.channels.get(channel).attach();
      await waitFor(() => w1.of(channel).length >= 2 && w2.of(channel).length >= 2, { what: 'opened and active', timeoutMs: 10_000 });
      // (What is told is written to the replica before it is published.)
      await a.channels.get(channel).detach();
      await deployment().sup.kill('r1-n3');
      const ends = ['channel.closed', 'channel.opened', 'channel.region.active@r1', 'channel.region.inactive@r1'];
      await waitFor(() => w2.of(channel).length >= 4, { what: 'inactive and closed after the kill', timeoutMs: 30_000 });
      await sleep(DELAY_MS * 2);
      expect(w2.of(channel).sort()).toEqual(ends);
      await waitFor(() => w1.of(channel).length >= 4, { what: "r1's watcher back on its channel", timeoutMs: 20_000 });
      expect(w1.of(channel).sort()).toEqual(ends);
    } finally {
      closeAll(a, w1.client, w2.client);
    }
  });
});
