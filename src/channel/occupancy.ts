/**
 * Occupancy events (Ably's inband occupancy): a client that attaches with the channel
 * param `occupancy` (`metrics`, or `metrics.<category>`) and the `channel-metadata`
 * capability is sent `[meta]occupancy` messages on the channel, whose data is
 * `{metrics: {...}}`, whenever a count it asked for changes.
 *
 * The counts are the region's attachments by mode, added up by the channel's master
 * (occupancy-board.ts) from each node's report, with the presence set's size as each
 * node's channel client holds it (occupancy-watch.ts). A change where a count goes from
 * zero or to zero is sent at once; others at most once per interval (Ably: "debounced,
 * for no more than 15 seconds").
 */
import { monotonicClock } from '../clock.js';
import type { Operation } from '../auth/capability.js';
import { AblyError } from '../errors.js';
import { Action } from '../protocol/actions.js';
import { encodeFrame, type Frame } from '../protocol/codec.js';
import type { WireFormat } from '../protocol/types.js';
import type { Occupancy } from '../transport/messages.js';

/** The categories of Ably's ChannelMetrics, in its order. */
export const OCCUPANCY_CATEGORIES = [
  'connections',
  'publishers',
  'subscribers',
  'presenceConnections',
  'presenceMembers',
  'presenceSubscribers',
  'objectPublishers',
  'objectSubscribers',
] as const;
export type OccupancyCategory = (typeof OCCUPANCY_CATEGORIES)[number];
export type ChannelMetrics = Record<OccupancyCategory, number>;

/** What a client asked for: every category, or one. */
export interface OccupancyWanted {
  category: OccupancyCategory | null;
}

/** The event's name (Ably's). */
export const OCCUPANCY_EVENT = '[meta]occupancy';

/** Reads the `occupancy` channel param: `metrics` or `metrics.<category>`; anything else is refused with 40003. */
export function parseOccupancyParam(value: string): OccupancyWanted {
  if (value === 'metrics') return { category: null };
  const category = value.startsWith('metrics.') ? value.slice('metrics.'.length) : '';
  if ((OCCUPANCY_CATEGORIES as readonly string[]).includes(category)) return { category: category as OccupancyCategory };
  throw AblyError.of(
    'invalidParameterValue',
    `occupancy must be "metrics" or "metrics.<category>" (${OCCUPANCY_CATEGORIES.join(', ')}), not ${JSON.stringify(value).slice(0, 80)}`,
  );
}

/**
 * What an attachment's `occupancy` param asks for (none: no param). Occupancy events need
 * the `channel-metadata` capability on the channel (Ably's rule); without it the attach is
 * refused with 40160.
 */
export function occupancyFor(value: string | undefined, ops: ReadonlySet<Operation>, channel: string): OccupancyWanted | null {
  if (value === undefined) return null;
  const wanted = parseOccupancyParam(value);
  if (!ops.has('channel-metadata')) throw AblyError.of('notPermitted', `occupancy events need the channel-metadata capability on "${channel}"`);
  return wanted;
}

export function noAttachments(): Occupancy {
  return { connections: 0, publishers: 0, subscribers: 0, presenceSubscribers: 0, presenceConnections: 0 };
}

const COUNTS = ['connections', 'publishers', 'subscribers', 'presenceSubscribers', 'presenceConnections'] as const;

/** Counts added up. */
export function addUp(all: Iterable<Occupancy>): Occupancy {
  const sum = noAttachments();
  for (const o of all) for (const k of COUNTS) sum[k] += o[k];
  return sum;
}

/** Whether some count went from zero or to zero (a mode change: Ably sends those at once). */
export function crossesZero(a: Occupancy, b: Occupancy): boolean {
  return COUNTS.some((k) => (a[k] === 0) !== (b[k] === 0));
}

/** The metrics of an event: the region's counts and the presence set's size. No connection here has object modes. */
export function channelMetrics(counts: Occupancy, presenceMembers: number): ChannelMetrics {
  return {
    connections: counts.connections,
    publishers: counts.publishers,
    subscribers: counts.subscribers,
    presenceConnections: counts.presenceConnections,
    presenceMembers,
    presenceSubscribers: counts.presenceSubscribers,
    objectPublishers: 0,
    objectSubscribers: 0,
  };
}

/** The event's data for one client: every category, or the one it asked for. */
export function eventData(wanted: OccupancyWanted, metrics: ChannelMetrics): { metrics: Partial<ChannelMetrics> } {
  return { metrics: wanted.category === null ? metrics : { [wanted.category]: metrics[wanted.category] } };
}

/**
 * The MESSAGE that carries an event: no channelSerial (it is not part of the channel's
 * stream or history), data as JSON text with encoding `json`, as Ably sends an object.
 */
export function occupancyFrame(channelName: string, id: string, timestamp: number, data: string, format: WireFormat): Frame {
  return encodeFrame(
    { action: Action.MESSAGE, channel: channelName, messages: [{ id, name: OCCUPANCY_EVENT, timestamp, data, encoding: 'json' }] },
    format,
  );
}

/**
 * Runs `run` at most once per `ms`: at once when it last ran longer ago (or `urgent`),
 * else once at the end of the interval however often it is asked meanwhile.
 */
export class Throttle {
  private last = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly run: () => void,
    private readonly now: () => number = monotonicClock.now,
  ) {}

  poke(urgent = false): void {
    const now = this.now();
    if (urgent || now - this.last >= this.ms) {
      this.stop();
      this.last = now;
      this.run();
      return;
    }
    if (!this.timer) this.schedule(this.last + this.ms - now);
  }

  /** Runs once, an interval from now (or from its last run, if later), however often asked meanwhile. */
  later(): void {
    if (!this.timer) this.schedule(Math.max(this.ms, this.last + this.ms - this.now()));
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.last = this.now();
      this.run();
    }, ms);
    this.timer.unref();
  }

  /** Forgets a run it was to make. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
