/**
 * The occupancy board: on the node that masters a channel, each node's attachments to
 * it (OccupancyReport, from the node's channel client, which reports to the master it is
 * subscribed at), added up and sent back to the nodes with watchers (OccupancyTotals).
 *
 * It is soft state, made again by reports: a channel client reports when its attachments
 * change and whenever it subscribes at a master (a new owner after a ring change, or the
 * replica promoted after its master died). A node's counts go when it reports none, when
 * it unsubscribes, and when it is down or left; a channel's tally goes with the last of
 * them, and when a ring change takes the channel elsewhere.
 *
 * Other regions' counts come from their masters through the globalmasters, to the regions
 * that want the channel (OccupancyRegion): this board sends its region's counts there
 * when they change, again to all of them when the regions that want the channel change or
 * a link comes back, and every 20 intervals while other regions want it. A new tally asks
 * those regions for theirs (a master that took the channel over was told nothing), and its
 * first totals wait for them as for the nodes here (with other regions, a whole interval
 * where it knows of none that want the channel: a new master may not know yet). A region's counts go when it says none, when
 * it no longer wants the channel, and when not heard for 60 intervals.
 *
 * Totals (this region's and the others') go to each node with watchers when they differ
 * from what that node was last sent, or when it says it has a watcher that has had none. A count going from or to
 * zero, or a new watcher, is sent at once; other changes at most once per interval. A new
 * tally (a channel's first attachment, or the first report at a new master) first waits
 * up to an interval for every node the master has subscribed to report, so a watcher is
 * not shown one node's share as the whole while the others' reports are on their way.
 */
import type { NodeId, Occupancy, OccupancyReport, OccupancyTotals } from '../transport/messages.js';
import type { ChannelKey } from './entry.js';
import { addUp, crossesZero, noAttachments, Throttle } from './occupancy.js';

export interface BoardDeps {
  send(to: NodeId, msg: OccupancyTotals): void;
  /** The nodes the channel's master here has subscribed (null: not mastered here). */
  subscribed(key: ChannelKey): ReadonlySet<NodeId> | null;
  /**
   * Sends this region's counts of a channel towards the other regions that want it
   * (through the globalmaster); `ask`: they answer with theirs.
   */
  toRegions?(key: ChannelKey, counts: Occupancy, ask: boolean): void;
  /** The other regions that want the channel, as its master here knows them. */
  regionsWanting?(key: ChannelKey): readonly string[];
  intervalMs: number;
  /** A monotonic clock (performance.now() by default). */
  now?(): number;
}

interface Tally {
  nodes: Map<NodeId, { counts: Occupancy; watchers: number }>;
  /** What each node was last sent, as text. */
  sent: Map<NodeId, string>;
  /** The totals last sent to anyone. */
  last: Occupancy;
  throttle: Throttle;
  /** Until when a new tally waits for every subscribed node's report (0: it has waited). */
  settleUntil: number;
  settleTimer: NodeJS.Timeout | null;
  /** Other regions' counts, as each last said them, and when (this board's clock). */
  regions: Map<string, { counts: Occupancy; at: number }>;
  /** This region's counts as last sent towards other regions, as text ('': not since forced). */
  told: string;
}

/** This region's counts go to the regions that want a channel again this many intervals apart. */
const REFRESH_INTERVALS = 20;
/** Another region's counts not heard for this many intervals are dropped. */
const EXPIRE_INTERVALS = 60;

export class OccupancyBoard {
  private readonly tallies = new Map<ChannelKey, Tally>();
  private readonly refresh: NodeJS.Timeout | null;

  constructor(private readonly deps: BoardDeps) {
    this.refresh = deps.toRegions ? setInterval(() => this.refreshRegions(), deps.intervalMs * REFRESH_INTERVALS).unref() : null;
  }

  get size(): number {
    return this.tallies.size;
  }

  private now(): number {
    return this.deps.now?.() ?? performance.now();
  }

  report(from: NodeId, r: OccupancyReport): void {
    let t = this.tallies.get(r.channel);
    if (r.counts.connections === 0) {
      if (t) this.remove(r.channel, t, from);
      return;
    }
    const fresh = !t;
    t ??= this.tally(r.channel);
    t.nodes.set(from, { counts: r.counts, watchers: r.watchers });
    if (r.fresh) t.sent.delete(from);
    // A new tally (a first attachment, or a new master, which may not know yet which regions want the
    // channel): the regions that do (as the globalmaster knows them) are asked for theirs.
    if (fresh) this.tell(r.channel, t, true);
    this.changed(r.channel, t, r.fresh);
  }

  /** Another region's counts of a channel (through the globalmaster); `ask`: it wants this region's. */
  fromRegion(region: string, key: ChannelKey, counts: Occupancy, ask = false): void {
    let t = this.tallies.get(key);
    if (t && ask) this.tellAgain(key, t);
    if (counts.connections === 0) {
      if (t?.regions.delete(region)) this.afterRemoval(key, t);
      return;
    }
    t ??= this.tally(key);
    t.regions.set(region, { counts, at: this.now() });
    this.changed(key, t, false);
  }

  /**
   * The regions that want a channel changed (RemoteInterest: all of them, and those the
   * globalmaster has not heard from since it took the role, whose counts stay): those gone
   * are dropped, and all are sent this region's counts again (one new among them has none).
   */
  remoteInterest(key: ChannelKey, regions: readonly string[], keep: readonly string[] = []): void {
    const t = this.tallies.get(key);
    if (!t) return;
    this.tellAgain(key, t);
    let gone = false;
    for (const r of t.regions.keys()) if (!regions.includes(r) && !keep.includes(r)) gone = t.regions.delete(r) || gone;
    if (gone) this.afterRemoval(key, t);
  }

  /** A link to another region is back: it is sent this region's counts again. */
  relinked(): void {
    for (const [key, t] of this.tallies) this.tellAgain(key, t);
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
  keepOnly(mastersHere: (key: ChannelKey) => boolean): void {
    for (const [key, t] of this.tallies) if (!mastersHere(key)) this.dispose(key, t);
  }

  /** The other regions' counts of a channel, added up, as this board has them (none: no tally here). */
  otherRegions(key: ChannelKey): Occupancy | null {
    const t = this.tallies.get(key);
    return t && t.regions.size > 0 ? addUp([...t.regions.values()].map((r) => r.counts)) : null;
  }

  /** Stops the refresh of other regions' counts. */
  stop(): void {
    if (this.refresh) clearInterval(this.refresh);
    for (const [key, t] of this.tallies) this.dispose(key, t);
  }

  private tally(key: ChannelKey): Tally {
    const t: Tally = {
      nodes: new Map(),
      sent: new Map(),
      last: noAttachments(),
      throttle: new Throttle(this.deps.intervalMs, () => this.send(key), () => this.now()),
      settleUntil: this.now() + this.deps.intervalMs,
      settleTimer: null,
      regions: new Map(),
      told: JSON.stringify(noAttachments()),
    };
    this.tallies.set(key, t);
    return t;
  }

  private remove(key: ChannelKey, t: Tally, node: NodeId): void {
    t.nodes.delete(node);
    t.sent.delete(node);
    // None left here: the other regions are told so now, before the tally may go.
    if (t.nodes.size === 0) this.tell(key, t);
    this.afterRemoval(key, t);
  }

  private afterRemoval(key: ChannelKey, t: Tally): void {
    if (t.nodes.size === 0 && t.regions.size === 0) this.dispose(key, t);
    else this.changed(key, t, false);
  }

  private dispose(key: ChannelKey, t: Tally): void {
    t.throttle.stop();
    if (t.settleTimer) clearTimeout(t.settleTimer);
    this.tallies.delete(key);
  }

  private changed(key: ChannelKey, t: Tally, fresh: boolean): void {
    if (t.settleUntil > 0) {
      const waiting = [...(this.deps.subscribed(key) ?? [])].some((n) => !t.nodes.has(n)) || this.regionsAwaited(key, t);
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
   * Whether a new tally still waits for other regions' answers: those that want the channel
   * and have not said, or, where none is known to (a master that took the channel over may
   * not know yet), any that may (with other regions, until the wait ends).
   */
  private regionsAwaited(key: ChannelKey, t: Tally): boolean {
    if (!this.deps.toRegions) return false;
    const wanting = this.deps.regionsWanting?.(key) ?? [];
    return wanting.length === 0 || wanting.some((r) => !t.regions.has(r));
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
    return addUp([this.local(t), ...[...t.regions.values()].map((r) => r.counts)]);
  }

  private send(key: ChannelKey): void {
    const t = this.tallies.get(key);
    if (!t) return;
    const counts = this.totals(t);
    t.last = counts;
    const text = JSON.stringify(counts);
    for (const [node, n] of t.nodes) {
      if (n.watchers === 0 || t.sent.get(node) === text) continue;
      t.sent.set(node, text);
      this.deps.send(node, { type: 'occupancyTotals', channel: key, counts });
    }
    this.tell(key, t);
  }

  /** This region's counts towards the other regions, where they differ from what was last sent (or asking for theirs). */
  private tell(key: ChannelKey, t: Tally, ask = false): void {
    if (!this.deps.toRegions) return;
    const local = this.local(t);
    const text = JSON.stringify(local);
    if (text === t.told && !ask) return;
    t.told = text;
    this.deps.toRegions(key, local, ask);
  }

  /** This region's counts towards the other regions even if unchanged (none here: nothing to say). */
  private tellAgain(key: ChannelKey, t: Tally): void {
    if (t.nodes.size === 0) return;
    t.told = '';
    this.tell(key, t);
  }

  /** Sends this region's counts again where other regions want the channel, and drops counts not heard for long. */
  private refreshRegions(): void {
    const stale = this.now() - this.deps.intervalMs * EXPIRE_INTERVALS;
    for (const [key, t] of this.tallies) {
      let gone = false;
      for (const [r, c] of t.regions) if (c.at < stale) gone = t.regions.delete(r) || gone;
      if (this.deps.regionsWanting?.(key).length) this.tellAgain(key, t);
      if (gone) this.afterRemoval(key, t);
    }
  }
}
