/**
 * `GET /channels` across a region, a page at a time: each node lists the names of one
 * app's channels it masters (with the prefix, after the cursor, the first `limit` by
 * name), and the asking node merges the lists. Before, every node sent every channel of
 * every app, and the asker filtered: 20,000 channels of one app made each request take
 * 440 ms, and four at once held another node's loop half a second (a review's
 * reproduction, fifty-fifth session).
 */
import { insertSorted } from '../sorted.js';
import { splitChannelKey, type ChannelKey } from '../channel/entry.js';
import type { ChannelRegistry } from '../channel/registry.js';
import type { ChannelNamesQuery, InterestListRequest, ReplyBody } from '../transport/messages.js';

/** A node's answer to an interestList: the names a GET /channels asks for, or what the globalmaster's audit asks. */
export function interestListAnswer(reg: ChannelRegistry, req: InterestListRequest): ReplyBody {
  if (req.names) return { kind: 'channelNames', names: namesPage(Array.from(reg.liveMasters(), ([k]) => k), req.names) };
  return { kind: 'interest', mastered: reg.interestList(req.all) };
}

/**
 * The page of names `q` asks for among these channels: sorted, at most `q.limit`. Kept as
 * a sorted list of the least so far (not all of them sorted): the page is small, the
 * channels may be many.
 */
export function namesPage(keys: Iterable<ChannelKey>, q: ChannelNamesQuery): string[] {
  const out: string[] = [];
  const from = `${q.appId}:${q.prefix}`;
  for (const key of keys) {
    if (!key.startsWith(from)) continue;
    const { appId, name } = splitChannelKey(key);
    if (appId !== q.appId || (q.after !== undefined && name <= q.after)) continue;
    if (out.length === q.limit && name >= out[out.length - 1]!) continue;
    insertSorted(out, name);
    if (out.length > q.limit) out.pop();
  }
  return out;
}

/**
 * The region's page from its nodes' answers (each `channelNames`, or from a build before
 * it, `interest` with every channel): the names up to where every node's list still
 * reaches (a node that gave `q.limit` may have more after its last), sorted, and whether
 * any node has more.
 */
export function mergeNames(answers: readonly (ReplyBody | null)[], q: ChannelNamesQuery): { names: string[]; more: boolean } {
  const all = new Set<string>();
  let bound: string | null = null;
  for (const a of answers) {
    const list =
      a?.kind === 'channelNames' ? a.names : a?.kind === 'interest' ? namesPage(a.mastered.map((m) => m.channel), q) : null;
    if (!list) continue;
    for (const n of list) all.add(n);
    if (list.length >= q.limit) {
      const last = list[q.limit - 1]!;
      if (bound === null || last < bound) bound = last;
    }
  }
  const names = [...all].filter((n) => bound === null || n <= bound).sort();
  return { names, more: bound !== null };
}
