import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChannelInterest } from '../../../src/channel/channel-interest.js';
import { ChannelLifecycle, COUNTS_WAIT_MS, homeRegion, lifecycleEventId, RETRY_MS, type LifecycleDeps } from '../../../src/channel/lifecycle.js';
import type { Message } from '../../../src/protocol/message.js';

const KEY = 'app:room';
const DELAY = 1000;
const COUNTS = { local: { connections: 2, publishers: 1, subscribers: 2, presenceSubscribers: 2, presenceConnections: 1 }, total: { connections: 5, publishers: 1, subscribers: 5, presenceSubscribers: 5, presenceConnections: 1 }, members: 1 };

interface Harness {
  lc: ChannelLifecycle;
  interest: ChannelInterest;
  published: Message[][];
  attached: { now: boolean };
  counts: { now: typeof COUNTS | null };
  fail: { next: number };
  changed: { n: number };
}

function harness(o: { home?: boolean; interest?: ChannelInterest } = {}): Harness {
  const interest = o.interest ?? new ChannelInterest();
  const published: Message[][] = [];
  const attached = { now: false };
  const counts: { now: typeof COUNTS | null } = { now: COUNTS };
  const fail = { next: 0 };
  const changed = { n: 0 };
  const deps: Omit<LifecycleDeps, 'changed'> = {
    region: 'r1',
    home: o.home ?? true,
    delayMs: DELAY,
    now: () => Date.now(),
    elapsed: () => Date.now(),
    publish: async (messages) => {
      if (fail.next > 0) {
        fail.next--;
        throw new Error('master moving');
      }
      published.push(messages);
    },
    counts: () => counts.now,
  };
  const lc = new ChannelLifecycle(KEY, interest, { ...deps, changed: () => changed.n++ }, () => attached.now);
  return { lc, interest, published, attached, counts, fail, changed };
}

const names = (h: Harness) => h.published.flat().map((m) => m.name);
const data = (m: Message) => JSON.parse(m.data as string);

/** Lets the publish's promise settle (what was announced is taken then). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('ChannelLifecycle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_700_000_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('announces a channel opened and active once, and its end after the delay without attachments', async () => {
    const h = harness();
    h.attached.now = true;
    h.interest.set(1_700_000_000_000);
    h.lc.reconcile();
    await settle();
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active']);
    const [opened, active] = h.published[0]!;
    expect(data(opened!)).toEqual({ channelId: 'room', status: { isActive: true, occupancy: { metrics: expect.objectContaining({ connections: 5, presenceMembers: 1, objectPublishers: 0 }) } } });
    expect(data(active!)).toEqual({ channelId: 'room', region: 'r1', isGlobalMaster: true, status: { isActive: true, occupancy: { metrics: expect.objectContaining({ connections: 2, presenceMembers: 1 }) } } });
    expect(active!.encoding).toBe('json');
    expect(h.interest.announced).toEqual({ region: 1_700_000_000_000, global: 1_700_000_000_000 });
    expect(h.changed.n).toBe(1);
    // Nothing new while it stays attached.
    h.lc.reconcile();
    await settle();
    expect(h.published).toHaveLength(1);

    h.attached.now = false;
    h.interest.set(0);
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY - 10);
    expect(h.published).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20);
    await settle();
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active', 'channel.region.inactive', 'channel.closed']);
    const [inactive, closed] = h.published[1]!;
    // An end's id names the start it ends: the same wherever it is made again.
    expect(inactive!.id).toBe(lifecycleEventId(KEY, 'channel.region.inactive', 'r1', 1_700_000_000_000));
    expect(closed!.id).toBe(lifecycleEventId(KEY, 'channel.closed', 'r1', 1_700_000_000_000));
    expect(data(closed!).status).toEqual({ isActive: false, occupancy: { metrics: expect.objectContaining({ connections: 0 }) } });
    expect(h.interest.announced).toEqual({ region: 0, global: 0 });
  });

  it('says nothing when attachments come back within the delay', async () => {
    const h = harness();
    h.attached.now = true;
    h.interest.set(1_700_000_000_000);
    h.lc.reconcile();
    await settle();
    h.attached.now = false;
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY / 2);
    h.attached.now = true;
    h.interest.set(1_700_000_000_500);
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY * 3);
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active']);
    // The activity announced is still the first one's.
    expect(h.interest.announced.region).toBe(1_700_000_000_000);
  });

  it('outside the home region: the region events only', async () => {
    const h = harness({ home: false });
    h.attached.now = true;
    h.interest.set(1_700_000_000_000);
    h.lc.reconcile();
    await settle();
    expect(names(h)).toEqual(['channel.region.active']);
    expect(data(h.published[0]![0]!).isGlobalMaster).toBe(false);
    h.attached.now = false;
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(names(h)).toEqual(['channel.region.active', 'channel.region.inactive']);
  });

  it('in the home region: opened by another region, closed once none is left', async () => {
    const h = harness();
    h.interest.setRemote(new Map([['r2', 1_699_999_999_000]]));
    h.lc.reconcile();
    await settle();
    expect(names(h)).toEqual(['channel.opened']);
    // The deployment's start: the earliest region's.
    expect(h.interest.announced).toEqual({ region: 0, global: 1_699_999_999_000 });
    h.interest.setRemote(new Map([['r3', 1_700_000_000_000]]));
    h.lc.reconcile();
    h.interest.setRemote(new Map());
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(names(h)).toEqual(['channel.opened', 'channel.closed']);
    expect(h.published[1]![0]!.id).toBe(lifecycleEventId(KEY, 'channel.closed', 'r1', 1_699_999_999_000));
  });

  it('a master that takes over what was announced says neither start again, and ends it if no attachment comes', async () => {
    const before = new ChannelInterest();
    before.setAnnounced({ region: 1_699_000_000_000, global: 1_699_000_000_000 });
    // As the replica has it (replication's fields).
    const taken = new ChannelInterest();
    taken.apply(before.takeMoved());
    expect(taken.announced).toEqual({ region: 1_699_000_000_000, global: 1_699_000_000_000 });
    const h = harness({ interest: taken });
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(names(h)).toEqual(['channel.region.inactive', 'channel.closed']);
    expect(h.published[0]![0]!.id).toBe(lifecycleEventId(KEY, 'channel.region.inactive', 'r1', 1_699_000_000_000));

    // And one whose attachments come back says nothing.
    const again = new ChannelInterest();
    again.setAnnounced({ region: 1_699_000_000_000, global: 1_699_000_000_000 });
    const h2 = harness({ interest: again });
    h2.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY / 2);
    h2.attached.now = true;
    h2.interest.set(1_699_000_000_000);
    h2.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY * 2);
    expect(h2.published).toEqual([]);
  });

  it('tries a publish that failed again, with the same ids, and announces only once it is taken', async () => {
    const h = harness();
    h.fail.next = 2;
    h.attached.now = true;
    h.interest.set(1_700_000_000_000);
    h.lc.reconcile();
    await settle();
    expect(h.published).toHaveLength(0);
    expect(h.interest.announced).toEqual({ region: 0, global: 0 });
    await vi.advanceTimersByTimeAsync(RETRY_MS * 2 + 10);
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active']);
    expect(h.published[0]![1]!.id).toBe(lifecycleEventId(KEY, 'channel.region.active', 'r1', 1_700_000_000_000));
    expect(h.interest.announced.region).toBe(1_700_000_000_000);
  });

  it("waits a little for the attachments' counts, then goes without them", async () => {
    const h = harness();
    h.counts.now = null;
    h.attached.now = true;
    h.interest.set(1_700_000_000_000);
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(300);
    expect(h.published).toHaveLength(0);
    h.counts.now = COUNTS;
    await vi.advanceTimersByTimeAsync(150);
    expect(data(h.published[0]![1]!).status.occupancy.metrics.connections).toBe(2);

    const late = harness({ home: false });
    late.counts.now = null;
    late.attached.now = true;
    late.interest.set(1_700_000_000_000);
    late.lc.reconcile();
    await vi.advanceTimersByTimeAsync(COUNTS_WAIT_MS + 200);
    expect(data(late.published[0]![0]!).status.occupancy.metrics.connections).toBe(0);
  });

  it('a stopped one makes nothing more', async () => {
    const h = harness();
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    h.attached.now = false;
    h.lc.reconcile();
    h.lc.stop();
    await vi.advanceTimersByTimeAsync(DELAY * 2);
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active']);
  });
});

describe('homeRegion', () => {
  it('names the same region whatever the order, and spreads channels over the regions', () => {
    const regions = ['eu', 'us', 'ap'];
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const home = homeRegion(`app:c${i}`, regions);
      expect(homeRegion(`app:c${i}`, [...regions].reverse())).toBe(home);
      counts.set(home, (counts.get(home) ?? 0) + 1);
    }
    for (const r of regions) expect(counts.get(r)).toBeGreaterThan(800);
    // A region added takes channels only for itself.
    for (let i = 0; i < 300; i++) {
      const before = homeRegion(`app:c${i}`, regions);
      const after = homeRegion(`app:c${i}`, [...regions, 'sa']);
      expect(after === before || after === 'sa').toBe(true);
    }
  });
});
