/**
 * How a claim decides, from what the nodes that may hold a channel's state answered,
 * whether it may take the channel now and from which copy (registry.ts asks them).
 */
import type { NodeId, ReplyBody } from '../transport/messages.js';
import type { ChannelSnapshot } from './state.js';

export interface ClaimDecision {
  /** Whether the claim may take the channel now; otherwise it asks again. */
  decided: boolean;
  /** The newest copy found; null: the channel starts afresh. */
  best: ChannelSnapshot | null;
  /** The nodes subscribed at the last master, from its answer. */
  subscribers: NodeId[];
}

/**
 * `answers`: those of the preference list (null where a node did not answer), all
 * needed; `leaving`: the copies held by peers still leaving (optional, used only where
 * no other copy exists); `own`: our copy or tombstone. Decided when every needed node
 * answered, or when a node of the list that was master handed over a state with entries
 * (it stopped first: nothing newer can exist).
 */
export function decideClaim(
  answers: readonly (ReplyBody | null)[],
  leaving: readonly ChannelSnapshot[],
  own: ChannelSnapshot | undefined,
): ClaimDecision {
  const held = answers.flatMap((a) => (a?.kind === 'snapshot' && a.snapshot ? [a.snapshot] : []));
  const ours = newest(own ? [...held, own] : held);
  const complete = answers.every((a) => a?.kind === 'snapshot');
  const decided = complete || (ours !== null && ours.entries.length > 0 && held.some((s) => s.wasMaster === true));
  // A leaving peer's copy counts only where the ring holds none: an old copy it kept (a
  // stale one, a tombstone of an earlier life) must not beat the live one.
  const copies = ours === null ? leaving : held;
  const subscribers = copies.findLast((s) => s.subscribers)?.subscribers ?? [];
  return { decided, best: ours ?? newest(leaving), subscribers };
}

/** The answers of a claim as `epoch@serial`, `none` or why not, for the log. */
export function describeClaim(answers: readonly (ReplyBody | null)[], leaving: readonly ChannelSnapshot[], own: ChannelSnapshot | undefined): object {
  const at = (s: ChannelSnapshot): string => `${s.epoch}@${s.base + s.entries.length}`;
  const said = answers.map((a) => (a?.kind === 'snapshot' ? (a.snapshot ? at(a.snapshot) : 'none') : (a?.kind ?? 'no reply')));
  return { answers: said, leaving: leaving.map(at), own: own ? at(own) : null };
}

/** The copy that supersedes the others (the first of equals), or null. */
function newest(copies: readonly ChannelSnapshot[]): ChannelSnapshot | null {
  let best: ChannelSnapshot | null = null;
  for (const s of copies) if (!best || newer(s, best)) best = s;
  return best;
}

/**
 * Whether copy a supersedes copy b: a later mastership (term) wins; within one term, the
 * copy that got further. (Two epochs meet only after state was lost: the same rule applies.)
 */
export function newer(a: ChannelSnapshot, b: ChannelSnapshot): boolean {
  if (a.term !== b.term) return a.term > b.term;
  return a.base + a.entries.length > b.base + b.entries.length;
}
