/**
 * Occupancy on a node's side (occupancy.ts): each channel client's attachments are
 * reported to the master it is subscribed at (occupancy-board.ts), and the totals the
 * master sends back are delivered to the attachments that asked for occupancy events,
 * with the presence set's size as this node's channel client holds it. A client is sent
 * an event only when what it asked for differs from what it was last sent.
 */
import type { NodeId, Occupancy, OccupancyReport } from '../transport/messages.js';
import type { ChannelClient } from './client.js';
import { channelMetrics, eventData, noAttachments, occupancyFrame, Throttle } from './occupancy.js';
import type { LocalSubscriber } from './subscriber.js';
import type { Frame } from '../protocol/codec.js';

/** What a channel client tells of itself (ClientDeps.occupancy). */
export interface OccupancyHooks {
  /** Its live attachments changed (`sub` activated or detached; none: their modes). */
  changed(c: ChannelClient, sub?: LocalSubscriber): void;
  /** It subscribed at a master (first, or again after the master moved or died). */
  subscribed(c: ChannelClient, master: NodeId): void;
  /** Its presence set changed. */
  presence(c: ChannelClient): void;
  /** It closed (its last attachment here is gone). */
  closed(c: ChannelClient): void;
  /** An attachment attaches (again): it is sent an event after its ATTACHED, as a new one is. */
  attaching(c: ChannelClient, sub: LocalSubscriber): void;
}

export interface WatchDeps {
  send(to: NodeId, msg: OccupancyReport): void;
  intervalMs: number;
  /** The wall clock (events' timestamps). */
  now(): number;
  /** Unique to this node's life: events' ids are `<prefix>:<n>:0`. */
  idPrefix: string;
}

/** Reports follow a burst of attaches at most this often (or the interval, if shorter). */
const REPORT_EVERY_MS = 100;

interface Local {
  report: Throttle;
  /** Made when it first has totals (a watcher here). */
  presence: Throttle | null;
  /** The region's counts, from the master the client is subscribed at. */
  totals: Occupancy | null;
  /** The presence set's size last delivered. */
  members: number;
  /** What each watcher was last sent, as text (forgotten at each attach: `attaching`). */
  given: Given | null;
}

type Given = WeakMap<LocalSubscriber, string>;

/**
 * A channel client's live attachments by mode, how many asked for occupancy events, and
 * whether any has had none since it attached (a new one, or one that attached again, maybe
 * with another `occupancy` param).
 */
export function countAttachments(c: ChannelClient, given?: Given): { counts: Occupancy; watchers: number; fresh: boolean } {
  const counts = noAttachments();
  let watchers = 0;
  let fresh = false;
  for (const sub of c.live()) {
    counts.connections++;
    if (sub.publishes) counts.publishers++;
    if (sub.wants('message')) counts.subscribers++;
    if (sub.wants('presence')) counts.presenceSubscribers++;
    if (sub.enters) counts.presenceConnections++;
    if (sub.occupancy) {
      watchers++;
      if (!given?.has(sub)) fresh = true;
    }
  }
  return { counts, watchers, fresh };
}

export class OccupancyWatch implements OccupancyHooks {
  private readonly locals = new Map<ChannelClient, Local>();
  private events = 0;

  constructor(private readonly deps: WatchDeps) {}

  changed(c: ChannelClient, sub?: LocalSubscriber): void {
    // A watcher's change is told at once (a new one waits for its first event); others a
    // report interval later, so a burst of attaches, even the first, is one report.
    const l = this.local(c);
    if (sub?.occupancy) l.report.poke();
    else l.report.later();
  }

  subscribed(c: ChannelClient, master: NodeId): void {
    // None: no attachment here is live yet; the first to be reports.
    const l = this.locals.get(c);
    if (!l) return;
    l.report.stop();
    // The master sends its totals again (it may be the same one, with this node's share
    // and what it last sent unchanged): presence changes wait for them, not for a change.
    l.totals = null;
    this.report(c, master, true);
  }

  attaching(c: ChannelClient, sub: LocalSubscriber): void {
    this.locals.get(c)?.given?.delete(sub);
  }

  closed(c: ChannelClient): void {
    const l = this.locals.get(c);
    if (!l) return;
    l.report.stop();
    l.presence?.stop();
    this.locals.delete(c);
  }

  /** Stops every timer (the node is stopping). */
  stop(): void {
    for (const c of [...this.locals.keys()]) this.closed(c);
  }

  presence(c: ChannelClient): void {
    const l = this.locals.get(c);
    if (!l?.totals) return;
    (l.presence ??= new Throttle(this.deps.intervalMs, () => this.deliver(c, this.locals.get(c)))).poke((c.presenceSize === 0) !== (l.members === 0));
  }

  /** Totals from a master: taken only from the one the client is subscribed at. */
  totals(c: ChannelClient, from: NodeId, counts: Occupancy): void {
    const l = this.locals.get(c);
    if (!l || c.subscribedAt !== from) return;
    l.totals = counts;
    this.deliver(c, l);
  }

  private local(c: ChannelClient): Local {
    let l = this.locals.get(c);
    if (!l) {
      l = {
        report: new Throttle(Math.min(REPORT_EVERY_MS, this.deps.intervalMs), () => this.report(c, c.subscribedAt)),
        presence: null,
        totals: null,
        members: 0,
        given: null,
      };
      this.locals.set(c, l);
    }
    return l;
  }

  private report(c: ChannelClient, to: NodeId | null, again = false): void {
    const l = this.locals.get(c);
    if (!l) return;
    const { counts, watchers, fresh } = countAttachments(c, l.given ?? undefined);
    // Gone from the channel here: the unsubscribe that follows tells the master too.
    if (counts.connections === 0) this.closed(c);
    if (to !== null) this.deps.send(to, { type: 'occupancyReport', channel: c.key, counts, watchers, fresh: fresh || (again && watchers > 0), moved: again });
  }

  private deliver(c: ChannelClient, l: Local | undefined): void {
    if (!l?.totals) return;
    l.members = c.presenceSize;
    const metrics = channelMetrics(l.totals, l.members);
    const id = `${this.deps.idPrefix}:${this.events++}:0`;
    const timestamp = this.deps.now();
    const frames = new Map<string, Frame>();
    // The data of each category asked for, made once.
    const texts = new Map<string | null, string>();
    for (const sub of c.live()) {
      if (!sub.occupancy) continue;
      const category = sub.occupancy.category;
      let data = texts.get(category);
      if (data === undefined) texts.set(category, (data = JSON.stringify(eventData(sub.occupancy, metrics))));
      if (l.given?.get(sub) === data) continue;
      (l.given ??= new WeakMap()).set(sub, data);
      const k = `${sub.format}\n${sub.channelName}\n${category}`;
      let f = frames.get(k);
      if (!f) frames.set(k, (f = occupancyFrame(sub.channelName, id, timestamp, data, sub.format)));
      sub.send([f]);
      if (sub.delta) c.sentApart(sub);
    }
  }
}
