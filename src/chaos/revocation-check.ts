/**
 * The revocation check (`revocation` and `revoked` lines, from a workload with revocation
 * probes: workload-revocations.ts). Internal to `checker.ts`.
 *
 * Every node a revocation names (every node of every region) must refuse its token as
 * revoked before the record's end, faults or not: by then every fault is healed and the
 * run has drained, so a node that still took the token had not heard of the revocation
 * (README "Token revocation"). The figures say how long after the revocation each node
 * refused it, outside fault windows and in all.
 */
import { overlaps, type Merged } from './checker-parts.js';
import type { RevocationFigures } from './checker-types.js';
import type { RevocationEvent, RevokedEvent } from './record.js';

/** Nearest-rank percentile of sorted numbers. */
function rank(sorted: number[], p: number): number | null {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : null;
}

/** The revocation check's figures (null: the record has no revocation lines); `end`: the record's end. */
export function revocationFigures(made: readonly RevocationEvent[], seen: readonly RevokedEvent[], merged: Merged, end: number, maxExamples: number): RevocationFigures | null {
  if (made.length === 0) return null;
  const first = new Map<string, number>();
  for (const s of seen) {
    const k = `${s.clientId}\u0000${s.node}`;
    if (!(first.get(k)! <= s.t)) first.set(k, s.t);
  }
  const all: number[] = [];
  const quiet: number[] = [];
  const unseen: RevocationFigures['unseen'] = [];
  let checks = 0;
  for (const r of made) {
    for (const node of r.nodes) {
      checks++;
      const t = first.get(`${r.clientId}\u0000${node}`);
      if (t === undefined || t > end) {
        if (unseen.length < maxExamples) unseen.push({ clientId: r.clientId, node, revokedAt: r.t, through: r.region });
        continue;
      }
      const ms = Math.max(0, t - r.t);
      all.push(ms);
      if (!overlaps(merged, r.t, t)) quiet.push(ms);
    }
  }
  all.sort((a, b) => a - b);
  quiet.sort((a, b) => a - b);
  return {
    revocations: made.length,
    checks,
    refused: all.length,
    unseenCount: checks - all.length,
    unseen,
    allMs: { p50: rank(all, 50), max: all.at(-1) ?? null },
    outsideFaultsMs: { p50: rank(quiet, 50), max: quiet.at(-1) ?? null, count: quiet.length },
  };
}

export function revocationsFailed(r: RevocationFigures | null): boolean {
  return r !== null && r.unseenCount > 0;
}
