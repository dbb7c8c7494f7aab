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
