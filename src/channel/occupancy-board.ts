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
 * Totals go to each node with watchers when they differ from what that node was last
 * sent, or when it says it has a watcher that has had none. A count going from or to
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
}

export class OccupancyBoard {
  private readonly tallies = new Map<ChannelKey, Tally>();

  constructor(private readonly deps: BoardDeps) {}

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
    if (!t) {
      t = this.tally(r.channel);
      this.tallies.set(r.channel, t);
    }
    t.nodes.set(from, { counts: r.counts, watchers: r.watchers });
    if (r.fresh) t.sent.delete(from);
    this.changed(r.channel, t, r.fresh);
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

  /** A channel's totals as this board has them (none: no tally). */
  totals(key: ChannelKey): Occupancy | null {
    const t = this.tallies.get(key);
    return t ? addUp([...t.nodes.values()].map((n) => n.counts)) : null;
  }

  private tally(key: ChannelKey): Tally {
    return {
      nodes: new Map(),
      sent: new Map(),
      last: noAttachments(),
      throttle: new Throttle(this.deps.intervalMs, () => this.send(key), () => this.now()),
      settleUntil: this.now() + this.deps.intervalMs,
      settleTimer: null,
    };
  }

  private remove(key: ChannelKey, t: Tally, node: NodeId): void {
    t.nodes.delete(node);
    t.sent.delete(node);
    if (t.nodes.size === 0) this.dispose(key, t);
    else this.changed(key, t, false);
  }

  private dispose(key: ChannelKey, t: Tally): void {
    t.throttle.stop();
    if (t.settleTimer) clearTimeout(t.settleTimer);
    this.tallies.delete(key);
  }

  private changed(key: ChannelKey, t: Tally, fresh: boolean): void {
    if (t.settleUntil > 0) {
      const waiting = [...(this.deps.subscribed(key) ?? [])].some((n) => !t.nodes.has(n));
      const left = t.settleUntil - this.now();
      if (waiting && left > 0) {
        t.settleTimer ??= setTimeout(() => this.settled(key, t), left).unref();
        return;
      }
      this.settled(key, t);
      return;
    }
    const totals = addUp([...t.nodes.values()].map((n) => n.counts));
    t.throttle.poke(fresh || crossesZero(t.last, totals));
  }

  private settled(key: ChannelKey, t: Tally): void {
    if (t.settleTimer) clearTimeout(t.settleTimer);
    t.settleTimer = null;
    t.settleUntil = 0;
    if (this.tallies.get(key) === t) t.throttle.poke(true);
  }

  private send(key: ChannelKey): void {
    const t = this.tallies.get(key);
    if (!t) return;
    const counts = addUp([...t.nodes.values()].map((n) => n.counts));
    t.last = counts;
    const text = JSON.stringify(counts);
    for (const [node, n] of t.nodes) {
      if (n.watchers === 0 || t.sent.get(node) === text) continue;
      t.sent.set(node, text);
      this.deps.send(node, { type: 'occupancyTotals', channel: key, counts });
    }
  }
}
