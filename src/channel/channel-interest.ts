/**
 * A channel's interest as its master knows it: when this region's began, and which
 * other regions want the channel and since when. Both travel with the channel's state,
 * in snapshots (handoff, claims, a replica's first sync) and in replication when they
 * change, so that a master that takes the channel over, by handoff or by promotion after
 * a kill:
 * - asks other regions for the start of their streams from when interest really began
 *   here: not from its own takeover, which would skip what they published in between,
 *   nor from the beginning of their history, which would deliver messages older than
 *   every subscriber;
 * - does not send other regions that already have its stream their start again (all it
 *   published since their interest began: ChannelMaster.inheritRemote).
 */

import type { ReplicateRequest } from '../transport/messages.js';

/**
 * A new interest from another region gets this region's messages since a little before it
 * began (the start of its stream there), so that a subscriber there loses none published
 * as it attached while the word of its interest was on the way.
 */
export const INTEREST_START_MARGIN_MS = 2000;

/** Another region's interest in a channel: since when (ms, that region's clock) it has subscribers. */
export interface RegionInterest {
  region: string;
  since: number;
  /**
   * That region's clock minus this one's (ms), as this region's globalmaster measured it
   * over their link (src/bridge/link-clock.ts); absent: not known (taken as 0). Whatever
   * compares `since` with a time of this region (a start, a client resuming from there)
   * reads it as `since - offsetMs`. Kept with the interest, in snapshots and replication.
   */
  offsetMs?: number;
}

/**
 * A region's clock offset is kept anew only when it moved by more than this (ms): the
 * measure wavers by a few ms at each word, and each change is a replication. Well inside
 * INTEREST_START_MARGIN_MS.
 */
export const CLOCK_OFFSET_KEPT_WITHIN_MS = 250;

/** Changes for the replica: when this region's interest began (0: it ended), other regions' interest whole. */
export type InterestChanges = Pick<ReplicateRequest, 'interestSince' | 'remoteInterest' | 'lifecycle'>;

/**
 * The lifecycle events a channel's master announced (lifecycle.ts), written ahead of telling
 * them: the start (ms) of the region's activity and of the deployment's (0: none); the start
 * of the last one that ended (a new one is told under a later start); and which are not yet
 * told (bits: 1 the region's start, 2 the deployment's, 4 the region's end, 8 the deployment's).
 */
export interface Announced {
  region: number;
  global: number;
  regionEnded: number;
  globalEnded: number;
  untold: number;
}

export const NOTHING_ANNOUNCED: Announced = { region: 0, global: 0, regionEnded: 0, globalEnded: 0, untold: 0 };

export const sameAnnounced = (a: Announced, b: Announced): boolean =>
  a.region === b.region && a.global === b.global && a.regionEnded === b.regionEnded && a.globalEnded === b.globalEnded && a.untold === b.untold;

/** Whether nothing is announced (no activity, nothing to tell; the last ends' starts matter no longer once told). */
export const nothingAnnounced = (a: Announced): boolean => !a.region && !a.global && !a.untold;

/** How long a master remembers when another region's ended interest had begun (earliestSince). */
const ENDED_KEPT_MS = 10 * 60_000;

export class ChannelInterest {
  private at = 0;
  private atMoved = false;
  private others = new Map<string, number>();
  private othersMoved = false;
  /** Other regions' interest that ended lately: since when it had been, and when it ended (this master's only). */
  private ended = new Map<string, { since: number; endedAt: number }>();
  /** Other regions' clocks minus ours (RegionInterest.offsetMs), kept past their interest's end. */
  private clocks = new Map<string, number>();
  /** The lifecycle events announced whose end is not yet (lifecycle.ts). */
  private told: Announced = NOTHING_ANNOUNCED;
  private toldMoved = false;

  /** The activity announced whose end is not yet (lifecycle.ts): its starts, 0 for none. */
  get announced(): Announced {
    return this.told;
  }

  /** The master's change (lifecycle events published): the replica is told at the next replication. */
  setAnnounced(a: Announced): void {
    if (sameAnnounced(a, this.told)) return;
    this.told = { ...a };
    this.toldMoved = true;
  }

  /** When this region's interest began (ms; 0: no subscriber here). */
  get since(): number {
    return this.at;
  }

  /** The master's change: the replica is told at the next replication. */
  set(at: number): void {
    if (at === this.at) return;
    this.at = at;
    this.atMoved = true;
  }

  /** Other regions that want the channel, and since when (ms). */
  get remote(): ReadonlyMap<string, number> {
    return this.others;
  }

  get remoteList(): RegionInterest[] {
    return [...this.others].map(([region, since]) => {
      const offsetMs = this.clocks.get(region);
      return offsetMs === undefined ? { region, since } : { region, since, offsetMs };
    });
  }

  /** A time of another region's clock (its interest's `since`) on this region's clock. */
  onOurClock(region: string, since: number): number {
    return since - (this.clocks.get(region) ?? 0);
  }

  /**
   * Takes the regions' clock offsets where they are said and moved by more than
   * CLOCK_OFFSET_KEPT_WITHIN_MS (or were not known). Returns whether any was taken.
   */
  setClocks(regions: readonly RegionInterest[]): boolean {
    let moved = false;
    for (const r of regions) {
      if (r.offsetMs === undefined) continue;
      const had = this.clocks.get(r.region);
      if (had !== undefined && Math.abs(had - r.offsetMs) <= CLOCK_OFFSET_KEPT_WITHIN_MS) continue;
      this.clocks.set(r.region, r.offsetMs);
      moved = true;
    }
    if (moved) this.othersMoved = true;
    return moved;
  }

  /**
   * The master's word on other regions' interest, whole (the map becomes the state's:
   * a caller's reference to the previous `remote` keeps the previous word). Returns
   * whether it changed anything.
   */
  setRemote(next: Map<string, number>, now = Date.now()): boolean {
    const same = next.size === this.others.size && [...next].every(([region, since]) => this.others.get(region) === since);
    for (const [region, since] of this.others) {
      if (next.get(region) === since) continue;
      const had = this.ended.get(region);
      this.ended.set(region, { since: had && now - had.endedAt <= ENDED_KEPT_MS ? Math.min(had.since, since) : since, endedAt: now });
    }
    this.others = next;
    if (!same) this.othersMoved = true;
    return !same;
  }

  /**
   * The earliest time another region's interest began, as far as this master knows, on
   * this region's clock: its interest now, or one that ended (or began again later) within
   * ENDED_KEPT_MS. A client that comes from there may have been subscribed since then
   * (vector-range.ts).
   */
  earliestSince(region: string, now = Date.now()): number | undefined {
    const current = this.others.get(region);
    const ended = this.ended.get(region);
    const before = ended && now - ended.endedAt <= ENDED_KEPT_MS ? ended.since : undefined;
    const earliest = Math.min(current ?? Infinity, before ?? Infinity);
    return earliest === Infinity ? undefined : this.onOurClock(region, earliest);
  }

  get hasMoved(): boolean {
    return this.atMoved || this.othersMoved || this.toldMoved;
  }

  /** What to replicate, each once per change. */
  takeMoved(): InterestChanges {
    const out: InterestChanges = {};
    if (this.atMoved) out.interestSince = this.at;
    if (this.othersMoved) out.remoteInterest = this.remoteList;
    if (this.toldMoved) out.lifecycle = this.told;
    this.atMoved = this.othersMoved = this.toldMoved = false;
    return out;
  }

  /** The replica's side (and a restored snapshot's): the master's values, nothing to pass on. */
  apply(c: InterestChanges): void {
    if (c.interestSince !== undefined) this.at = c.interestSince;
    if (c.lifecycle) this.told = { ...c.lifecycle };
    if (!c.remoteInterest) return;
    this.others = new Map(c.remoteInterest.map((r) => [r.region, r.since]));
    for (const r of c.remoteInterest) if (r.offsetMs !== undefined) this.clocks.set(r.region, r.offsetMs);
  }
}
