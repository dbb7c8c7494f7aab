/**
 * The history check (`history` lines, read after the drain): what each region's stored
 * history of a channel holds against what was acknowledged. Internal to `checker.ts`.
 *
 * A region's history of a channel is its master's log: every message the region accepted
 * and every message of another region it took in (forwarded while it had interest). So:
 * - every acknowledged message of the region's own publishers is expected in it;
 * - another region's acknowledged messages are expected where a subscriber of the channel
 *   was in the region at the end, for those published after the first subscribed there
 *   (interest then existed; before, only the new interest's start reaches back);
 * - a message published at or before the last continuity signal any subscriber of the
 *   channel heard in the region is excused, as for deliveries (its state may have been
 *   lost with it: a new epoch's history starts afresh), and so is one older than the
 *   retention allowed when the history was read (`historyMs`, less a margin). A history
 *   read that came back full (`maxMessages`) is checked for duplicates and order only.
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

/** When a subscriber began listening in `region`: its subscribe there, or its first delivery there after moving in (NaN: never). */
function arrivedIn(s: Sub, region: string): number {
  if (s.region === region) return s.subscribeT;
  const stay = s.stays.find((x) => x.region === region);
  return stay ? (s.times[stay.from] ?? NaN) : NaN;
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
    if (!c || r.items.length >= r.maxMessages) continue;
    const subs = [...c.subs.values()];
    const here = subs.filter((s) => s.region === r.region || endRegion(s) === r.region);
    const stayed = here.some((s) => endRegion(s) === r.region && Number.isNaN(s.unsubscribeT));
    const arrivals = here.map((s) => arrivedIn(s, r.region)).filter((t) => !Number.isNaN(t));
    const interestFrom = stayed && arrivals.length ? Math.min(...arrivals) : Infinity;
    const lastGap = Math.max(-Infinity, ...here.flatMap((s) => s.continuity));
    const retainedFrom = r.t - r.historyMs + RETENTION_MARGIN_MS;
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
