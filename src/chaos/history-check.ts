/**
 * The history check (`history` lines, read after the drain): what each region's stored
 * history of a channel holds against what was acknowledged. Internal to `checker.ts`.
 *
 * A region's history of a channel is its master's log: every message the region accepted
 * and every message of another region it took in (forwarded while it had interest). So:
 * - every acknowledged message of the region's own publishers is expected in it;
 * - another region's acknowledged messages are expected where the channel has had a
 *   subscriber in the region without a break up to the end, for those published since
 *   that began (interest then existed; before, only the new interest's start reaches
 *   back);
 * - a message published at or before the last continuity signal any subscriber of the
 *   channel heard in the region is excused, as for deliveries (its state may have been
 *   lost with it: a new epoch's history starts afresh), and so is one older than the
 *   retention allowed when the history was read (`historyMs`, less a margin). In a
 *   history at least half as long as the count cap (`maxMessages`: messages, of every
 *   region), nothing older than its first message is expected. (The excuse
 *   is broad: one signal excuses everything before it, the region's own messages too.)
 * Violations: a message expected and missing; one that appears twice; one that comes
 * after a later one of its publisher (the region's order keeps each publisher's); and a
 * history that could not be read.
 */
import type { Channel, Sub } from './checker-parts.js';
import type { HistoryExample, HistoryFigures } from './checker-types.js';
import type { HistoryEvent } from './record.js';

/** Messages this much younger than the retention when read are still expected (ms). */
const RETENTION_MARGIN_MS = 5000;

/** The region a subscriber was in at the end (its last stay's), or the one it subscribed in. */
function endRegion(s: Sub): string {
  return s.stays.at(-1)?.region ?? s.region;
}

/**
 * Since when the channel has had a subscriber in `region` without a break up to the end
 * (Infinity: none there at the end): the last time the region went from none to some.
 * A subscriber is there from its subscribe (or its first delivery there after moving in)
 * until it moves on (its first delivery elsewhere) or unsubscribes.
 */
function interestSince(subs: readonly Sub[], region: string): number {
  const edges: [number, number][] = [];
  for (const s of subs) {
    s.stays.forEach((stay, i) => {
      if (stay.region !== region) return;
      const from = i === 0 && s.region === region ? s.subscribeT : (s.times[stay.from] ?? NaN);
      const next = s.stays[i + 1];
      const until = next ? (s.times[next.from] ?? Infinity) : Number.isNaN(s.unsubscribeT) ? Infinity : s.unsubscribeT;
      if (Number.isNaN(from)) return;
      edges.push([from, 1], [until, -1]);
    });
    // A subscriber that never got a delivery has no stay: it is where it subscribed.
    if (s.stays.length === 0 && s.region === region && !Number.isNaN(s.subscribeT)) {
      edges.push([s.subscribeT, 1], [Number.isNaN(s.unsubscribeT) ? Infinity : s.unsubscribeT, -1]);
    }
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0;
  let since = Infinity;
  for (const [t, d] of edges) {
    if (t === Infinity) break;
    if (n === 0 && d > 0) since = t;
    n += d;
  }
  return n > 0 ? since : Infinity;
}

export function historyFigures(reads: readonly HistoryEvent[], channels: ReadonlyMap<string, Channel>, publisherRegion: ReadonlyMap<string, string>, maxExamples: number): HistoryFigures | null {
  if (reads.length === 0) return null;
  const f: HistoryFigures = { reads: reads.length, items: 0, expected: 0, excused: 0, missing: 0, duplicates: 0, order: 0, unread: 0, examples: [] };
  const example = (e: HistoryExample) => {
    if (f.examples.filter((x) => x.kind === e.kind).length < maxExamples) f.examples.push(e);
  };
  for (const r of reads) {
    const at = { region: r.region, channel: r.channel };
    if (r.error !== undefined) {
      f.unread++;
      example({ kind: 'unread', ...at, detail: r.error });
      continue;
    }
    f.items += r.items.length;
    // Duplicates, and each publisher's order, in the history's order.
    const seen = new Set<string>();
    const highest = new Map<string, number>();
    for (const item of r.items) {
      const i = item.lastIndexOf('#');
      const publisher = item.slice(0, i);
      const seq = Number(item.slice(i + 1));
      if (seen.has(item)) {
        f.duplicates++;
        example({ kind: 'duplicate', ...at, publisher, seq });
        continue;
      }
      seen.add(item);
      const high = highest.get(publisher) ?? -Infinity;
      if (seq < high) {
        f.order++;
        example({ kind: 'order', ...at, publisher, seq, detail: `after #${high}` });
      } else highest.set(publisher, seq);
    }
    const c = channels.get(r.channel);
    if (!c) continue;
    const subs = [...c.subs.values()];
    const here = subs.filter((s) => s.region === r.region || endRegion(s) === r.region);
    const interestFrom = interestSince(subs, r.region);
    const lastGap = Math.max(-Infinity, ...here.flatMap((s) => s.continuity));
    let retainedFrom = r.t - r.historyMs + RETENTION_MARGIN_MS;
    // A history half as long as the log's count cap may have lost its oldest messages to
    // it (the workload's reads may not see every message counted), so nothing older than its first is expected.
    if (r.items.length > 0 && r.items.length >= r.maxMessages / 2) {
      const first = r.items[0]!;
      const i = first.lastIndexOf('#');
      const id = c.ids.get(`${first.slice(0, i)}\u0000${Number(first.slice(i + 1))}`);
      const t = id === undefined ? NaN : (c.msgs[id]?.publishT ?? NaN);
      retainedFrom = Math.max(retainedFrom, Number.isNaN(t) ? Infinity : t);
    }
    for (const m of c.msgs) {
      if (m.outcome !== 'ack' || Number.isNaN(m.publishT) || m.publishT < retainedFrom) continue;
      const own = publisherRegion.get(m.publisher) === r.region;
      if (!own && !(m.publishT >= interestFrom)) continue;
      if (m.publishT <= lastGap) {
        f.excused++;
        continue;
      }
      f.expected++;
      if (!seen.has(`${m.publisher}#${m.seq}`)) {
        f.missing++;
        example({ kind: 'missing', ...at, publisher: m.publisher, seq: m.seq });
      }
    }
  }
  return f;
}

/** Whether the history check found anything wrong. */
export function historyFailed(f: HistoryFigures | null): boolean {
  return !!f && f.missing + f.duplicates + f.order + f.unread > 0;
}
