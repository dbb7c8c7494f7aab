/**
 * The checker's occupancy figures (workload-occupancy.ts): views of a channel's occupancy
 * that did not show the counts of the clients attached when the check ended.
 */
import type { OccupancyFigures, Report } from './checker-types.js';
import type { OccupancyEvent } from './record.js';

/** The occupancy check's views (null: the record has none): those off at its end, and the slowest one's time. */
export function occupancyFigures(views: readonly OccupancyEvent[], maxExamples: number): OccupancyFigures | null {
  if (views.length === 0) return null;
  const off = views.filter((v) => v.convergedAfterMs === null);
  const differing = (v: OccupancyEvent) =>
    Object.keys(v.expected)
      .filter((k) => v.seen?.[k] !== v.expected[k])
      .map((k) => `${k} ${v.seen?.[k] ?? '–'} (expected ${v.expected[k]})`);
  return {
    views: views.length,
    mismatched: off.length,
    convergedAfterMs: off.length ? null : Math.max(...views.map((v) => v.convergedAfterMs!)),
    examples: off.slice(0, maxExamples).map((v) => ({ region: v.region, observer: v.observer, channel: v.channel, differing: v.seen ? differing(v) : ['nothing seen'] })),
  };
}

/** The occupancy check: one line of figures, then a line per view that was off (`prefix` before each). */
export function occupancyLines(r: Report, prefix: string): string[] {
  const o = r.occupancy;
  if (!o) return [];
  const when = o.convergedAfterMs === null ? `${o.mismatched} of ${o.views} views off at the end` : `all ${o.views} views within ${(o.convergedAfterMs / 1000).toFixed(1)} s of the check's start`;
  return [
    `${prefix}occupancy: ${when}`,
    ...o.examples.map((x) => `${prefix}  ${x.channel} in ${x.region}, seen by ${x.observer}: ${x.differing.join(', ')}`),
  ];
}
