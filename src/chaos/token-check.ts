/**
 * The token check (`token` lines, from a workload with token auth): every client's signed
 * TokenRequests and their replays. Internal to `checker.ts`.
 *
 * - A client's own request refused as a replay (40105) is a violation at any time: its
 *   nonce was new (the SDK asks its authCallback for a new request for each token, and
 *   the workload sends each request once before its replay).
 * - A replay that was issued a token is a violation where no fault window was open at
 *   the time or had ended within REPLAY_GRACE_MS before it: with every node reachable, a
 *   nonce's keepers answer (src/auth/nonces.ts). Inside a fault, a node cut off from both
 *   of a nonce's keepers takes a replay, as README's "Known differences from Ably" says;
 *   such replays are counted, not failed.
 */
import { overlaps, type Merged } from './checker-parts.js';
import type { TokenExample, TokenFigures } from './checker-types.js';
import type { TokenEvent } from './record.js';

/** A replay taken this long (ms) after a fault window ended still counts as inside it (the ring and links settling). */
export const REPLAY_GRACE_MS = 10_000;

/** The token check's figures (null: the record has no token lines). */
export function tokenFigures(events: readonly TokenEvent[], merged: Merged, maxExamples: number): TokenFigures | null {
  if (events.length === 0) return null;
  const count = (use: TokenEvent['use'], outcome: TokenEvent['outcome']) => events.filter((e) => e.use === use && e.outcome === outcome).length;
  const examples: TokenExample[] = [];
  const example = (x: TokenExample) => {
    if (examples.filter((e) => e.kind === x.kind).length < maxExamples) examples.push(x);
  };
  let freshRefused = 0;
  let takenOutsideFaults = 0;
  let takenInFaults = 0;
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    if (e.use === 'request' && e.outcome === 'refused' && e.error?.code === 40105) {
      freshRefused++;
      example({ kind: 'freshRefused', t: e.t, region: e.region, client: e.client, detail: e.error.message });
    } else if (e.use === 'replay' && e.outcome === 'issued') {
      if (overlaps(merged, e.t - REPLAY_GRACE_MS, e.t)) takenInFaults++;
      else {
        takenOutsideFaults++;
        example({ kind: 'replayTaken', t: e.t, region: e.region, client: e.client });
      }
    }
  }
  return {
    requests: { issued: count('request', 'issued'), refused: count('request', 'refused'), failed: count('request', 'failed') },
    replays: { refused: count('replay', 'refused'), taken: count('replay', 'issued'), failed: count('replay', 'failed') },
    freshRefused,
    takenInFaults,
    takenOutsideFaults,
    examples,
  };
}

/** Whether the token check fails the run. */
export function tokensFailed(t: TokenFigures | null): boolean {
  return t !== null && t.freshRefused + t.takenOutsideFaults > 0;
}
