import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OccupancyBoard } from '../../../src/channel/occupancy-board.js';
import { channelMetrics, eventData, noAttachments, occupancyFor, parseOccupancyParam, Throttle } from '../../../src/channel/occupancy.js';
import type { NodeId, Occupancy, OccupancyTotals } from '../../../src/transport/messages.js';

const KEY = 'app:ch';
const counts = (connections: number, o: Partial<Occupancy> = {}): Occupancy => ({ ...noAttachments(), connections, ...o });

describe('the occupancy param', () => {
  it('reads metrics and metrics.<category>, and refuses anything else with 40003', () => {
    expect(parseOccupancyParam('metrics')).toEqual({ category: null });
    expect(parseOccupancyParam('metrics.presenceMembers')).toEqual({ category: 'presenceMembers' });
    for (const bad of ['', 'metric', 'metrics.', 'metrics.constructor', 'metrics.connections,metrics.publishers']) {
      expect(() => parseOccupancyParam(bad), bad).toThrow(expect.objectContaining({ code: 40003 }));
    }
  });

  it('needs the channel-metadata capability (40160); no param asks for nothing', () => {
    expect(occupancyFor(undefined, new Set(), 'ch')).toBeNull();
    expect(occupancyFor('metrics', new Set(['channel-metadata']), 'ch')).toEqual({ category: null });
    expect(() => occupancyFor('metrics', new Set(['subscribe', 'publish']), 'ch')).toThrow(expect.objectContaining({ code: 40160 }));
  });

  it("gives every category of Ably's ChannelMetrics, or the one asked for", () => {
    const m = channelMetrics(counts(3, { publishers: 2, presenceConnections: 1 }), 4);
    expect(eventData({ category: null }, m)).toEqual({
      metrics: {
        connections: 3,
        publishers: 2,
        subscribers: 0,
        presenceConnections: 1,
        presenceMembers: 4,
        presenceSubscribers: 0,
        objectPublishers: 0,
        objectSubscribers: 0,
      },
    });
    expect(eventData({ category: 'presenceMembers' }, m)).toEqual({ metrics: { presenceMembers: 4 } });
  });
});

describe('Throttle', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('runs at once, then once at the end of the interval however often poked, and at once when urgent', () => {
    let runs = 0;
    const t = new Throttle(1000, () => runs++, () => Date.now());
    t.poke();
    expect(runs).toBe(1);
    t.poke();
    t.poke();
    expect(runs).toBe(1);
    vi.advanceTimersByTime(999);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    t.poke();
    t.poke(true);
    expect(runs).toBe(3);
    vi.advanceTimersByTime(5000);
    expect(runs).toBe(3);
  });
});

describe('OccupancyBoard', () => {
  let sent: { to: NodeId; msg: OccupancyTotals }[];
  let subscribed: Set<NodeId>;
  let board: OccupancyBoard;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    subscribed = new Set(['a', 'b']);
    board = new OccupancyBoard({ send: (to, msg) => void sent.push({ to, msg }), subscribed: () => subscribed, intervalMs: 1000, now: () => Date.now() });
  });
  afterEach(() => void vi.useRealTimers());
  const report = (from: NodeId, c: Occupancy, watchers = 0, fresh = false) =>
    board.report(from, { type: 'occupancyReport', channel: KEY, counts: c, watchers, fresh });
  const told = () => sent.map((s) => `${s.to}:${s.msg.counts.connections}`);

  it("waits for every subscribed node's report before the first totals, so one node's share is not shown as the whole", () => {
    report('a', counts(2), 1, true);
    expect(sent).toEqual([]);
    report('b', counts(3, { publishers: 1 }));
    expect(told()).toEqual(['a:5']);
    expect(sent[0]!.msg.counts).toEqual(counts(5, { publishers: 1 }));
  });

  it('waits at most an interval for a node that does not report', () => {
    report('a', counts(2), 1, true);
    vi.advanceTimersByTime(999);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(told()).toEqual(['a:2']);
  });

  it('sends a change within an interval at its end, a count from or to zero at once, and each node a total only once', () => {
    report('a', counts(1), 1, true);
    report('b', counts(1));
    expect(told()).toEqual(['a:2']);
    report('b', counts(2));
    report('b', counts(3));
    expect(told()).toEqual(['a:2']);
    vi.advanceTimersByTime(1000);
    expect(told()).toEqual(['a:2', 'a:4']);
    // Publishers from none: at once.
    report('b', counts(3, { publishers: 1 }));
    expect(told()).toEqual(['a:2', 'a:4', 'a:4']);
    // The same totals again (b's report repeated): nothing.
    vi.advanceTimersByTime(5000);
    report('b', counts(3, { publishers: 1 }));
    expect(sent.length).toBe(3);
  });

  it('sends a node with a new watcher the totals though they did not change; a node without watchers none', () => {
    report('a', counts(1), 1, true);
    report('b', counts(1));
    expect(told()).toEqual(['a:2']);
    report('b', counts(1), 1, true);
    expect(told()).toEqual(['a:2', 'b:2']);
    report('a', counts(1), 1, true);
    expect(told()).toEqual(['a:2', 'b:2', 'a:2']);
  });

  it('drops a node that reports none, unsubscribes or is down, and the tally with the last one', () => {
    subscribed = new Set(['a', 'b', 'c']);
    report('a', counts(1), 1, true);
    report('b', counts(2));
    report('c', counts(4));
    expect(told()).toEqual(['a:7']);
    board.forgetNode('c');
    vi.advanceTimersByTime(1000);
    expect(told()).toEqual(['a:7', 'a:3']);
    board.drop(KEY, 'b');
    vi.advanceTimersByTime(1000);
    expect(told()).toEqual(['a:7', 'a:3', 'a:1']);
    report('a', counts(0));
    expect(board.size).toBe(0);
  });

  it('lets a ring change take away the channels mastered elsewhere now', () => {
    report('a', counts(1), 1, true);
    board.keepOnly(() => false);
    expect(board.size).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual([]);
  });
});

describe('OccupancyBoard with other regions', () => {
  let sent: { to: NodeId; msg: OccupancyTotals }[];
  let told: { connections: number; ask: boolean }[];
  let wanting: string[];
  let board: OccupancyBoard;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    told = [];
    wanting = ['r2'];
    board = new OccupancyBoard({
      send: (to, msg) => void sent.push({ to, msg }),
      subscribed: () => new Set(['a']),
      toRegions: (_key, c, ask) => void told.push({ connections: c.connections, ask }),
      regionsWanting: () => wanting,
      intervalMs: 100,
      now: () => Date.now(),
    });
  });
  afterEach(() => {
    board.stop();
    vi.useRealTimers();
  });
  const report = (c: Occupancy, watchers = 1, fresh = true) => board.report('a', { type: 'occupancyReport', channel: KEY, counts: c, watchers, fresh });
  const totals = () => sent.map((s) => s.msg.counts.connections);

  it("asks the regions that want the channel for their counts as a tally begins, and waits for them as for the nodes here", () => {
    report(counts(1));
    expect(told).toEqual([{ connections: 1, ask: true }]);
    expect(sent).toEqual([]);
    board.fromRegion('r2', KEY, counts(2));
    expect(totals()).toEqual([3]);
  });

  it('waits a whole interval where no region is known to want the channel (a new master may not know yet)', () => {
    wanting = [];
    report(counts(1));
    vi.advanceTimersByTime(99);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(totals()).toEqual([1]);
  });

  it("answers a region's ask with its counts, though they did not change; tells a change; says none when the last node here goes", () => {
    report(counts(1));
    board.fromRegion('r2', KEY, counts(2));
    board.fromRegion('r2', KEY, counts(2), true);
    expect(told).toEqual([
      { connections: 1, ask: true },
      { connections: 1, ask: false },
    ]);
    vi.advanceTimersByTime(100);
    report(counts(3), 1, false);
    vi.advanceTimersByTime(100);
    expect(told.at(-1)).toEqual({ connections: 3, ask: false });
    expect(totals().at(-1)).toBe(5);
    report(counts(0));
    expect(told.at(-1)).toEqual({ connections: 0, ask: false });
    // r2's counts keep the tally (for watchers that may come here) until r2 says none.
    expect(board.size).toBe(1);
    board.fromRegion('r2', KEY, counts(0));
    expect(board.size).toBe(0);
  });

  it('drops a region that no longer wants the channel (unless kept), and tells all again when interest changes or a link is back', () => {
    report(counts(1));
    board.fromRegion('r2', KEY, counts(2));
    board.fromRegion('r3', KEY, counts(4));
    vi.advanceTimersByTime(100);
    expect(totals().at(-1)).toBe(7);
    const before = told.length;
    board.remoteInterest(KEY, ['r2'], ['r3']);
    board.relinked();
    expect(told.length).toBe(before + 2);
    board.remoteInterest(KEY, ['r2']);
    vi.advanceTimersByTime(100);
    expect(totals().at(-1)).toBe(3);
  });

  it('tells the regions again every 20 intervals while they want the channel, and drops counts not heard for 60', () => {
    report(counts(1));
    board.fromRegion('r2', KEY, counts(2));
    const before = told.length;
    vi.advanceTimersByTime(2000);
    expect(told.length).toBe(before + 1);
    vi.advanceTimersByTime(4000);
    expect(totals().at(-1)).toBe(3);
    // Checked at each refresh: more than 60 intervals by the fourth.
    vi.advanceTimersByTime(2000);
    expect(totals().at(-1)).toBe(1);
    wanting = [];
    const now = told.length;
    vi.advanceTimersByTime(2000);
    expect(told.length).toBe(now);
  });
});
