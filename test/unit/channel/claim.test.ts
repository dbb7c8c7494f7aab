/**
 * A claim's decision from the answers it got: it waits for every node of the preference
 * list, takes the newest copy (its own included; a leaving peer's where there is no
 * other, or where it is further in the same life), and starts afresh only when every
 * needed node has none.
 */
import { describe, expect, it } from 'vitest';
import { AFTER_LOSS_ASK_TIMEOUT_MS, decideClaim, gatherRecent, newer } from '../../../src/channel/claim.js';
import { INTERNAL_REQUEST_TIMEOUT_MS } from '../../../src/channel/replication.js';
import { Ring } from '../../../src/cluster/ring.js';
import type { ChannelSnapshot } from '../../../src/channel/state.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import { SnapshotDedup } from '../../../src/transport/dedup-list.js';
import { SnapshotEntries } from '../../../src/transport/entry-lists.js';
import type { ReplyBody } from '../../../src/transport/messages.js';

function snap(epoch: string, term: number, serial: number, o: Partial<ChannelSnapshot> = {}): ChannelSnapshot {
  const entries = Array.from({ length: serial }, (_, i) => ({ serial: i + 1 }) as unknown as LogEntry);
  return { key: 'app:x', epoch, term, base: 0, localSeq: 0, origins: [], lastStoredAt: 0, entries: SnapshotEntries.of(entries), dedup: SnapshotDedup.none, presence: [], ...o } as ChannelSnapshot;
}

const has = (s: ChannelSnapshot | null): ReplyBody => ({ kind: 'snapshot', snapshot: s });

describe('decideClaim', () => {
  it('starts afresh only when every node of the list answered that it has nothing', () => {
    expect(decideClaim([has(null), has(null)], [], undefined)).toEqual({ decided: true, best: null, subscribers: [], behind: false, reach: [], lost: false });
    expect(decideClaim([has(null), null], [], undefined).decided).toBe(false);
    expect(decideClaim([has(null), { kind: 'redirect', owner: 'b' }], [], undefined).decided).toBe(false);
  });

  it('takes the newest copy: a later term first, then the one that got further', () => {
    const a = snap('e1', 2, 3);
    const b = snap('e1', 3, 1);
    const c = snap('e1', 3, 2);
    expect(decideClaim([has(a), has(b), has(c)], [], undefined).best).toBe(c);
    expect(newer(b, a)).toBe(true);
    expect(newer(a, a)).toBe(false);
  });

  it('between copies as far as each other, takes the one whose announced lifecycle events got further', () => {
    const none = snap('e1', 3, 2);
    const untold = snap('e1', 3, 2, { lifecycle: { region: 100, global: 0, regionEnded: 0, globalEnded: 0, untold: 1 } });
    const told = snap('e1', 3, 2, { lifecycle: { region: 100, global: 0, regionEnded: 0, globalEnded: 0, untold: 0 } });
    const ending = snap('e1', 3, 2, { lifecycle: { region: 0, global: 0, regionEnded: 100, globalEnded: 0, untold: 4 } });
    const ended = snap('e1', 3, 2, { lifecycle: { region: 0, global: 0, regionEnded: 100, globalEnded: 0, untold: 0 } });
    const again = snap('e1', 3, 2, { lifecycle: { region: 200, global: 0, regionEnded: 100, globalEnded: 0, untold: 1 } });
    const order = [none, untold, told, ending, ended, again];
    for (const [i, a] of order.entries())
      for (const [j, b] of order.entries()) expect(newer(a, b), `step ${i} over step ${j}`).toBe(i > j);
    // Whichever order the answers come in.
    expect(decideClaim([has(told), has(ending), has(untold)], [], undefined).best).toBe(ending);
    expect(decideClaim([has(ending), has(told)], [], told).best).toBe(ending);
    // The deployment's events count after the region's.
    const opened = snap('e1', 3, 2, { lifecycle: { region: 100, global: 100, regionEnded: 0, globalEnded: 0, untold: 0 } });
    expect(newer(opened, told)).toBe(true);
    // Term and serial still come first.
    expect(newer(snap('e1', 3, 3), again)).toBe(true);
  });

  it("takes a leaving peer's copy, with its subscribers, only where no other copy exists", () => {
    const left = snap('e', 1, 0, { wasMaster: true, subscribers: ['n2'] });
    expect(decideClaim([has(null)], [left], undefined)).toEqual({ decided: true, best: left, subscribers: ['n2'], behind: false, reach: [], lost: false });
    // A stale copy or tombstone of an earlier life (a higher term) does not beat the live one.
    const live = snap('live', 1, 3);
    const earlier = snap('earlier', 7, 9);
    expect(decideClaim([has(live)], [earlier], undefined).best).toBe(live);
    expect(decideClaim([has(null)], [earlier], live).best).toBe(live);
  });

  it("takes a leaving master's copy over an older one of the same life, but never lets it decide alone", () => {
    // Chaos seed 3841: the master stopped to leave, its handoff went to an owner out of
    // reach, and the claimer's own copy was one it kept from an earlier mastership.
    const kept = snap('e', 3, 175);
    const leftMaster = snap('e', 5, 807);
    expect(decideClaim([has(null), has(null)], [leftMaster], kept).best).toBe(leftMaster);
    expect(decideClaim([has(kept), has(null)], [leftMaster], undefined)).toMatchObject({ decided: true, best: leftMaster });
    // Not further: the ring's stays.
    expect(decideClaim([has(leftMaster)], [kept], undefined).best).toBe(leftMaster);
    expect(decideClaim([has(snap('e', 5, 900))], [leftMaster], undefined).best?.entries.length).toBe(900);
    // A needed node that has not answered still holds the claim back.
    expect(decideClaim([has(kept), null], [leftMaster], undefined).decided).toBe(false);
  });

  it("takes the other regions' interest the master that answered knew, with the replica's newer copy of the same life, not with another life's", () => {
    const remote = [{ region: 'us', since: 1000 }];
    const master = snap('e', 2, 5, { wasMaster: true, remoteInterest: remote });
    const replica = snap('e', 2, 6);
    expect(decideClaim([has(master), has(replica)], [], undefined).best).toEqual({ ...replica, remoteInterest: remote });
    // Only a master's: another replica's copy may be older than the one that knew no region.
    const otherReplica = snap('e', 2, 4, { remoteInterest: remote });
    expect(decideClaim([has(otherReplica), has(replica)], [], undefined).best).toBe(replica);
    // The replica of a later life: the old master's knowledge does not carry over.
    const later = snap('e2', 3, 1);
    expect(decideClaim([has(master), has(later)], [], undefined).best).toBe(later);
  });

  it("does not let a leaving peer's copy decide a claim a needed node has not answered", () => {
    const left = snap('e', 2, 5, { wasMaster: true });
    expect(decideClaim([null], [left], undefined).decided).toBe(false);
  });

  it('goes ahead without a missing answer once a master handed over a state with entries', () => {
    const handed = snap('e', 2, 5, { wasMaster: true });
    expect(decideClaim([has(handed), null], [], undefined).decided).toBe(true);
    expect(decideClaim([has(snap('e', 2, 0, { wasMaster: true })), null], [], undefined).decided).toBe(false);
    expect(decideClaim([has(snap('e', 2, 5)), null], [], undefined).decided).toBe(false);
  });

  it('finds its newest copy behind what a channel client (of a node that answered, or ours) has seen of that epoch', () => {
    const stale = snap('e1', 3, 5);
    const seenAt = (serial: number, epoch = 'e1'): ReplyBody => ({ kind: 'snapshot', snapshot: null, seen: { epoch, serial } });
    expect(decideClaim([has(stale), seenAt(5)], [], undefined)).toMatchObject({ best: stale, behind: false });
    expect(decideClaim([has(stale), seenAt(9, 'e0')], [], undefined)).toMatchObject({ best: stale, behind: false });
    expect(decideClaim([has(stale), seenAt(8)], [], undefined)).toMatchObject({ decided: true, best: stale, behind: true });
    expect(decideClaim([has(stale), has(null)], [], undefined, { epoch: 'e1', serial: 6 })).toMatchObject({ behind: true });
    expect(decideClaim([has(null), has(null)], [], undefined, { epoch: 'e1', serial: 6 })).toMatchObject({ best: null, behind: false });
  });

  it('says the state was lost where a channel client has seen a stream of which no copy, or only one behind it, is left', () => {
    const copy = snap('e1', 3, 5);
    const seenAt = (serial: number): ReplyBody => ({ kind: 'snapshot', snapshot: null, seen: { epoch: 'e1', serial } });
    expect(decideClaim([has(null), seenAt(2)], [], undefined).lost).toBe(true);
    expect(decideClaim([has(null), has(null)], [], undefined, { epoch: 'e1', serial: 1 }).lost).toBe(true);
    expect(decideClaim([has(copy), seenAt(8)], [], undefined).lost).toBe(true);
    // A new channel (nobody has seen one), or a copy as far as every client: nothing lost.
    expect(decideClaim([has(null), has(null)], [], undefined).lost).toBe(false);
    expect(decideClaim([has(copy), seenAt(5)], [], undefined).lost).toBe(false);
  });

  it("gathers where the channel clients that answered, and ours, had got in other regions' streams", () => {
    const us = { region: 'us', epoch: 'u', seq: 7 };
    const ap = { region: 'ap', epoch: 'p', seq: 2 };
    const client: ReplyBody = { kind: 'snapshot', snapshot: null, seen: { epoch: 'e0', serial: 9, reach: [us] } };
    expect(decideClaim([has(null), client], [], undefined, { epoch: 'e0', serial: 8, reach: [ap, { ...us, seq: 6 }] }).reach).toEqual([us, ap, { ...us, seq: 6 }]);
    expect(decideClaim([has(null), has(null)], [], undefined).reach).toEqual([]);
  });
});

describe('gatherRecent', () => {
  it("asks every other node of the ring for the ids it delivered last, adds this node's own, says whether any had the stream, and does not wait for one that does not answer", async () => {
    const asked: { to: string; body: unknown; timeoutMs: number }[] = [];
    const answers: Record<string, ReplyBody | Error> = {
      b: { kind: 'snapshot', snapshot: null, recent: [{ key: 'k2', serial: 's2' }] },
      c: new Error('timeout'),
      d: { kind: 'snapshot', snapshot: null, seen: { epoch: 'e', serial: 0 } },
      e: { kind: 'redirect', owner: 'a' },
    };
    const rpc = {
      request: (to: string, body: unknown, timeoutMs: number) => {
        asked.push({ to, body, timeoutMs });
        const a = answers[to]!;
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
      },
    };
    const deps = { self: 'a', rpc: rpc as never, recent: () => [{ key: 'k1', serial: 's1' }] };
    const ring = new Ring(['a', 'b', 'c', 'd', 'e']);
    expect(await gatherRecent(deps, ring, 'app:x')).toEqual({ ids: [{ key: 'k1', serial: 's1' }, { key: 'k2', serial: 's2' }], seen: true });
    expect(asked.map((q) => q.to).sort()).toEqual(['b', 'c', 'd', 'e']);
    for (const q of asked) {
      expect(q.body).toEqual({ type: 'claim', channel: 'app:x', probe: true, recent: true });
      expect(q.timeoutMs).toBe(INTERNAL_REQUEST_TIMEOUT_MS);
    }
    // Asked only in case (no copy, soon after a node went): not long.
    asked.length = 0;
    await gatherRecent(deps, ring, 'app:x', AFTER_LOSS_ASK_TIMEOUT_MS);
    expect(asked.map((q) => q.timeoutMs)).toEqual([200, 200, 200, 200]);
    // Only b's ids and no place in the stream anywhere; then our own client's place.
    answers.d = { kind: 'snapshot', snapshot: null };
    expect((await gatherRecent(deps, ring, 'app:x')).seen).toBe(false);
    expect((await gatherRecent({ ...deps, seen: () => ({ epoch: 'e', serial: 3 }) }, ring, 'app:x')).seen).toBe(true);
  });
});
