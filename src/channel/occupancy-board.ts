/**
 * The occupancy board: on the node that masters a channel, each node's attachments to
 * it (OccupancyReport, from the node's channel client, which reports to the master it is
 * subscribed at), added up and sent back to the nodes with watchers (OccupancyTotals).
 *
 * It is soft state, made again by reports: a channel client reports when its attachments
 * change and whenever it subscribes at a master (a new owner after a ring change, or the
 * replica promoted after its master died). A node's counts go when it reports none, when
 * it unsubscribes, and when it is down or left; a channel's tally goes with the last of
 * them, and when a ring change takes the channel elsewhere. Reports that reach a node
 * the ring no longer makes the master (late, from a client not yet moved) are ignored.
 *
 * Totals go to each node with watchers when they differ from what that node was last
 * sent, or when it says it has a watcher that has had none. A count going from or to
 * zero, or a new watcher, is sent at once; other changes at most once per interval.
 *
 * Between regions (OccupancyRegion, through the globalmasters, to the regions that want
 * the channel), counts go only where they are watched, so a channel nobody watches costs
 * no traffic between regions:
 * - a region whose watchers of a channel go from none to some asks the others for their
 *   counts (they answer at once, theirs or none) and says it is watching; one whose
 *   watchers are gone says so once;
 * - a region sends its counts when they change while another watches, again when the
 *   regions that want the channel change or a link comes back, and every 20 intervals
 *   (at least 10 s) while it or another watches (so neither forgets the other);
 * - each says when it counted (its region's time): an older word than the one held, come
 *   by another node (the region's master moved), is ignored;
 * - an ask a region that wants the channel has not answered (the ask or the answer lost)
 *   goes again 1 s later, then 2, 4 and 8 s later (each up to half as long again, at
 *   random), and then the refresh goes on;
 * - a region's counts go when it says none and does not watch, when it no longer wants
 *   the channel, and when not heard for three of those times.
 *
 * A new tally (a channel's first attachment, or the first report at a new master), and
 * one whose watchers begin, first waits up to an interval for every node the master has
 * subscribed and every region that wants the channel, so a watcher is not shown one
 * node's or region's share as the whole. It waits the whole interval where it began with
 * a client that moved to it (the others' are moving too, and may not have subscribed
 * yet), and, with other regions, where it knows of none that want the channel (a master
 * that took the channel over may not know yet).
 */
import type { NodeId, Occupancy, OccupancyReport, OccupancyTotals, RegionWord } from '../transport/messages.js';
import type { ChannelKey } from './entry.js';
import { addUp, crossesZero, noAttachments, Throttle } from './occupancy.js';
import { monotonicClock } from '../clock.js';

export interface BoardDeps {
  send(to: NodeId, msg: OccupancyTotals): void;
  /** The nodes the channel's master here has subscribed (null: not mastered here). */
  subscribed(key: ChannelKey): ReadonlySet<NodeId> | null;
  /** Whether the ring makes this node the channel's master now. */
  mastersHere(key: ChannelKey): boolean;
  /** A channel's first report here (its lifecycle's first events wait for the counts: lifecycle.ts). */
  counted?(key: ChannelKey): void;
  /** Sends this region's word on a channel towards the other regions that want it (through the globalmaster). */
  toRegions?(key: ChannelKey, word: RegionWord): void;
  /** The other regions that want the channel, as its master here knows them. */
  regionsWanting?(key: ChannelKey): readonly string[];
  intervalMs: number;
  /** How often this region's counts go again to the regions that watch (default: 20 intervals, at least 10 s). */
  refreshMs?: number;
  /** A monotonic clock (monotonicClock by default). */
  now?(): number;
  /** The region's time (a region's word says when it counted; Date.now() by default). */
  regionTime?(): number;
  /** A number in [0, 1) that spreads the asks made again (Math.random by default; tests give 0). */
  jitter?(): number;
}

/** Another region's counts as held, whether it watches, and when it was heard (this board's clock). */
type Held = Pick<RegionWord, 'counts' | 'watching'> & { heard: number };

/** What a tally keeps of other regions (made at the first word, ask or interest: none in a region alone). */
interface Others {
  /** Each region's last word taken. */
  words: Map<string, Held>;
  /** Regions heard from since the wait began, or the last fresh ask (those not in it that want the channel are asked again). */
  answered: Set<string>;
  /** When each region's last word taken was counted (kept after its counts go, so an older word is not taken after a newer "none"). */
  said: Map<string, number>;
  /** The regions that want the channel, as last told (RemoteInterest): only new ones are asked again. */
  wanting: Set<string>;
  /** The asks made again since the last fresh one, and when the next goes (while a region that wants the channel is not in `answered`). */
  tries: number;
  askTimer: NodeJS.Timeout | null;
}

interface Tally {
  nodes: Map<NodeId, { counts: Occupancy; watchers: number }>;
  /** What each node was last sent, as text (made at the first). */
  sent: Map<NodeId, string> | null;
  /** The totals last sent to anyone. */
  last: Occupancy;
  throttle: Throttle;
  /** Until when a tally waits for every subscribed node and wanting region (0: it has waited). */
  settleUntil: number;
  /** It waits until then whoever has reported: it began with a client that moved, as the others' are. */
  waitWhole: boolean;
  settleTimer: NodeJS.Timeout | null;
  others: Others | null;
  /** This region's word as last told the others, as text ('': nothing told), and whether it said it was watching. */
  told: string;
  toldWatching: boolean;
}

const NO_WORDS: ReadonlyMap<string, Held> = new Map();
const wordsOf = (t: Tally): ReadonlyMap<string, Held> => t.others?.words ?? NO_WORDS;
const othersOf = (t: Tally): Others => (t.others ??= { words: new Map(), answered: new Set(), said: new Map(), wanting: new Set(), tries: 0, askTimer: null });

/** This region's counts go to the regions that watch a channel again this often, unless set (`limits.occupancyRefreshMs`): 20 intervals, at least 10 s. */
const defaultRefreshMs = (intervalMs: number): number => Math.max(20 * intervalMs, 10_000);
/** Another region's counts not heard for three refreshes are dropped. */
const EXPIRE_REFRESHES = 3;
/**
 * An ask not answered goes again this long after (ms), then twice as long after each try,
 * this many times; each wait is up to half as long again, at random, so that the asks of
 * many channels made at once (a link back) do not go again at once.
 */
const ASK_AGAIN_MS = 1000;
const ASK_TRIES = 4;

/** Watchers of the channel on this region's nodes. */
const watchersOf = (t: Tally): number => {
  let n = 0;
  for (const x of t.nodes.values()) n += x.watchers;
  return n;
};
/** Whether another region says it watches the channel. */
const watchedThere = (t: Tally): boolean => {
  for (const r of wordsOf(t).values()) if (r.watching) return true;
  return false;
};

export class OccupancyBoard {
  private readonly tallies = new Map<ChannelKey, Tally>();
  private readonly refresh: NodeJS.Timeout | null;
  private readonly refreshMs: number;

  constructor(private readonly deps: BoardDeps) {
    this.refreshMs = deps.refreshMs ?? defaultRefreshMs(deps.intervalMs);
    this.refresh = deps.toRegions ? setInterval(() => this.refreshRegions(), this.refreshMs).unref() : null;
  }

  get size(): number {
    return this.tallies.size;
  }

  /** Whether this board has this region's counts of a channel from its nodes (a spare word from another region is taken only then). */
  holds(key: ChannelKey): boolean {
    return (this.tallies.get(key)?.nodes.size ?? 0) > 0;
  }

  /** A channel's counts in this region, and with the other regions' held (null: none reported, here or there). */
  countsOf(key: ChannelKey): { local: Occupancy; total: Occupancy } | null {
    const t = this.tallies.get(key);
    return t && (t.nodes.size || wordsOf(t).size) ? { local: this.local(t), total: this.totals(t) } : null;
  }

  private now(): number {
    return this.deps.now?.() ?? monotonicClock.now();
  }

  /** `now` for the tallies' throttles (one function for all). */
  private readonly clock = (): number => this.now();

  report(from: NodeId, r: OccupancyReport): void {
    let t = this.tallies.get(r.channel);
    if (r.counts.connections === 0) {
      if (t) this.remove(r.channel, t, from);
      return;
    }
    if (!this.deps.mastersHere(r.channel)) return;
    const firstHere = !t || t.nodes.size === 0;
    t ??= this.tally(r.channel);
    const watchedBefore = watchersOf(t) > 0;
    t.nodes.set(from, { counts: r.counts, watchers: r.watchers });
    if (r.fresh) t.sent?.delete(from);
    const watchedNow = watchersOf(t) > 0;
    // A first attachment here, or a new master: it waits for the others' reports. Watchers
    // that begin: the other regions are asked for their counts, and it waits for them too.
    // A new master is told nothing by the others: it asks them (one may watch).
    if (firstHere || (watchedNow && !watchedBefore)) this.wait(t, firstHere && r.moved);
    if ((watchedNow && !watchedBefore) || (firstHere && r.moved)) this.tell(r.channel, t, { ask: true });
    if (r.fresh && t.settleUntil === 0) {
      // A new watcher there: that node has the totals at once; the others as usual.
      this.sendTo(r.channel, t, from, this.totals(t));
      this.changed(r.channel, t, false);
    } else this.changed(r.channel, t, r.fresh);
    if (firstHere) this.deps.counted?.(r.channel);
  }

  /** Another region's word on a channel (through the globalmaster). */
  fromRegion(region: string, key: ChannelKey, w: RegionWord): void {
    if (!this.deps.mastersHere(key)) return;
    let t = this.tallies.get(key);
    // An older word than the last taken (come by another node of that region) is not.
    const take = w.at >= (t?.others?.said.get(region) ?? -Infinity);
    let removed = false;
    if (take) {
      if (w.counts.connections === 0 && !w.watching) removed = t?.others?.words.delete(region) ?? false;
      else {
        t ??= this.tally(key);
        othersOf(t).words.set(region, { counts: w.counts, watching: w.watching, heard: this.now() });
      }
      if (t) {
        const o = othersOf(t);
        o.said.set(region, w.at);
        o.answered.add(region);
      }
    }
    if (w.ask) {
      if (t) this.tell(key, t, { force: true });
      else this.deps.toRegions?.(key, { counts: noAttachments(), ask: false, watching: false, at: this.regionTime() });
    }
    if (!t) return;
    if (removed) this.afterRemoval(key, t);
    else this.changed(key, t, false);
  }

  /**
   * The regions that want a channel changed (RemoteInterest: all of them, and those the
   * globalmaster has not heard from since it took the role, whose counts stay): those gone
   * are dropped, and where the channel is watched all are told again if one is new (it knows nothing).
   */
  remoteInterest(key: ChannelKey, regions: readonly string[], keep: readonly string[] = []): void {
    const t = this.tallies.get(key);
    if (!t) return;
    const o = othersOf(t);
    const added = regions.some((r) => !o.wanting.has(r));
    o.wanting = new Set(regions);
    if (added) this.tellAgain(key, t);
    let gone = false;
    for (const r of o.words.keys()) if (!regions.includes(r) && !keep.includes(r)) gone = o.words.delete(r) || gone;
    if (gone) this.afterRemoval(key, t);
  }

  /** A link to another region is back: where a channel is watched, the regions are told again. */
  relinked(): void {
    for (const [key, t] of this.tallies) if (this.deps.regionsWanting?.(key).length) this.tellAgain(key, t);
  }

  /** A node unsubscribed from the channel: its attachments here are gone. */
  drop(key: ChannelKey, node: NodeId): void {
    const t = this.tallies.get(key);
    if (t) this.remove(key, t, node);
  }

  /** A node is down or left. */
  forgetNode(node: NodeId): void {
    for (const [key, t] of this.tallies) if (t.nodes.has(node)) this.remove(key, t, node);
  }

  /** The ring changed: tallies of channels this node no longer masters go (their clients report to the new master). */
  keepOnly(): void {
    for (const [key, t] of this.tallies) if (!this.deps.mastersHere(key)) this.dispose(key, t);
  }

  /** Stops the refresh and every tally's timers. */
  stop(): void {
    if (this.refresh) clearInterval(this.refresh);
    for (const [key, t] of this.tallies) this.dispose(key, t);
  }

  private tally(key: ChannelKey): Tally {
    const t: Tally = {
      nodes: new Map(),
      sent: null,
      last: noAttachments(),
      throttle: new Throttle(this.deps.intervalMs, () => this.send(key), this.clock),
      settleUntil: 0,
      waitWhole: false,
      settleTimer: null,
      others: null,
      told: '',
      toldWatching: false,
    };
    this.tallies.set(key, t);
    return t;
  }

  /** Waits (up to an interval) for every subscribed node and wanting region before the next totals. */
  private wait(t: Tally, whole = false): void {
    if (t.settleUntil > 0) t.waitWhole ||= whole;
    else {
      t.waitWhole = whole;
      t.others?.answered.clear();
    }
    t.settleUntil = Math.max(t.settleUntil, this.now() + this.deps.intervalMs);
    // Its timer is set again for the (maybe later) end.
    if (t.settleTimer) clearTimeout(t.settleTimer);
    t.settleTimer = null;
  }

  private remove(key: ChannelKey, t: Tally, node: NodeId): void {
    t.nodes.delete(node);
    t.sent?.delete(node);
    // None left here: the regions watching (or told this one watched) hear so now, before the tally may go.
    if (t.nodes.size === 0) this.tell(key, t);
    this.afterRemoval(key, t);
  }

  private afterRemoval(key: ChannelKey, t: Tally): void {
    if (t.nodes.size === 0 && wordsOf(t).size === 0) this.dispose(key, t);
    else this.changed(key, t, false);
  }

  private dispose(key: ChannelKey, t: Tally): void {
    t.throttle.stop();
    if (t.settleTimer) clearTimeout(t.settleTimer);
    if (t.others?.askTimer) clearTimeout(t.others.askTimer);
    this.tallies.delete(key);
  }

  private changed(key: ChannelKey, t: Tally, fresh: boolean): void {
    if (t.settleUntil > 0) {
      const waiting = t.waitWhole || [...(this.deps.subscribed(key) ?? [])].some((n) => !t.nodes.has(n)) || this.regionsAwaited(key, t);
      const left = t.settleUntil - this.now();
      if (waiting && left > 0) {
        t.settleTimer ??= setTimeout(() => this.settled(key, t), left).unref();
        return;
      }
      this.settled(key, t);
      return;
    }
    t.throttle.poke(fresh || crossesZero(t.last, this.totals(t)));
  }

  /**
   * Whether a waiting tally still waits for other regions: only where there are watchers
   * here, for those that want the channel and have not been heard since the wait began,
   * or, where none is known to (a new master may not know yet), for the whole wait.
   */
  private regionsAwaited(key: ChannelKey, t: Tally): boolean {
    if (!this.deps.toRegions || watchersOf(t) === 0) return false;
    const wanting = this.deps.regionsWanting?.(key) ?? [];
    return wanting.length === 0 || wanting.some((r) => !t.others?.answered.has(r));
  }

  private settled(key: ChannelKey, t: Tally): void {
    if (t.settleTimer) clearTimeout(t.settleTimer);
    t.settleTimer = null;
    t.settleUntil = 0;
    if (this.tallies.get(key) === t) t.throttle.poke(true);
  }

  private local(t: Tally): Occupancy {
    return addUp([...t.nodes.values()].map((n) => n.counts));
  }

  /** This region's counts and the other regions'. */
  private totals(t: Tally): Occupancy {
    return addUp([this.local(t), ...[...wordsOf(t).values()].map((r) => r.counts)]);
  }

  private send(key: ChannelKey): void {
    const t = this.tallies.get(key);
    if (!t) return;
    const counts = this.totals(t);
    t.last = counts;
    const text = JSON.stringify(counts);
    for (const node of t.nodes.keys()) this.sendTo(key, t, node, counts, text);
    this.tell(key, t);
  }

  /** The totals to one node, where it has watchers and was not sent them last. */
  private sendTo(key: ChannelKey, t: Tally, node: NodeId, counts: Occupancy, text = JSON.stringify(counts)): void {
    if (!t.nodes.get(node)?.watchers || t.sent?.get(node) === text) return;
    (t.sent ??= new Map()).set(node, text);
    this.deps.send(node, { type: 'occupancyTotals', channel: key, counts });
  }

  private regionTime(): number {
    return this.deps.regionTime?.() ?? Date.now();
  }

  /**
   * This region's word towards the other regions: where it changed and someone watches
   * (here, or there), or this region's watching ended; always when forced or asking.
   */
  private tell(key: ChannelKey, t: Tally, o: { force?: boolean; ask?: boolean; again?: boolean } = {}): void {
    if (!this.deps.toRegions) return;
    const counts = this.local(t);
    const watching = watchersOf(t) > 0;
    const text = JSON.stringify([counts, watching]);
    if (!o.force && !o.ask && (text === t.told || (!watching && !t.toldWatching && !watchedThere(t)))) return;
    t.told = text;
    t.toldWatching = watching;
    this.deps.toRegions(key, { counts, ask: o.ask === true, watching, at: this.regionTime() });
    if (o.ask) this.awaitAnswers(key, t, o.again === true);
  }

  /** After an ask: the regions that want the channel are awaited, and asked again while one has not answered (ASK_AGAIN_MS). */
  private awaitAnswers(key: ChannelKey, t: Tally, again: boolean): void {
    const o = othersOf(t);
    if (!again) {
      o.answered.clear();
      o.tries = 0;
    }
    if (o.askTimer) clearTimeout(o.askTimer);
    o.askTimer = null;
    const unanswered = () => (this.deps.regionsWanting?.(key) ?? []).some((r) => !o.answered.has(r));
    if (o.tries >= ASK_TRIES || !unanswered()) return;
    o.askTimer = setTimeout(() => {
      o.askTimer = null;
      o.tries++;
      if (unanswered() && this.tallies.get(key) === t) this.tell(key, t, { ask: true, again: true });
    }, (ASK_AGAIN_MS << o.tries) * (1 + (this.deps.jitter ?? Math.random)() / 2)).unref();
  }

  /** Tells the regions again where the channel is watched here or there (none here and none there: nothing to say). */
  private tellAgain(key: ChannelKey, t: Tally): void {
    if (watchersOf(t) > 0) this.tell(key, t, { ask: true });
    else if (watchedThere(t)) this.tell(key, t, { force: true });
  }

  /** Tells the regions again where a channel is watched, and drops counts not heard for long. */
  private refreshRegions(): void {
    const stale = this.now() - this.refreshMs * EXPIRE_REFRESHES;
    for (const [key, t] of this.tallies) {
      let gone = false;
      for (const [r, c] of wordsOf(t)) if (c.heard < stale) gone = t.others!.words.delete(r) || gone;
      if (this.deps.regionsWanting?.(key).length && (watchersOf(t) > 0 || watchedThere(t))) this.tell(key, t, { force: true });
      if (gone) this.afterRemoval(key, t);
    }
  }
}
