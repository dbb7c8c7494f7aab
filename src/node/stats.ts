/**
 * App statistics (Ably's `GET /stats`): per app, per minute, counters of messages in
 * and out, connections, channels and API requests. Each node counts what it sees; a
 * `/stats` request gathers the minutes of every node of the region and adds them up
 * (peaks add up to an upper bound of the region's peak), then rolls them up by unit.
 * Kept in memory for `STATS_RETENTION_MS`.
 */

/** Minutes kept per app (a week). */
export const STATS_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const MINUTE_MS = 60_000;
export const STATS_SCHEMA = 'https://schemas.ably.com/json/app-stats-0.0.5.json';

export type StatsEntries = Record<string, number>;

export interface StatsBucket {
  /** Start of the minute (ms since the epoch). */
  minute: number;
  entries: StatsEntries;
}

/** Entries whose rollup is a maximum, not a sum. */
function isPeak(name: string): boolean {
  return name.endsWith('.peak');
}

/** The entries a count of messages and their bytes go to. */
interface Counted {
  messages: readonly string[];
  data: readonly string[];
}

/** The entries traffic in one direction over one transport counts in (Ably's stats tree). */
function traffic(direction: 'inbound' | 'outbound', via: 'realtime' | 'rest'): Counted {
  return {
    messages: [`messages.${direction}.${via}.messages.count`, `messages.${direction}.all.messages.count`, 'messages.all.messages.count', 'messages.all.all.count'],
    data: [`messages.${direction}.${via}.messages.data`, 'messages.all.all.data'],
  };
}

/** What a delivery counts in (deliveries are realtime). */
const DELIVERED = traffic('outbound', 'realtime');
/** What a publish counts in, by how it came. */
const PUBLISHED = { realtime: traffic('inbound', 'realtime'), rest: traffic('inbound', 'rest') };

export class StatsRecorder {
  private readonly apps = new Map<string, Map<number, StatsEntries>>();

  constructor(private readonly now: () => number) {}

  private bucket(appId: string): StatsEntries {
    const minute = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    let app = this.apps.get(appId);
    if (!app) this.apps.set(appId, (app = new Map()));
    let b = app.get(minute);
    if (!b) {
      app.set(minute, (b = {}));
      const cutoff = minute - STATS_RETENTION_MS;
      for (const m of app.keys()) {
        if (m >= cutoff) break;
        app.delete(m);
      }
    }
    return b;
  }

  add(appId: string, entry: string, n = 1): void {
    const b = this.bucket(appId);
    b[entry] = (b[entry] ?? 0) + n;
  }

  /** `messages` messages (`bytes` of data) published to an app over realtime or REST. */
  published(appId: string, via: 'realtime' | 'rest', messages: number, bytes: number): void {
    this.count(appId, PUBLISHED[via], messages, bytes);
  }

  /** A batch of `messages` messages (`bytes` of data) delivered to `connections` connections of an app. */
  delivered(appId: string, connections: number, messages: number, bytes: number): void {
    this.count(appId, DELIVERED, connections * messages, connections * bytes);
  }

  private count(appId: string, into: Counted, messages: number, bytes: number): void {
    const b = this.bucket(appId);
    for (const e of into.messages) b[e] = (b[e] ?? 0) + messages;
    for (const e of into.data) b[e] = (b[e] ?? 0) + bytes;
  }

  /** Records a level (connections, channels) and keeps the minute's peak. */
  level(appId: string, entry: string, value: number): void {
    const b = this.bucket(appId);
    if ((b[entry] ?? 0) < value) b[entry] = value;
  }

  /** This node's minutes for an app within [start, end]. */
  buckets(appId: string, start: number, end: number): StatsBucket[] {
    const app = this.apps.get(appId);
    if (!app) return [];
    const out: StatsBucket[] = [];
    for (const [minute, entries] of app) if (minute >= start && minute <= end) out.push({ minute, entries: { ...entries } });
    return out;
  }
}

/** Adds up several nodes' minutes. */
export function mergeBuckets(lists: StatsBucket[][]): StatsBucket[] {
  const byMinute = new Map<number, StatsEntries>();
  for (const list of lists) {
    for (const b of list) {
      let e = byMinute.get(b.minute);
      if (!e) byMinute.set(b.minute, (e = {}));
      for (const [k, v] of Object.entries(b.entries)) e[k] = (e[k] ?? 0) + v;
    }
  }
  return [...byMinute].map(([minute, entries]) => ({ minute, entries }));
}

export type StatsUnit = 'minute' | 'hour' | 'day' | 'month';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Start of the interval containing `t`, and its Ably interval id. */
export function interval(t: number, unit: StatsUnit): { start: number; id: string } {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth();
  switch (unit) {
    case 'minute': {
      const start = Math.floor(t / MINUTE_MS) * MINUTE_MS;
      const s = new Date(start);
      return { start, id: `${y}-${pad(mo + 1)}-${pad(s.getUTCDate())}:${pad(s.getUTCHours())}:${pad(s.getUTCMinutes())}` };
    }
    case 'hour': {
      const start = Math.floor(t / 3_600_000) * 3_600_000;
      return { start, id: `${y}-${pad(mo + 1)}-${pad(d.getUTCDate())}:${pad(d.getUTCHours())}` };
    }
    case 'day': {
      const start = Date.UTC(y, mo, d.getUTCDate());
      return { start, id: `${y}-${pad(mo + 1)}-${pad(d.getUTCDate())}:00` };
    }
    case 'month':
      return { start: Date.UTC(y, mo, 1), id: `${y}-${pad(mo + 1)}-01:00` };
  }
}

export interface StatsRecord {
  intervalId: string;
  unit: StatsUnit;
  /** Whether the interval is still running (then: the last minute counted). */
  inProgress?: string;
  entries: StatsEntries;
  schema: string;
  appId: string;
}

type RollupOptions = { unit: StatsUnit; appId: string; now: number; direction: 'forwards' | 'backwards'; limit: number };

/** Rolls minutes up into intervals of `unit`, sorted in `direction`, at most `limit`. */
export function rollup(minutes: StatsBucket[], o: RollupOptions): StatsRecord[] {
  return rollupPage(minutes, o).records;
}

/**
 * The same, and the bound of the next page when there are more intervals than `limit`:
 * backwards, the end just before the last interval given; forwards, the start of the
 * first interval not given.
 */
export function rollupPage(minutes: StatsBucket[], o: RollupOptions): { records: StatsRecord[]; next: number | null } {
  const byInterval = new Map<number, { id: string; entries: StatsEntries; last: number }>();
  for (const b of minutes) {
    const iv = interval(b.minute, o.unit);
    let r = byInterval.get(iv.start);
    if (!r) byInterval.set(iv.start, (r = { id: iv.id, entries: {}, last: b.minute }));
    r.last = Math.max(r.last, b.minute);
    for (const [k, v] of Object.entries(b.entries)) r.entries[k] = isPeak(k) ? Math.max(r.entries[k] ?? 0, v) : (r.entries[k] ?? 0) + v;
  }
  const current = interval(o.now, o.unit).start;
  const sorted = [...byInterval].sort((a, b) => (o.direction === 'forwards' ? a[0] - b[0] : b[0] - a[0]));
  const given = sorted.slice(0, o.limit);
  const records = given.map(([start, r]) => {
    const rec: StatsRecord = { intervalId: r.id, unit: o.unit, entries: r.entries, schema: STATS_SCHEMA, appId: o.appId };
    if (start === current && o.unit !== 'minute') rec.inProgress = interval(r.last, 'minute').id;
    return rec;
  });
  if (sorted.length <= o.limit) return { records, next: null };
  return { records, next: o.direction === 'backwards' ? given[given.length - 1]![0] - 1 : sorted[o.limit]![0] };
}
