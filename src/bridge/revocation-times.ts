/**
 * Token revocations between regions (README "Token revocation"; src/auth/revocations.ts):
 * a revocation taken from another region is put on this region's time, and one sent on
 * carries this region's guesses of other regions' times for it. Pure.
 */
import { AHEAD_SLACK_MS, MAX_TIMES, timeIn, type Revocation } from '../auth/revocations.js';

/**
 * Revocations from region `from` (on its time) on this region's (`ours`), so that they are
 * compared with tokens issued here, by this region's clock: moved by the offset measured
 * between the two (the peer's clock minus ours, as told to the masters), unless this
 * region moved it before (it came back by way of a third) or made it (it came home after
 * this region restarted whole): then on those times exactly. The sender's time goes into
 * `times` (where it is not the origin), for tokens it issued. A guess of this region's
 * time is dropped: it says its own.
 */
export function onOurClock(entries: readonly Revocation[], from: string, ours: string, offsetMs: number): Revocation[] {
  const off = Math.round(offsetMs);
  return entries.map((e) => {
    const times = { ...e.times };
    const guesses = { ...e.guesses };
    if (from !== e.origin) times[from] = e.issuedBefore;
    const before = timeIn(times, ours);
    for (const m of [times, guesses]) {
      delete m[ours];
      delete m[e.origin];
    }
    const issuedBefore = e.origin === ours ? e.originIssuedBefore : (before ?? e.issuedBefore - off);
    return { ...e, issuedBefore, appliesAt: issuedBefore + (e.appliesAt - e.issuedBefore), times, guesses };
  });
}

/**
 * Revocations with this region's (`ours`) guess of their issuedBefore on the clock of each
 * region in `offsets` (its clock minus ours, measured over their link) that they have
 * neither a time nor a guess for: so a token issued in a region cut off from every other
 * (which cannot say its own time for a while) is judged on that region's clock where its
 * holder moves. A region's own time, once it says it, comes first, and a region never
 * takes a guess of itself for its own (onOurClock). At most MAX_TIMES guesses, as a store
 * keeps. An entry given no guess is returned as it was (the same object).
 */
export function withGuesses(entries: readonly Revocation[], offsets: ReadonlyMap<string, number>, ours: string): Revocation[] {
  if (offsets.size === 0) return [...entries];
  return entries.map((e) => {
    let guesses: Record<string, number> | null = null;
    let named = Object.keys(e.guesses).length;
    for (const [region, off] of offsets) {
      if (region === e.origin || region === ours || Math.abs(off) > AHEAD_SLACK_MS || named >= MAX_TIMES) continue;
      if (timeIn(e.times, region) !== undefined || timeIn(e.guesses, region) !== undefined) continue;
      (guesses ??= { ...e.guesses })[region] = e.issuedBefore + off;
      named++;
    }
    return guesses ? { ...e, guesses } : e;
  });
}
