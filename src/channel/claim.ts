/**
 * How a claim decides, from what the nodes that may hold a channel's state answered,
 * whether it may take the channel now and from which copy (registry.ts asks them).
 */
import type { Ring } from '../cluster/ring.js';
import type { ClientPosition, NodeId, RecentId, ReplyBody } from '../transport/messages.js';
import type { OriginPosition } from '../protocol/serial.js';
import type { ChannelKey } from './entry.js';
import type { RegistryDeps } from './registry-deps.js';
import { INTERNAL_REQUEST_TIMEOUT_MS } from './replication.js';
import type { ChannelSnapshot } from './state.js';
import { NOTHING_ANNOUNCED } from './channel-interest.js';
import { announcedAhead } from './lifecycle.js';

/** How many nodes of the preference list a claim asks (master, replica, and two more for overlapping changes). */
export const CLAIM_FANOUT = 4;
/** How long a claim waits for a leaving peer's answer (optional: it may be exiting). */
const LEAVING_ASK_TIMEOUT_MS = 500;
/** How long a claim that found no copy soon after a node went waits for a node's recent ids (a new channel, as a rule: not long). */
export const AFTER_LOSS_ASK_TIMEOUT_MS = 200;
/**
 * For this long after a node went, or after this node started (it cannot know what went
 * before), a claim that finds no copy and did not ask every node asks them all whether
 * their channel client had the channel (gatherRecent, ms): the nodes it asked first may
 * all lack one while another node's subscribers had the stream whose copies went.
 */
export const AFTER_LOSS_ASK_ALL_MS = 60_000;

export interface ClaimDecision {
  /** Whether the claim may take the channel now; otherwise it asks again. */
  decided: boolean;
  /**
   * The newest copy found; null: the channel starts afresh. Where it says nothing of the
   * other regions' interest, with what the last master knew, from its copy of the same
   * life (a replica's copy carries it too, replicated, but not one from a node that
   * predates that, and an empty list is not sent; ChannelMaster.inheritRemote).
   */
  best: ChannelSnapshot | null;
  /** The nodes subscribed at the last master, from its answer. */
  subscribers: NodeId[];
  /**
   * A channel client (of a node that answered, or ours: `mine`) has seen `best`'s epoch
   * further than `best` holds: the newest copy went with its holders, and `best` is an
   * older one. The channel starts afresh, in a new epoch, its terms above `best`'s
   * (registry.restartBehind says why).
   */
  behind: boolean;
  /**
   * Where the channel clients that answered (and ours) had got in other regions' streams:
   * the master's streams from there, not yet begun, reach back to them (a state lost:
   * their messages since then would otherwise be skipped).
   */
  reach: OriginPosition[];
  /**
   * The channel's state was lost: a node's channel client had seen a stream of which no
   * copy is left (no copy at all), or further than the newest (`behind`). The new epoch
   * takes the message ids the nodes delivered last (gatherRecent).
   */
  lost: boolean;
}

/**
 * `answers`: those of the preference list (null where a node did not answer), all
 * needed; `leaving`: the copies held by peers still leaving (optional, used where no
 * other copy exists, or where one is further in the same life); `own`: our copy or
 * tombstone. Decided when every needed node answered, or when a node of the list that was
 * master handed over a state with entries (it stopped first: nothing newer can exist).
 */
export function decideClaim(
  answers: readonly (ReplyBody | null)[],
  leaving: readonly ChannelSnapshot[],
  own: ChannelSnapshot | undefined,
  mine?: ClientPosition | null,
): ClaimDecision {
  const held = answers.flatMap((a) => (a?.kind === 'snapshot' && a.snapshot ? [a.snapshot] : []));
  const ours = newest(own ? [...held, own] : held);
  const complete = answers.every((a) => a?.kind === 'snapshot');
  const decided = complete || (ours !== null && ours.entries.length > 0 && held.some((s) => s.wasMaster === true));
  // A leaving peer's copy counts where the ring holds none, or where it is of the same
  // life (epoch) as the ring's newest and newer than it: a master that stopped to leave,
  // whose handoff went to an owner out of reach (chaos seed 3841: the claim took its own
  // old copy, restarted the channel and took again a message whose ACK had been lost). An
  // old copy of an earlier life (a stale one, a tombstone) must not beat the live one:
  // terms compare only within a life.
  const copies = ours === null ? leaving : held;
  const subscribers = copies.findLast((s) => s.subscribers)?.subscribers ?? [];
  const best = ours === null ? newest(leaving) : newest([ours, ...leaving.filter((s) => s.epoch === ours.epoch)]);
  const known = best && !best.remoteInterest ? copies.findLast((s) => s.wasMaster && s.remoteInterest && s.epoch === best.epoch) : undefined;
  const seen = answers.flatMap((a) => (a?.kind === 'snapshot' && a.seen ? [a.seen] : []));
  if (mine) seen.push(mine);
  const behind = best !== null && seen.some((p) => p.epoch === best.epoch && p.serial > best.base + best.entries.length);
  const reach = seen.flatMap((p) => p.reach ?? []);
  const lost = behind || (best === null && seen.length > 0);
  return { decided, best: known ? { ...best!, remoteInterest: known.remoteInterest! } : best, subscribers, behind, reach, lost };
}

/**
 * Asks the nodes that may hold a channel's state. The first `CLAIM_FANOUT` nodes of its
 * preference list in our view must answer (`answers`, null where one did not). Peers
 * still leaving are asked too (`leaving`: the copies they hold): out of the ring
 * but draining, one may still be master of a state no ring member holds yet (a channel
 * with no publish has nothing at its replica), and its handoff may come after our
 * claim. One that does not answer soon is not waited for: every acknowledged entry is
 * at a replica in the ring.
 */
export async function askHolders(
  deps: Pick<RegistryDeps, 'self' | 'rpc' | 'leaving'>,
  ring: Ring,
  key: ChannelKey,
  probe: boolean,
): Promise<{ asked: NodeId[]; answers: (ReplyBody | null)[]; leaving: ChannelSnapshot[] }> {
  const self = deps.self;
  const asked = ring.preference(key, CLAIM_FANOUT).filter((n) => n !== self);
  const departing = (deps.leaving?.() ?? []).filter((n) => n !== self && !asked.includes(n));
  const all = [...asked, ...departing];
  const ask = (timeoutMs: number) => (n: NodeId): Promise<ReplyBody | null> =>
    deps.rpc.request(n, { type: 'claim', channel: key, asked: all, ...(probe ? { probe } : {}) }, timeoutMs).catch(() => null);
  const [answers, fromLeaving] = await Promise.all([
    Promise.all(asked.map(ask(INTERNAL_REQUEST_TIMEOUT_MS))),
    Promise.all(departing.map(ask(LEAVING_ASK_TIMEOUT_MS))),
  ]);
  const leaving = fromLeaving.flatMap((a) => (a?.kind === 'snapshot' && a.snapshot ? [a.snapshot] : []));
  return { asked: all, answers, leaving };
}

/**
 * The message ids every node of the ring in reach, and this one, delivered last of a
 * channel whose state was lost (recent-ids.ts): the new epoch's dedup window takes them,
 * so that a publish ordered and delivered in the lost epoch, sent again, is not ordered
 * twice; and (`seen`) whether any of their channel clients had a place in its stream (then
 * a claim that found no copy lost one). A node that does not answer soon is not waited for
 * (its ids are lost with it): `timeoutMs`, the usual internal deadline where the state
 * is known lost, less where a claim only asks in case. A claim asks again if its ring,
 * quorum or holding changed while it waited.
 */
export async function gatherRecent(
  deps: Pick<RegistryDeps, 'self' | 'rpc' | 'recent' | 'seen'>,
  ring: Ring,
  key: ChannelKey,
  timeoutMs = INTERNAL_REQUEST_TIMEOUT_MS,
): Promise<{ ids: RecentId[]; seen: boolean }> {
  const ask = (n: NodeId): Promise<ReplyBody | null> =>
    deps.rpc.request(n, { type: 'claim', channel: key, probe: true, recent: true }, timeoutMs).catch(() => null);
  const answers = await Promise.all(ring.members.filter((n) => n !== deps.self).map(ask));
  const ids = deps.recent?.(key) ?? [];
  let seen = (deps.seen?.(key) ?? null) !== null;
  for (const a of answers) {
    if (a?.kind !== 'snapshot') continue;
    if (a.recent) ids.push(...a.recent);
    if (a.seen) seen = true;
  }
  return { ids, seen };
}

/** Whether any node may hold the channel's state (a probe: no master steps down); unanswered counts as "may". */
export async function anyoneHolds(deps: Pick<RegistryDeps, 'self' | 'rpc' | 'leaving'>, ring: Ring, key: ChannelKey): Promise<boolean> {
  const { answers, leaving } = await askHolders(deps, ring, key, true);
  // Unanswered counts as "may hold": then the read claims, which waits for certainty.
  return leaving.length > 0 || answers.some((a) => a?.kind !== 'snapshot' || a.snapshot !== null);
}

/** A copy as `epoch@serial` (how far it got), for the log. */
export function copyAt(s: ChannelSnapshot): string {
  return `${s.epoch}@${s.base + s.entries.length}`;
}

/** The answers of a claim as `epoch@serial`, `none` or why not, for the log. */
export function describeClaim(answers: readonly (ReplyBody | null)[], leaving: readonly ChannelSnapshot[], own: ChannelSnapshot | undefined): object {
  const said = answers.map((a) => (a?.kind === 'snapshot' ? (a.snapshot ? copyAt(a.snapshot) : 'none') : (a?.kind ?? 'no reply')));
  return { answers: said, leaving: leaving.map(copyAt), own: own ? copyAt(own) : null };
}

/** The copy that supersedes the others (the first of equals), or null. */
function newest(copies: readonly ChannelSnapshot[]): ChannelSnapshot | null {
  let best: ChannelSnapshot | null = null;
  for (const s of copies) if (!best || newer(s, best)) best = s;
  return best;
}

/**
 * Whether copy a supersedes copy b: a later mastership (term) wins; within one term, the
 * copy that got further; between copies as far as each other, the one whose announced
 * lifecycle events got further (lifecycle-only replications move neither term nor serial,
 * and the copy that missed the last one would tell a start again, or an end never). (Two
 * epochs meet only after state was lost: the same rule applies.)
 */
export function newer(a: ChannelSnapshot | Standing, b: ChannelSnapshot | Standing): boolean {
  const x = standing(a);
  const y = standing(b);
  if (x.term !== y.term) return x.term > y.term;
  if (x.serial !== y.serial) return x.serial > y.serial;
  return 'key' in a && 'key' in b && announcedAhead(a.lifecycle ?? NOTHING_ANNOUNCED, b.lifecycle ?? NOTHING_ANNOUNCED);
}

/** How far a copy got: its mastership term and its last serial. */
export interface Standing {
  term: number;
  serial: number;
}

function standing(s: ChannelSnapshot | Standing): Standing {
  return 'serial' in s ? s : { term: s.term, serial: s.base + s.entries.length };
}

/**
 * Claims under way, one per channel: a request that finds one waits for it. A claim's
 * waiters may be answered before it ends (`settle`: a handoff installed the master
 * meanwhile); they are answered in the order they came either way.
 */
export class PendingClaims<T> {
  private readonly pending = new Map<string, { p: Promise<T>; settle: (v: T) => void }>();

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** The claim under way for `key`, if any (it may have settled, its entry not yet gone). */
  current(key: string): Promise<T> | undefined {
    return this.pending.get(key)?.p;
  }

  /** The claim under way for `key`, or a new one that `start` runs. */
  join(key: string, start: () => Promise<T>): Promise<T> {
    const found = this.pending.get(key);
    if (found) return found.p;
    let settle!: (v: T) => void;
    let fail!: (err: unknown) => void;
    const p = new Promise<T>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const entry = { p, settle };
    this.pending.set(key, entry);
    start()
      .then(settle, fail)
      .finally(() => {
        if (this.pending.get(key) === entry) this.pending.delete(key);
      });
    return p;
  }

  /** Answers the waiters of `key`'s claim now, if one is under way (later answers are ignored). */
  settle(key: string, v: T): void {
    this.pending.get(key)?.settle(v);
  }
}
