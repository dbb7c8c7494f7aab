/**
 * Token revocation (`POST /keys/{keyName}/revokeTokens`; README, "Token revocation"): what
 * has been revoked, as every node of every region holds it.
 *
 * A revocation says: tokens of key `keyName` that match `target` (`clientId:ID`,
 * `revocationKey:KEY` for a JWT's `x-ably-revocation-key` claim, or `channel:NAME` for a
 * resource named exactly so in the token's capability) and were issued before
 * `issuedBefore` may not be used from `appliesAt` on (error 40141). Only tokens of a key
 * with `revocableTokens` are revocable, and those live an hour at most, so a revocation is
 * kept until an hour (and a minute, for clocks) after its `issuedBefore`: by then every
 * token it could match has expired.
 *
 * A revocation is what it was where it was made: its origin region, key, target, its
 * issuedBefore on the origin's time (`originIssuedBefore`, never moved) and its margin
 * (appliesAt − issuedBefore). Its `issuedBefore` and `appliesAt` are on the holding
 * region's time: moved by the regions' clock offset as it crosses a link, so that the
 * region's own tokens are compared with it on their clock. `times` has its issuedBefore
 * on the time of each other region that took it over a link (a region taking it from
 * another notes the sender's own), and `guesses` the same as regions that measured a
 * region's clock estimated it (for a region cut off, which cannot say its own). So a
 * token is compared on the clock of the region that issued it (the token says which):
 * the origin's, that region's as it moved it, a guess of it, or, for a JWT or a region
 * not heard of, the holder's. One that comes back by another way
 * (through a third region, or home after its region restarted whole) is known for the
 * same and held once, with what it brought of `times`; one coming home is put back on
 * its own times.
 *
 * The store is a join semilattice over those identities, so that nodes that hear
 * revocations in any order, any number of times, agree once they have heard the same ones
 * (they exchange them on every change, and whole when a heartbeat's digest differs,
 * revocation-sync.ts): per key and target it keeps the revocations no other one covers (A
 * covers B where both were made in one region, A's originIssuedBefore is at least B's and
 * A applies no later there). Merging is a union of those, less what is covered; two
 * copies of one revocation (moved onto a region's time by different offsets, as two
 * globalmasters of a region, or one before and after a restart, may) join into one with
 * the earlier of their times, this region's and each other's (and guesses), so that every node comes
 * to hold the same values and a region's tokens are judged elsewhere by the time its own
 * nodes floor new ones at. Pure, apart from the clock it is given.
 */
import { addToDigest, emptyDigest, hashName } from '../channel/sub-digest.js';

/** A revocable token lives at most this long (ms): Ably's limit for keys with revocable tokens. */
export const MAX_REVOCABLE_TTL_MS = 60 * 60 * 1000;
/** A revocation is kept this long after its issuedBefore (ms): its tokens' longest life, and a minute for clocks. */
export const KEEP_AFTER_MS = MAX_REVOCABLE_TTL_MS + 60_000;
/** `allowReauthMargin`: enforcement this much later (ms), the token's holders asked to renew meanwhile. */
export const REAUTH_MARGIN_MS = 30_000;
/** Targets in one request at most. */
export const MAX_TARGETS = 100;
/** A target's length at most (a channel name's limit, and its type). */
export const MAX_TARGET_LENGTH = 2100;
/** Revocations held for one key at most: a request that would pass it is refused (42910). */
export const MAX_PER_KEY = 10_000;
/** A peer's revocation may have an issuedBefore this far ahead of our time, and its other regions' times this far from it (ms): the regions' clocks apart. */
export const AHEAD_SLACK_MS = 5 * 60_000;
export const TARGET_TYPES = ['clientId', 'revocationKey', 'channel'] as const;

export interface Revocation {
  /** The region where it was made. */
  origin: string;
  keyName: string;
  /** `TYPE:VALUE`, TYPE one of TARGET_TYPES. */
  target: string;
  /** Tokens issued before this (ms since the epoch, on the holding region's time: moved by the regions' offset as it crosses a link) are revoked. */
  issuedBefore: number;
  /** From when (ms since the epoch, on the holding region's time). */
  appliesAt: number;
  /** issuedBefore where it was made, on its origin's time (never moved): with origin, key, target and margin, which revocation this is. */
  originIssuedBefore: number;
  /** issuedBefore on the time of other regions (not the origin, not the holder's) that took it over a link, as each said it. */
  times: Record<string, number>;
  /**
   * issuedBefore on the time of other regions, as regions that measured their clocks
   * estimated it (Globalmaster.withEstimates): for tokens of a region cut off from every
   * other, which has not said its own. A region never takes a guess of itself for its own.
   */
  guesses: Record<string, number>;
}

/** What a revocable token says of itself, as far as revocations match it. */
export interface RevocableToken {
  keyName: string;
  /** When it was issued (ms; a JWT's `iat` is whole seconds: the start of its second). */
  issuedAt: number;
  /** A JWT: signed by the app, its issue time in whole seconds. */
  jwt?: boolean;
  /** The region that issued it, on whose clock issuedAt is (absent: a JWT, or an older build's token). */
  region?: string;
  clientId: string | null;
  revocationKey: string | null;
  /** The resource names of its capability (as the token gave them). */
  resources: readonly string[];
}

/** How much later than its issuedBefore a revocation applies (0, or allowReauthMargin's). */
function marginOf(r: Revocation): number {
  return r.appliesAt - r.issuedBefore;
}

/** Whether two are the same revocation (moved onto the holder's time by different offsets, perhaps). */
function same(a: Revocation, b: Revocation): boolean {
  return a.origin === b.origin && a.originIssuedBefore === b.originIssuedBefore && marginOf(a) === marginOf(b);
}

/** Regions a revocation's `times`, and its `guesses`, name at most (more are not taken in). */
export const MAX_TIMES = 64;

type TimeMap = Record<string, number>;

/** `times[region]`, an own property only (a region may be named `constructor`). */
export function timeIn(times: TimeMap, region: string): number | undefined {
  return Object.hasOwn(times, region) ? times[region] : undefined;
}

/** A map of regions' times, as a peer may send one: a time for each of at most MAX_TIMES regions. */
function isTimeMap(t: unknown): t is TimeMap {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return false;
  const entries = Object.entries(t);
  return entries.length <= MAX_TIMES && entries.every(([region, at]) => region.length > 0 && region.length <= 256 && region !== '__proto__' && Number.isSafeInteger(at));
}

/**
 * `held` joined with `more`: for each region the earlier time, at most MAX_TIMES regions,
 * and only times near `issuedBefore` (regions' clocks are not further apart: one that is
 * is passed over, not the revocation). `changed`: whether that is not `held`.
 */
function joinTimes(held: TimeMap, more: TimeMap, issuedBefore: number): { times: TimeMap; changed: boolean } {
  const times = { ...held };
  let named = Object.keys(times).length;
  let changed = false;
  for (const [region, at] of Object.entries(more)) {
    if (Math.abs(at - issuedBefore) > AHEAD_SLACK_MS) continue;
    const had = timeIn(times, region);
    if (had === undefined ? named++ >= MAX_TIMES : had <= at) continue;
    times[region] = at;
    changed = true;
  }
  return { times, changed };
}

/**
 * The issuedBefore of `r` on the clock of the region that issued `t`, as well as it is
 * known here: the origin's own, the region's as it said it, another region's guess of it,
 * or (a JWT, a region neither said nor guessed) this region's.
 */
function onTokensClock(r: Revocation, t: RevocableToken): number {
  if (t.region === undefined) return r.issuedBefore;
  if (t.region === r.origin) return r.originIssuedBefore;
  return timeIn(r.times, t.region) ?? timeIn(r.guesses, t.region) ?? r.issuedBefore;
}

/**
 * Two copies of one revocation joined: the earlier of their issuedBefore here, of each
 * region's time and of each guess; null where that is `held` already.
 */
function joined(held: Revocation, e: Revocation): Revocation | null {
  const issuedBefore = Math.min(held.issuedBefore, e.issuedBefore);
  const times = joinTimes(held.times, e.times, issuedBefore);
  const guesses = joinTimes(held.guesses, e.guesses, issuedBefore);
  if (!times.changed && !guesses.changed && issuedBefore === held.issuedBefore) return null;
  return { ...held, issuedBefore, appliesAt: issuedBefore + marginOf(held), times: times.times, guesses: guesses.times };
}

/**
 * Whether `a` makes `b` redundant: made in the same region, it revokes at least b's tokens,
 * no later, on their origin's time (so a copy of b moved by another offset is covered by b,
 * and b by it). Only one of the same origin may stand for another: times of two regions
 * are not comparable.
 */
function covers(a: Revocation, b: Revocation): boolean {
  return a.origin === b.origin && a.originIssuedBefore >= b.originIssuedBefore && a.originIssuedBefore + marginOf(a) <= b.originIssuedBefore + marginOf(b);
}

/**
 * A well-formed revocation (from a peer, say), as a request here could have made it: a
 * target of a known type and bounded length, and times in the bounds a request has
 * (applying from issuedBefore to an hour and 30 s after it, issuedBefore not far ahead of
 * `now`), so that nothing is kept for ever or waited for past a timer's range; its
 * origin's time no further from issuedBefore than regions' clocks may be apart (other
 * regions' times further off are passed over as it is taken: joinTimes).
 */
export function isRevocation(r: unknown, now: number): r is Revocation {
  const x = r as Revocation;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.keyName === 'string' &&
    x.keyName.length <= 256 &&
    typeof x.origin === 'string' &&
    x.origin.length <= 256 &&
    typeof x.target === 'string' &&
    x.target.length <= MAX_TARGET_LENGTH &&
    TARGET_TYPES.some((t) => x.target.startsWith(`${t}:`) && x.target.length > t.length + 1) &&
    Number.isSafeInteger(x.issuedBefore) &&
    Number.isSafeInteger(x.appliesAt) &&
    Number.isSafeInteger(x.originIssuedBefore) &&
    Math.abs(x.originIssuedBefore - x.issuedBefore) <= AHEAD_SLACK_MS &&
    isTimeMap(x.times) &&
    isTimeMap(x.guesses) &&
    x.issuedBefore <= now + AHEAD_SLACK_MS &&
    x.appliesAt >= x.issuedBefore &&
    x.appliesAt - x.issuedBefore <= MAX_REVOCABLE_TTL_MS + REAUTH_MARGIN_MS
  );
}

export class RevocationStore {
  /** `keyName \0 target` → the revocations of that target no other one covers (usually one). */
  private readonly byTarget = new Map<string, Revocation[]>();
  private digestCache: number | null = 0;
  /** The earliest time a revocation held passes keeping (sweep does nothing before). */
  private nextExpiry = Infinity;
  private readonly listeners: ((added: Revocation[]) => void)[] = [];

  /** `now`: the region's time (RegionClock). */
  constructor(private readonly now: () => number) {}

  /** Called with what each merge added (nothing is called for a merge that added nothing). */
  onChange(listener: (added: Revocation[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Takes these revocations in (from a request, a peer, another region); returns, and tells
   * the listeners, those that changed what is held (new ones, and ones held that a copy
   * brought an earlier time or another region's to). Ill-formed ones, and those past
   * keeping, are passed over.
   */
  merge(entries: readonly Revocation[]): Revocation[] {
    const now = this.now();
    const added: Revocation[] = [];
    for (const e of entries) {
      if (!isRevocation(e, now) || e.issuedBefore + KEEP_AFTER_MS <= now) continue;
      const id = `${e.keyName}\u0000${e.target}`;
      const had = this.byTarget.get(id) ?? [];
      const i = had.findIndex((h) => same(h, e));
      if (i >= 0) {
        // Held: joined with this copy (the earlier times).
        const entry = joined(had[i]!, e);
        if (!entry) continue;
        this.byTarget.set(id, had.map((x, j) => (j === i ? entry : x)));
        this.nextExpiry = Math.min(this.nextExpiry, entry.issuedBefore + KEEP_AFTER_MS);
        added.push(entry);
        continue;
      }
      if (had.some((h) => covers(h, e))) continue;
      const entry = {
        origin: e.origin,
        keyName: e.keyName,
        target: e.target,
        issuedBefore: e.issuedBefore,
        appliesAt: e.appliesAt,
        originIssuedBefore: e.originIssuedBefore,
        times: joinTimes({}, e.times, e.issuedBefore).times,
        guesses: joinTimes({}, e.guesses, e.issuedBefore).times,
      };
      this.byTarget.set(id, [...had.filter((h) => !covers(entry, h)), entry]);
      this.nextExpiry = Math.min(this.nextExpiry, entry.issuedBefore + KEEP_AFTER_MS);
      added.push(entry);
    }
    if (added.length) {
      this.digestCache = null;
      for (const l of this.listeners) l(added);
    }
    return added;
  }

  /** Every revocation held (to send a peer whose digest differs). */
  all(): Revocation[] {
    return [...this.byTarget.values()].flat();
  }

  get size(): number {
    let n = 0;
    for (const list of this.byTarget.values()) n += list.length;
    return n;
  }

  /**
   * An order-free 32-bit digest of which revocations are held (0: nothing), which peers
   * compare; what is past keeping goes first. Of what each is, and its times here and
   * elsewhere: two nodes holding copies moved by different offsets differ until they join.
   */
  digest(): number {
    this.sweep();
    if (this.digestCache !== null) return this.digestCache;
    const d = emptyDigest();
    for (const r of this.all()) {
      const text = (m: TimeMap) =>
        Object.entries(m)
          .map(([region, at]) => `${region}=${at}`)
          .sort()
          .join(',');
      addToDigest(d, hashName(`${r.origin}\u0000${r.keyName}\u0000${r.target}\u0000${r.originIssuedBefore}\u0000${r.issuedBefore}\u0000${marginOf(r)}\u0000${text(r.times)}\u0000${text(r.guesses)}`));
    }
    this.digestCache = d.count === 0 ? 0 : (d.xor ^ Math.imul(d.sum, 0x9e3779b1) ^ Math.imul(d.count, 0x85ebca6b)) >>> 0 || 1;
    return this.digestCache;
  }

  /** The revocations that could match a token of this key, clientId, revocation key and resources. */
  private *matching(t: Omit<RevocableToken, 'issuedAt'>): Iterable<Revocation> {
    if (this.byTarget.size === 0) return;
    const targets = [...(t.clientId !== null ? [`clientId:${t.clientId}`] : []), ...(t.revocationKey !== null ? [`revocationKey:${t.revocationKey}`] : [])];
    for (const resource of t.resources) targets.push(`channel:${resource}`);
    for (const target of targets) yield* this.byTarget.get(`${t.keyName}\u0000${target}`) ?? [];
  }

  /**
   * When the earliest revocation that matches this token applies (ms), or null: none does.
   * Whether it was issued before is judged on the clock of the region that issued it
   * (onTokensClock). A JWT's from the second after issuedBefore at the soonest: one its
   * holder signs anew once ended is then of a later second than the revocation, not
   * "issued before" it (its iat has no finer grain), and is not refused again.
   */
  revokedAt(t: RevocableToken): number | null {
    let at: number | null = null;
    for (const r of this.matching(t)) {
      if (t.issuedAt >= onTokensClock(r, t)) continue;
      const applies = t.jwt ? Math.max(r.appliesAt, Math.ceil(r.issuedBefore / 1000) * 1000) : r.appliesAt;
      if (at === null || applies < at) at = applies;
    }
    return at;
  }

  /**
   * The earliest issue time a new token like this, issued here, may be given so that no
   * revocation held matches it (the latest issuedBefore among those that could, on this
   * region's time; 0: none). A token renewed after a revocation made in a region whose
   * clock is ahead would otherwise be issued "before" it, and revoked with the old one.
   */
  issueFloor(t: Omit<RevocableToken, 'issuedAt'>): number {
    let floor = 0;
    for (const r of this.matching(t)) floor = Math.max(floor, r.issuedBefore);
    return floor;
  }

  /** How many revocations are held for this key. */
  heldFor(keyName: string): number {
    let n = 0;
    for (const list of this.byTarget.values()) if (list[0]?.keyName === keyName) n += list.length;
    return n;
  }

  /** Lets go of revocations past keeping (every token they could match has expired); cheap when none is. */
  sweep(): number {
    const now = this.now();
    if (now < this.nextExpiry) return 0;
    let dropped = 0;
    this.nextExpiry = Infinity;
    for (const [id, list] of this.byTarget) {
      const kept = list.filter((r) => r.issuedBefore + KEEP_AFTER_MS > now);
      for (const r of kept) this.nextExpiry = Math.min(this.nextExpiry, r.issuedBefore + KEEP_AFTER_MS);
      dropped += list.length - kept.length;
      if (kept.length === 0) this.byTarget.delete(id);
      else if (kept.length !== list.length) this.byTarget.set(id, kept);
    }
    if (dropped) this.digestCache = null;
    return dropped;
  }
}
