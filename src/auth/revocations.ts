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
 * The store is a join semilattice, so that nodes that hear revocations in any order, any
 * number of times, agree once they have heard the same ones (they exchange them on every
 * change, and whole when a heartbeat's digest differs, revocation-sync.ts): per key and
 * target it keeps the revocations no other one covers (A covers B where both were made in
 * one region, A's issuedBefore is at least B's and A applies no later). Merging is a union
 * of those, less what is covered. Pure, apart from the clock it is given.
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
/** A peer's revocation may have an issuedBefore this far ahead of our time (ms): the regions' clocks apart. */
const AHEAD_SLACK_MS = 5 * 60_000;
export const TARGET_TYPES = ['clientId', 'revocationKey', 'channel'] as const;

export interface Revocation {
  /** The region where it was made (only that region sends it to the others). */
  origin: string;
  keyName: string;
  /** `TYPE:VALUE`, TYPE one of TARGET_TYPES. */
  target: string;
  /** Tokens issued before this (ms since the epoch, on the holding region's time: moved by the regions' offset as it crosses a link) are revoked. */
  issuedBefore: number;
  /** From when (ms since the epoch). */
  appliesAt: number;
}

/** What a revocable token says of itself, as far as revocations match it. */
export interface RevocableToken {
  keyName: string;
  /** When it was issued (ms; a JWT's `iat` is whole seconds: the start of its second). */
  issuedAt: number;
  /** A JWT: signed by the app, its issue time in whole seconds. */
  jwt?: boolean;
  clientId: string | null;
  revocationKey: string | null;
  /** The resource names of its capability (as the token gave them). */
  resources: readonly string[];
}

/**
 * Whether `a` makes `b` redundant: made in the same region (which passes its own on, so
 * one of another's must not stand for it), it revokes at least b's tokens, no later.
 */
function covers(a: Revocation, b: Revocation): boolean {
  return a.origin === b.origin && a.issuedBefore >= b.issuedBefore && a.appliesAt <= b.appliesAt;
}

/**
 * A well-formed revocation (from a peer, say), as a request here could have made it: a
 * target of a known type and bounded length, and times in the bounds a request has
 * (applying from issuedBefore to an hour and 30 s after it, issuedBefore not far ahead of
 * `now`), so that nothing is kept for ever or waited for past a timer's range.
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
   * the listeners, those that changed what is revoked. Ill-formed ones, and those past
   * keeping, are passed over.
   */
  merge(entries: readonly Revocation[]): Revocation[] {
    const now = this.now();
    const added: Revocation[] = [];
    for (const e of entries) {
      if (!isRevocation(e, now) || e.issuedBefore + KEEP_AFTER_MS <= now) continue;
      const id = `${e.keyName}\u0000${e.target}`;
      const had = this.byTarget.get(id) ?? [];
      if (had.some((h) => covers(h, e))) continue;
      const entry = { origin: e.origin, keyName: e.keyName, target: e.target, issuedBefore: e.issuedBefore, appliesAt: e.appliesAt };
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

  /** An order-free 32-bit digest of what is held (0: nothing), which peers compare; what is past keeping goes first. */
  digest(): number {
    this.sweep();
    if (this.digestCache !== null) return this.digestCache;
    const d = emptyDigest();
    for (const r of this.all()) addToDigest(d, hashName(`${r.origin}\u0000${r.keyName}\u0000${r.target}\u0000${r.issuedBefore}\u0000${r.appliesAt}`));
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
   * A JWT's from the second after issuedBefore at the soonest: one its holder signs anew
   * once ended is then of a later second than the revocation, not "issued before" it
   * (its iat has no finer grain), and is not refused again.
   */
  revokedAt(t: RevocableToken): number | null {
    let at: number | null = null;
    for (const r of this.matching(t)) {
      if (t.issuedAt >= r.issuedBefore) continue;
      const applies = t.jwt ? Math.max(r.appliesAt, Math.ceil(r.issuedBefore / 1000) * 1000) : r.appliesAt;
      if (at === null || applies < at) at = applies;
    }
    return at;
  }

  /**
   * The earliest issue time a new token like this may be given so that no revocation held
   * matches it (the latest issuedBefore among those that could; 0: none). A token renewed
   * after a revocation made in a region whose clock is ahead would otherwise be issued
   * "before" it, and revoked with the old one.
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
