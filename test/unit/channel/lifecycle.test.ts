import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChannelInterest, NOTHING_ANNOUNCED, type Announced } from '../../../src/channel/channel-interest.js';
import { ChannelLifecycle, COUNTS_WAIT_MS, HOME_TAKES_AT_ONCE, HomeTakes, homeRegion, lifecycleEventId, RETRY_MS, TOLD_REPLICATED_WITHIN_MS, type LifecycleDeps } from '../../../src/channel/lifecycle.js';
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
  changed: { n: number; fail: boolean };
  /** The messages of every publish tried, taken or not. */
  tried: Message[][];
}

function harness(o: { home?: boolean; interest?: ChannelInterest } = {}): Harness {
  const interest = o.interest ?? new ChannelInterest();
  const published: Message[][] = [];
  const attached = { now: false };
  const counts: { now: typeof COUNTS | null } = { now: COUNTS };
  const fail = { next: 0 };
  const changed = { n: 0, fail: false };
  const tried: Message[][] = [];
  const deps: Omit<LifecycleDeps, 'changed'> = {
    region: 'r1',
    home: o.home ?? true,
    delayMs: DELAY,
    now: () => Date.now(),
    elapsed: () => Date.now(),
    publish: async (messages) => {
      tried.push(messages);
      if (fail.next > 0) {
        fail.next--;
        throw new Error('master moving');
      }
      published.push(messages);
    },
    counts: () => counts.now,
  };
  const lc = new ChannelLifecycle(
    KEY,
    interest,
    {
      ...deps,
      changed: async () => {
        changed.n++;
        if (changed.fail) throw new Error('not replicated');
      },
    },
    () => attached.now,
  );
  return { lc, interest, published, attached, counts, fail, changed, tried };
}

const names = (h: Harness) => h.published.flat().map((m) => m.name);
const data = (m: Message) => JSON.parse(m.data as string);

/** Lets the publish's promise settle (what was announced is taken then). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

const T0 = 1_700_000_000_000;
const announced = (a: Partial<Announced>): Announced => ({ ...NOTHING_ANNOUNCED, ...a });

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
    // Written ahead (untold, replicated before the publish), then told: that goes with the
    // channel's next replication, or one of its own a second later.
    expect(h.interest.announced).toEqual(announced({ region: T0, global: T0 }));
    expect(h.changed.n).toBe(1);
    expect(h.lc.busy).toBe(true);
    await vi.advanceTimersByTimeAsync(TOLD_REPLICATED_WITHIN_MS);
    expect(h.changed.n).toBe(2);
    expect(h.lc.busy).toBe(false);
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
    expect(h.interest.announced).toEqual(announced({ regionEnded: T0, globalEnded: T0 }));
  });

  it('makes no replication of its own for what was told where the channel replicated meanwhile', async () => {
    const h = harness({ home: false });
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    expect(h.changed.n).toBe(1);
    // A publish's replication carries it.
    h.interest.takeMoved();
    await vi.advanceTimersByTimeAsync(TOLD_REPLICATED_WITHIN_MS);
    expect(h.changed.n).toBe(1);
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
    expect(h.interest.announced.region).toBe(T0);
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
    expect(h.interest.announced).toEqual(announced({ global: T0 }));
    h.interest.setRemote(new Map([['r3', 1_700_000_000_000]]));
    h.lc.reconcile();
    h.interest.setRemote(new Map());
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(names(h)).toEqual(['channel.opened', 'channel.closed']);
    expect(h.published[1]![0]!.id).toBe(lifecycleEventId(KEY, 'channel.closed', 'r1', T0));
  });

  it('a master that takes over what was announced says neither start again, and ends it if no attachment comes', async () => {
    const before = new ChannelInterest();
    before.setAnnounced(announced({ region: 1_699_000_000_000, global: 1_699_000_000_000 }));
    // As the replica has it (replication's fields).
    const taken = new ChannelInterest();
    taken.apply(before.takeMoved());
    expect(taken.announced).toEqual(announced({ region: 1_699_000_000_000, global: 1_699_000_000_000 }));
    const h = harness({ interest: taken });
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(names(h)).toEqual(['channel.region.inactive', 'channel.closed']);
    expect(h.published[0]![0]!.id).toBe(lifecycleEventId(KEY, 'channel.region.inactive', 'r1', 1_699_000_000_000));

    // And one whose attachments come back says nothing.
    const again = new ChannelInterest();
    again.setAnnounced(announced({ region: 1_699_000_000_000, global: 1_699_000_000_000 }));
    const h2 = harness({ interest: again });
    h2.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY / 2);
    h2.attached.now = true;
    h2.lc.reconcile();
    await vi.advanceTimersByTimeAsync(DELAY * 2);
    expect(h2.published).toEqual([]);
  });

  it('a master that takes over tells again, under the same ids, what its predecessor may not have told', async () => {
    // A start written ahead and maybe not told, with its attachments still here: told at once.
    const h = harness({ interest: interestWith(announced({ region: T0 - 5000, global: T0 - 5000, untold: 3 })) });
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    expect(h.published.flat().map((m) => m.id)).toEqual([lifecycleEventId(KEY, 'channel.opened', 'r1', T0 - 5000), lifecycleEventId(KEY, 'channel.region.active', 'r1', T0 - 5000)]);
    expect(h.interest.announced).toEqual(announced({ region: T0 - 5000, global: T0 - 5000 }));
    // An end decided and maybe not told: told at once, not after another delay; then a new start, after it.
    const e = harness({ interest: interestWith(announced({ regionEnded: T0 - 5000, globalEnded: T0 - 9000, untold: 12 })) });
    e.attached.now = true;
    e.lc.reconcile();
    await settle();
    await vi.advanceTimersByTimeAsync(10);
    expect(names(e)).toEqual(['channel.region.inactive', 'channel.closed', 'channel.opened', 'channel.region.active']);
    expect(e.published[0]!.map((m) => m.id)).toEqual([lifecycleEventId(KEY, 'channel.region.inactive', 'r1', T0 - 5000), lifecycleEventId(KEY, 'channel.closed', 'r1', T0 - 9000)]);
  });

  it('tries a publish that failed again, with the same ids, and counts it told only once it is taken', async () => {
    const h = harness();
    h.fail.next = 2;
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    expect(h.published).toHaveLength(0);
    // Written ahead: a master that took over now would tell it.
    expect(h.interest.announced).toEqual(announced({ region: T0, global: T0, untold: 3 }));
    // Attachments gone meanwhile: the start is still told first, the end after the delay.
    // (A change is a reason to try at once too.)
    h.attached.now = false;
    h.lc.reconcile();
    await settle();
    expect(h.tried).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(RETRY_MS + 10);
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active']);
    expect(h.tried.map((t) => t.map((m) => m.id))).toEqual(Array(3).fill([lifecycleEventId(KEY, 'channel.opened', 'r1', T0), lifecycleEventId(KEY, 'channel.region.active', 'r1', T0)]));
    expect(h.interest.announced).toEqual(announced({ region: T0, global: T0 }));
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(names(h)).toEqual(['channel.opened', 'channel.region.active', 'channel.region.inactive', 'channel.closed']);
  });

  it('publishes nothing its replica may not hold, and nothing once stopped; its successor tells it', async () => {
    const h = harness();
    h.changed.fail = true;
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    expect(h.tried).toEqual([]);
    // Stopped while its events are on their way: it records nothing more; what is written stays for a successor.
    const s = harness();
    let taken!: () => void;
    const pending = new Promise<void>((r) => (taken = r));
    const st = new ChannelLifecycle(KEY, s.interest, { region: 'r1', home: true, delayMs: DELAY, now: Date.now, elapsed: Date.now, publish: () => pending, counts: () => COUNTS, changed: async () => undefined }, () => true);
    st.reconcile();
    await settle();
    st.stop();
    taken();
    await settle();
    expect(s.interest.announced).toEqual(announced({ region: T0, global: T0, untold: 3 }));
    const next = harness({ interest: s.interest });
    next.attached.now = true;
    next.lc.reconcile();
    await settle();
    expect(next.published.flat().map((m) => m.id)).toEqual([lifecycleEventId(KEY, 'channel.opened', 'r1', T0), lifecycleEventId(KEY, 'channel.region.active', 'r1', T0)]);
  });

  it('a start after an end in the same millisecond is told under another id', async () => {
    const h = harness({ interest: interestWith(announced({ regionEnded: T0, untold: 4 })) });
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.published[1]!.find((m) => m.name === 'channel.region.active')!.id).toBe(lifecycleEventId(KEY, 'channel.region.active', 'r1', T0 + 1));
  });

  it('outside the home region now (the regions changed), forgets the deployment\'s activity it had told', async () => {
    const h = harness({ home: false, interest: interestWith(announced({ region: T0, global: T0 })) });
    h.attached.now = true;
    h.lc.reconcile();
    await settle();
    expect(h.interest.announced).toEqual(announced({ region: T0 }));
    expect(h.published).toEqual([]);
  });

  it("waits a little for the attachments' counts, then goes without them", async () => {
    const h = harness();
    h.counts.now = null;
    h.attached.now = true;
    h.interest.set(1_700_000_000_000);
    h.lc.reconcile();
    await vi.advanceTimersByTimeAsync(300);
    expect(h.published).toHaveLength(0);
    // The board's first count calls it.
    h.counts.now = COUNTS;
    h.lc.counted();
    await settle();
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

function interestWith(a: Announced): ChannelInterest {
  const i = new ChannelInterest();
  i.setAnnounced(a);
  return i;
}

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

describe('HomeTakes', () => {
  it('claims at most a few channels at once, each once with its latest word, and logs a claim that failed', async () => {
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const told: string[] = [];
    const warned: string[] = [];
    const masters = new Map<string, object>();
    const reg = {
      acquire: (channel: string) => {
        running++;
        most = Math.max(most, running);
        return new Promise<any>((resolve, reject) =>
          release.push(() => {
            running--;
            // As the registry's acquire answers a claim that failed: resolved, with the error.
            if (channel === 'app:bad') resolve({ redirect: null, error: new Error('no quorum') });
            else if (channel === 'app:worse') reject(new Error('stopped'));
            else {
              const master = { isStopped: false };
              masters.set(channel, master);
              resolve({ ok: master });
            }
          }),
        );
      },
      holding: (channel: string) => (masters.has(channel) ? ({ role: 'master', master: masters.get(channel) } as any) : undefined),
      setRemoteInterest: (channel: string, regions: { region: string }[]) => told.push(`${channel} ${regions.map((r) => r.region).join(',')}`),
    };
    const takes = new HomeTakes(reg as any, { warn: (o: any) => warned.push(o.channel) });
    for (let i = 0; i < 40; i++) takes.take(`app:c${i}`, [{ region: 'r2', since: 1 }]);
    takes.take('app:c39', [{ region: 'r3', since: 2 }]);
    takes.take('app:bad', [{ region: 'r2', since: 1 }]);
    takes.take('app:worse', [{ region: 'r2', since: 1 }]);
    while (release.length) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(most).toBe(HOME_TAKES_AT_ONCE);
    expect(told).toHaveLength(40);
    expect(told).toContain('app:c39 r3');
    expect(warned).toEqual(['app:bad', 'app:worse']);
  });
});
