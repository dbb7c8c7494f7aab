/**
 * The workload's occupancy check (after the presence check): every member client attaches
 * with `params: { occupancy: 'metrics' }` and keeps the last `[meta]occupancy` event of
 * each channel; each region's REST endpoint answers `GET /channels/{name}`. Every view must
 * come to show the counts of the clients attached as they are then: the members' events
 * every region's, a region's REST status that region's (with the presence set's size,
 * which is the channel's).
 */
import { sleep } from '../clock.js';
import type { OccupancyEvent } from './record.js';

/** How often the check reads every view (ms), and how long one REST read may take. */
const POLL_MS = 500;
const READ_TIMEOUT_MS = 3000;

export type Metrics = Record<string, number>;

/** A client as the check counts it: its region, and whether it is attached to a channel now. */
export interface Counted {
  region: string;
  /**
   * Attached to the channel with SUBSCRIBE, PUBLISH and PRESENCE modes (a subscriber),
   * PRESENCE ones only (a member), or through a subscription filter, SUBSCRIBE alone.
   */
  kind: 'subscriber' | 'member' | 'filtered';
  attached(channel: string): boolean;
}

/** The metrics a view of `channel` should show: every region's clients, or those of `region`. */
export function expectedMetrics(clients: readonly Counted[], channel: string, region: string | null): Metrics {
  const on = clients.filter((c) => c.attached(channel));
  const here = region === null ? on : on.filter((c) => c.region === region);
  const subs = here.filter((c) => c.kind === 'subscriber').length;
  const filtered = here.filter((c) => c.kind === 'filtered').length;
  return {
    connections: here.length,
    publishers: subs,
    subscribers: subs + filtered,
    presenceConnections: here.length - filtered,
    presenceMembers: on.filter((c) => c.kind === 'member').length,
    presenceSubscribers: here.length - filtered,
    objectPublishers: 0,
    objectSubscribers: 0,
  };
}

const same = (a: Metrics | null, b: Metrics): boolean => a !== null && Object.keys(b).every((k) => a[k] === b[k]) && Object.keys(a).length === Object.keys(b).length;

export class OccupancyViews {
  /** Each member's last event per channel (`member\0channel`), and its region. */
  private readonly last = new Map<string, { region: string; observer: string; channel: string; metrics: Metrics }>();

  constructor(private readonly o: { regions: Map<string, { host: string; port: number }>; key: string; channels: string[] }) {}

  /** A member's event. */
  seen(observer: string, region: string, channel: string, metrics: unknown): void {
    if (metrics && typeof metrics === 'object') this.last.set(`${observer}\u0000${channel}`, { region, observer, channel, metrics: metrics as Metrics });
  }

  /**
   * Waits, up to `withinMs`, until every view shows what `clients` make now (the members
   * connected then, and each region's REST status); returns each view as it stood at the last read.
   */
  async check(clients: () => Counted[], connectedWatchers: () => { id: string; region: string }[], withinMs: number): Promise<OccupancyEvent[]> {
    const start = Date.now();
    const since = new Map<string, number>();
    for (;;) {
      const now = clients();
      const watchers = connectedWatchers();
      const views = [...watchers.flatMap((w) => this.o.channels.map((channel) => ({ region: w.region, observer: w.id, channel, seen: this.last.get(`${w.id}\u0000${channel}`)?.metrics ?? null, scope: null as string | null }))), ...(await this.readRest())];
      const t = Date.now();
      let all = true;
      const events: OccupancyEvent[] = views.map((v) => {
        const expected = expectedMetrics(now, v.channel, v.scope);
        const key = `${v.region}\u0000${v.observer}\u0000${v.channel}`;
        if (!same(v.seen, expected)) {
          since.delete(key);
          all = false;
        } else if (!since.has(key)) since.set(key, t);
        const s = since.get(key);
        return { type: 'occupancy', t, region: v.region, observer: v.observer, channel: v.channel, expected, seen: v.seen, convergedAfterMs: s === undefined ? null : s - start };
      });
      if (all || t - start >= withinMs) return events;
      await sleep(POLL_MS);
    }
  }

  /** Each region's REST status of each channel: that region's counts. */
  private async readRest(): Promise<{ region: string; observer: string; channel: string; seen: Metrics | null; scope: string }[]> {
    const auth = `Basic ${Buffer.from(this.o.key).toString('base64')}`;
    const reads = [...this.o.regions].flatMap(([region, { host, port }]) =>
      this.o.channels.map(async (channel) => {
        let seen: Metrics | null = null;
        try {
          const res = await fetch(`http://${host}:${port}/channels/${encodeURIComponent(channel)}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
          if (res.ok) seen = ((await res.json()) as { status?: { occupancy?: { metrics?: Metrics } } }).status?.occupancy?.metrics ?? null;
        } catch {
          /* not read: shown as none */
        }
        return { region, observer: 'rest', channel, seen, scope: region };
      }),
    );
    return Promise.all(reads);
  }
}
