import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OccupancyBoard } from '../../../src/channel/occupancy-board.js';
import { channelMetrics, eventData, noAttachments, occupancyFor, parseOccupancyParam, Throttle } from '../../../src/channel/occupancy.js';
import type { NodeId, Occupancy, OccupancyTotals, RegionWord } from '../../../src/transport/messages.js';

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

  it('runs once an interval after a later(), however often asked, and not sooner than an interval after its last run', () => {
    let runs = 0;
    const t = new Throttle(100, () => runs++, () => Date.now());
    t.later();
    t.later();
    vi.advanceTimersByTime(99);
    expect(runs).toBe(0);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(1);
    t.poke(true);
    expect(runs).toBe(2);
    t.later();
    vi.advanceTimersByTime(99);
    expect(runs).toBe(2);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(3);
  });
});

describe('OccupancyBoard', () => {
  let sent: { to: NodeId; msg: OccupancyTotals }[];
  let subscribed: Set<NodeId>;
  let board: OccupancyBoard;
  let mine: boolean;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    subscribed = new Set(['a', 'b']);
    mine = true;
    board = new OccupancyBoard({
      send: (to, msg) => void sent.push({ to, msg }),
      subscribed: () => subscribed,
      mastersHere: () => mine,
      intervalMs: 1000,
      now: () => Date.now(),
    });
  });
  afterEach(() => void vi.useRealTimers());
  const report = (from: NodeId, c: Occupancy, watchers = 0, fresh = false, moved = false) =>
    board.report(from, { type: 'occupancyReport', channel: KEY, counts: c, watchers, fresh, moved });
  const told = () => sent.map((s) => `${s.to}:${s.msg.counts.connections}`);

  it("waits for every subscribed node's report before the first totals, so one node's share is not shown as the whole", () => {
    report('a', counts(2), 1, true);
    expect(sent).toEqual([]);
    report('b', counts(3, { publishers: 1 }));
    expect(told()).toEqual(['a:5']);
    expect(sent[0]!.msg.counts).toEqual(counts(5, { publishers: 1 }));
  });

  it('waits the whole interval where it began with a client that moved to it (the others may not have subscribed yet)', () => {
    subscribed = new Set(['a']);
    report('a', counts(2), 1, true, true);
    vi.advanceTimersByTime(999);
    expect(sent).toEqual([]);
    report('b', counts(3));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(told()).toEqual(['a:5']);
  });

  it('keeps the whole wait when watchers begin within it, and a wait that begins later ends later', () => {
    subscribed = new Set(['a']);
    report('a', counts(2), 0, false, true);
    vi.advanceTimersByTime(500);
    report('b', counts(3), 1, true);
    // Watchers began at 500: the wait ends at 1500, not at the first wait's end (1000).
    vi.advanceTimersByTime(500);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(499);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(told()).toEqual(['b:5']);
  });

  it('sends a node with a new watcher the totals at once, and the other nodes a change only at the interval', () => {
    report('a', counts(1), 1, true);
    report('b', counts(1), 1, true);
    expect(told()).toEqual(['a:2', 'b:2']);
    vi.advanceTimersByTime(100);
    report('b', counts(2), 2, true);
    expect(told()).toEqual(['a:2', 'b:2', 'b:3']);
    vi.advanceTimersByTime(1000);
    expect(told()).toEqual(['a:2', 'b:2', 'b:3', 'a:3']);
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

  it('lets a ring change take away the channels mastered elsewhere now, and ignores late reports there', () => {
    report('a', counts(1), 1, true);
    mine = false;
    board.keepOnly();
    expect(board.size).toBe(0);
    // A client not yet moved to the new master reports here: not taken (its share is not the whole).
    report('a', counts(2), 1, true);
    expect(board.size).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual([]);
  });
});
describe('OccupancyBoard with other regions', () => {
  let sent: { to: NodeId; msg: OccupancyTotals }[];
  let told: RegionWord[];
  let wanting: string[];
  let clock: number;
  let board: OccupancyBoard;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    told = [];
    wanting = ['r2'];
    clock = 1000;
    board = new OccupancyBoard({
      send: (to, msg) => void sent.push({ to, msg }),
      subscribed: () => new Set(['a']),
      mastersHere: () => true,
      toRegions: (_key, w) => void told.push(w),
      regionsWanting: () => wanting,
      intervalMs: 100,
      now: () => Date.now(),
      regionTime: () => clock++,
      jitter: () => 0,
    });
  });
  afterEach(() => {
    board.stop();
    vi.useRealTimers();
  });
  const report = (c: Occupancy, watchers = 1, fresh = watchers > 0) =>
    board.report('a', { type: 'occupancyReport', channel: KEY, counts: c, watchers, fresh, moved: false });
  const word = (connections: number, o: Partial<RegionWord> = {}): RegionWord => ({ counts: counts(connections), ask: false, watching: false, at: clock++, ...o });
  const totals = () => sent.map((s) => s.msg.counts.connections);
  const brief = () => told.map((w) => `${w.counts.connections}${w.ask ? '?' : ''}${w.watching ? 'w' : ''}`);

  it('tells other regions nothing of a channel nobody watches', () => {
    report(counts(3), 0);
    vi.advanceTimersByTime(60_000);
    report(counts(4), 0);
    vi.advanceTimersByTime(60_000);
    board.relinked();
    board.remoteInterest(KEY, ['r2']);
    expect(told).toEqual([]);
  });

  it('asks the regions that want the channel as its watchers begin, and waits for their answers as for the nodes here', () => {
    report(counts(1));
    expect(brief()).toEqual(['1?w']);
    expect(sent).toEqual([]);
    board.fromRegion('r2', KEY, word(2));
    expect(totals()).toEqual([3]);
  });

  it('takes an answer of none as an answer, and waits a whole interval where no region is known to want the channel', () => {
    report(counts(1));
    board.fromRegion('r2', KEY, word(0));
    expect(totals()).toEqual([1]);
    board.stop();
    sent = [];
    wanting = [];
    board = new OccupancyBoard({ send: (to, msg) => void sent.push({ to, msg }), subscribed: () => new Set(['a']), mastersHere: () => true, toRegions: () => {}, regionsWanting: () => wanting, intervalMs: 100, now: () => Date.now() });
    report(counts(1));
    vi.advanceTimersByTime(99);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(totals()).toEqual([1]);
  });

  it('answers an ask at once, with none where it has no tally; sends changes while another region watches, and says none when it has none', () => {
    board.fromRegion('r2', KEY, word(0, { ask: true, watching: true }));
    expect(brief()).toEqual(['0']);
    report(counts(2), 0);
    board.fromRegion('r2', KEY, word(1, { ask: true, watching: true }));
    expect(brief().at(-1)).toBe('2');
    vi.advanceTimersByTime(100);
    report(counts(3), 0);
    vi.advanceTimersByTime(100);
    expect(brief().at(-1)).toBe('3');
    report(counts(0), 0);
    expect(brief().at(-1)).toBe('0');
    // r2's counts keep the tally until r2 says none.
    expect(board.size).toBe(1);
    board.fromRegion('r2', KEY, word(0));
    expect(board.size).toBe(0);
  });

  it('says once that its watchers are gone, and then tells no more changes to a region that does not watch', () => {
    report(counts(1));
    board.fromRegion('r2', KEY, word(2));
    report(counts(1), 0, false);
    vi.advanceTimersByTime(100);
    expect(brief().at(-1)).toBe('1');
    const n = told.length;
    report(counts(5), 0, false);
    vi.advanceTimersByTime(1000);
    expect(told.length).toBe(n);
  });

  it("ignores a region's word older than the last taken (come by another node), also after a newer none", () => {
    report(counts(1));
    const newer = word(4);
    const older = word(9, { at: newer.at - 1 });
    board.fromRegion('r2', KEY, newer);
    board.fromRegion('r2', KEY, older);
    vi.advanceTimersByTime(100);
    expect(totals().at(-1)).toBe(5);
    const none = word(0);
    board.fromRegion('r2', KEY, none);
    board.fromRegion('r2', KEY, word(7, { at: none.at - 1 }));
    vi.advanceTimersByTime(100);
    expect(totals().at(-1)).toBe(1);
  });

  it('asks the other regions at a new master (a client moved to it), watched here or not, so it learns who watches', () => {
    board.report('a', { type: 'occupancyReport', channel: KEY, counts: counts(2), watchers: 0, fresh: false, moved: true });
    expect(brief()).toEqual(['2?']);
    board.fromRegion('r2', KEY, word(3, { watching: true }));
    vi.advanceTimersByTime(1000);
    report(counts(4), 0, false);
    vi.advanceTimersByTime(1000);
    expect(brief().at(-1)).toBe('4');
  });

  it('drops a region that no longer wants the channel (unless kept), and asks again when interest changes or a link is back', () => {
    report(counts(1));
    board.fromRegion('r2', KEY, word(2));
    board.fromRegion('r3', KEY, word(4));
    vi.advanceTimersByTime(100);
    expect(totals().at(-1)).toBe(7);
    const before = told.length;
    board.remoteInterest(KEY, ['r2'], ['r3']);
    board.relinked();
    expect(brief().slice(before)).toEqual(['1?w', '1?w']);
    // The same regions again: nothing new to ask.
    board.remoteInterest(KEY, ['r2'], ['r3']);
    expect(told.length).toBe(before + 2);
    board.remoteInterest(KEY, ['r2']);
    vi.advanceTimersByTime(100);
    expect(totals().at(-1)).toBe(3);
  });

  it('asks again, 1 s and then 2 and 4 s later, a region that has not answered (its answer lost to a ring that moved), and stops once it has', () => {
    board.report('a', { type: 'occupancyReport', channel: KEY, counts: counts(1), watchers: 1, fresh: true, moved: true });
    expect(brief()).toEqual(['1?w']);
    vi.advanceTimersByTime(999);
    expect(brief()).toEqual(['1?w']);
    vi.advanceTimersByTime(1);
    expect(brief()).toEqual(['1?w', '1?w']);
    vi.advanceTimersByTime(2000);
    expect(brief()).toEqual(['1?w', '1?w', '1?w']);
    board.fromRegion('r2', KEY, word(2));
    expect(totals().at(-1)).toBe(3);
    // Past the next try (at 7 s), short of the refresh (10 s).
    vi.advanceTimersByTime(6000);
    expect(brief()).toEqual(['1?w', '1?w', '1?w']);
  });

  it('asks an unanswering region four times more at most (the refresh goes on), and not once no region wants the channel', () => {
    report(counts(1));
    // Tries at 1, 3, 7 and 15 s; the refresh (not an ask) at 10 and 20 s.
    vi.advanceTimersByTime(30_000);
    expect(brief()).toEqual(['1?w', '1?w', '1?w', '1?w', '1w', '1?w', '1w', '1w']);
    board.stop();
    told = [];
    board = new OccupancyBoard({ send: () => {}, subscribed: () => new Set(['a']), mastersHere: () => true, toRegions: (_k, w) => void told.push(w), regionsWanting: () => wanting, intervalMs: 100, now: () => Date.now(), regionTime: () => clock++, jitter: () => 0 });
    report(counts(1));
    wanting = [];
    vi.advanceTimersByTime(9000);
    expect(brief()).toEqual(['1?w']);
  });

  it('spreads the asks made again by up to half their wait', () => {
    board.stop();
    told = [];
    board = new OccupancyBoard({ send: () => {}, subscribed: () => new Set(['a']), mastersHere: () => true, toRegions: (_k, w) => void told.push(w), regionsWanting: () => wanting, intervalMs: 100, now: () => Date.now(), regionTime: () => clock++, jitter: () => 0.5 });
    report(counts(1));
    // 1 s and a quarter: half the most the jitter adds.
    vi.advanceTimersByTime(1249);
    expect(brief()).toEqual(['1?w']);
    vi.advanceTimersByTime(1);
    expect(brief()).toEqual(['1?w', '1?w']);
  });

  it('tells the regions again every 10 s while watched here or there, and drops counts not heard for three of those', () => {
    report(counts(1));
    board.fromRegion('r2', KEY, word(2));
    const before = told.length;
    vi.advanceTimersByTime(10_000);
    expect(told.length).toBe(before + 1);
    vi.advanceTimersByTime(20_000);
    expect(totals().at(-1)).toBe(3);
    vi.advanceTimersByTime(10_000);
    expect(totals().at(-1)).toBe(1);
  });
});
