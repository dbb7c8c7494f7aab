/**
 * `[meta]stats:minute`, Ably's app statistics metachannel: when a minute ends, its
 * statistics are published to the app's metachannel as one message named `update`, its
 * data the minute's record as `GET /stats?unit=minute` gives it (intervalId, unit, schema,
 * appId and the entries that are not zero). Statistics here are a region's (stats.ts:
 * every node of the region counts what it sees), so each region publishes its own, with
 * `region` added to the data; a subscriber in any region gets every region's, as for any
 * channel. (Ably publishes one for the whole app.)
 *
 * In each region the node that masters the app's metachannel publishes (one node, by the
 * ring), PUBLISH_AFTER_MS after the minute ends (its nodes' counts of that minute are in),
 * and again later in case the first did not go (the master moved, the publish failed, or
 * a node of the region did not answer, so its counts would have been missing): under the
 * same id, `stats:<region>:<intervalId>`, which the metachannel's dedup window (two
 * minutes) drops. A minute with no entry is not published. The metachannels are not
 * counted in the statistics as the app's channels (registry.ts), and these publishes not
 * as its messages: the service makes them. */
import type { ChannelKey } from '../channel/entry.js';
import type { Ring } from '../cluster/ring.js';
import type { ChannelPublisher } from '../channel/publisher.js';
import type { Topology } from '../config/topology.js';
import type { Logger } from '../log.js';
import type { Message } from '../protocol/message.js';
import type { NodeId } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import { STATS_CHANNEL } from '../protocol/channel-name.js';
import { regionStatsOf } from './region-queries.js';
import { rollup, type StatsBucket } from './stats.js';

/** The publisher source of a node's statistics events (a connection's id is another). */
export const STATS_SOURCE = 'stats';
/** When, after a minute ends, its statistics are published: a first time, then again (ms). */
export const PUBLISH_AFTER_MS = [3_000, 15_000] as const;
const MINUTE_MS = 60_000;

export interface StatsMinuteDeps {
  region: string;
  /** The deployment's apps. */
  apps: () => readonly string[];
  /** The wall clock (ms). */
  now(): number;
  /** Whether this node masters the channel in its region (as it sees the ring). */
  mine(key: ChannelKey): boolean;
  /** The region's statistics minutes of an app within [start, end] (every node's, added up); `complete` where every node answered. */
  stats(appId: string, start: number, end: number): Promise<{ minutes: StatsBucket[]; complete: boolean }>;
  /** Publishes to the metachannel; rejects if the messages may not have been taken. */
  publish(key: ChannelKey, messages: Message[]): Promise<unknown>;
  log: Logger;
}

/** The message for an app's minute in a region (null: nothing counted). */
export function statsMessage(appId: string, region: string, minutes: StatsBucket[], now: number): Message | null {
  const [record] = rollup(minutes, { unit: 'minute', appId, now, direction: 'forwards', limit: 1 });
  if (!record || Object.keys(record.entries).length === 0) return null;
  const { intervalId, unit, schema, entries } = record;
  const data = { intervalId, unit, schema, entries, appId, region };
  return { id: `stats:${region}:${intervalId}`, name: 'update', timestamp: now, data: JSON.stringify(data), encoding: 'json' };
}

/** A node's part: `tick` each second; it publishes each minute that ended for the apps whose metachannel it masters. */
export class StatsMinute {
  /**
   * The last minute (its start) attempts ran for, and how many of its attempts are done.
   * The minute before the node started is the region's too (its master may have been
   * here before a restart): none of its attempts is done.
   */
  private done: { minute: number; attempts: number };
  private running = false;

  constructor(private readonly d: StatsMinuteDeps) {
    this.done = { minute: this.lastEnded(), attempts: 0 };
  }

  /** The start of the minute that ended last. */
  private lastEnded(): number {
    return Math.floor(this.d.now() / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
  }

  tick(): void {
    if (this.running) return;
    const minute = this.lastEnded();
    const since = this.d.now() - (minute + MINUTE_MS);
    // The attempts due by now; only the latest runs (an earlier one left is moot).
    const due = PUBLISH_AFTER_MS.filter((ms) => since >= ms).length;
    if (due <= (this.done.minute === minute ? this.done.attempts : 0)) return;
    this.done = { minute, attempts: due };
    this.running = true;
    void this.publishMinute(minute, due === PUBLISH_AFTER_MS.length).finally(() => {
      this.running = false;
    });
  }

  /**
   * Publishes a minute for the apps whose metachannel this node masters, at once. Before
   * the last attempt, not where a node of the region did not answer (its counts would be
   * missing, and the first publish is the one the dedup window keeps).
   */
  private async publishMinute(minute: number, last: boolean): Promise<void> {
    const apps = this.d.apps().filter((appId) => this.d.mine(`${appId}:${STATS_CHANNEL}`));
    await Promise.all(
      apps.map(async (appId) => {
        try {
          const { minutes, complete } = await this.d.stats(appId, minute, minute);
          if (!complete && !last) return void this.d.log.info({ app: appId, minute }, 'statistics not complete: published at the next attempt');
          const m = statsMessage(appId, this.d.region, minutes, this.d.now());
          if (m) await this.d.publish(`${appId}:${STATS_CHANNEL}`, [m]);
        } catch (err) {
          this.d.log.warn({ app: appId, minute, err: (err as Error).message }, 'statistics not published to the metachannel');
        }
      }),
    );
  }
}

/** A node's StatsMinute: its region's statistics (asked of the ring's members), published through the node's ChannelPublisher. */
export function nodeStatsMinute(
  topology: Topology,
  region: string,
  d: { self: NodeId; now(): number; rpc: Rpc; ring(): Pick<Ring, 'owner' | 'members'>; publisher(): Pick<ChannelPublisher, 'publish'>; log: Logger },
): StatsMinute {
  return new StatsMinute({
    region,
    apps: () => topology.apps.map((a) => a.id),
    now: d.now,
    mine: (key) => d.ring().owner(key) === d.self,
    stats: (appId, start, end) => regionStatsOf(d.rpc, d.ring().members, appId, start, end),
    publish: (key, messages) => d.publisher().publish(STATS_SOURCE, key, messages),
    log: d.log,
  });
}
