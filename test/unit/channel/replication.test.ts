import { describe, expect, it } from 'vitest';
import { Ring } from '../../../src/cluster/ring.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import { ChannelMaster } from '../../../src/channel/master.js';
import type { Holding } from '../../../src/channel/registry.js';
import { applyReplicate, NEED_SYNC, replicateBatch, type ReplicationDeps } from '../../../src/channel/replication.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import type { Broadcast, ForwardedBatch, NodeRequest, ReplicateRequest, ReplyBody } from '../../../src/transport/messages.js';
import type { Rpc } from '../../../src/transport/rpc.js';
import { hasUnreplicated } from '../../../src/channel/unreplicated.js';

const settings: ChannelSettings = { region: 'eu', historyMs: 60_000, dedupMs: 10_000, maxMessages: 1000 };
const KEY = 'app:chat';
const ring = new Ring(['a', 'b', 'n9']);
const OWNER = ring.owner(KEY)!;
const REPLICA = ring.replica(KEY)!;

const ids = (entries: readonly LogEntry[]) => entries.map((e) => (e.kind === 'message' ? e.message.id : e.presence.id));

/** A master's state with two messages of its own and one that came in from region us. */
function batchOfBoth(state: ChannelState): LogEntry[] {
  const own = state.accept([{ id: 'a', data: 'x', timestamp: 0 }, { id: 'b', data: 'y', timestamp: 0 }], 1000).entries;
  const foreign = state.ingest(
    {
      region: 'us',
      epoch: 'us1',
      startSeq: 0,
      gapBefore: false,
      entries: [{ kind: 'message', serial: 0, channelSerial: '', storedAt: 900, origin: { region: 'us', epoch: 'us1', seq: 1 }, message: { id: 'u1', timestamp: 0 } }],
    },
    1000,
  ).entries;
  if (foreign.length !== 1) throw new Error('the foreign entry was not stored');
  return [...own, ...foreign];
}

function replicaSide(o: { toRegions: boolean }) {
  const master = ChannelState.fresh(KEY, settings, 1000, 'ep1');
  const h: Holding = { role: 'replica', state: ChannelState.restore(master.snapshot(), settings), from: OWNER };
  const sent: { batch: ForwardedBatch; to: string | null }[] = [];
  const broadcasts: { to: string; msg: Broadcast }[] = [];
  const deps: ReplicationDeps = {
    self: REPLICA,
    ring: () => ring,
    rpc: {} as Rpc,
    hasQuorum: () => true,
    settings: { region: 'eu' },
    sendBroadcast: (to, msg) => void broadcasts.push({ to, msg }),
    ...(o.toRegions ? { toRegions: (batch: ForwardedBatch, to: string | null) => sent.push({ batch, to }) } : {}),
  };
  const request = (entries: LogEntry[], forward: boolean): ReplicateRequest => ({ type: 'replicate', rid: 1, channel: KEY, epoch: 'ep1', entries, holds: [], forward });
  return { master, h, sent, broadcasts, deps, request };
}

describe('the replica sending a batch on to other regions', () => {
  it('when asked, stores the batch, sends its own region\'s entries to the globalmaster, and says so', () => {
    const { master, h, sent, deps, request } = replicaSide({ toRegions: true });
    const reply = applyReplicate(deps, h, OWNER, request(batchOfBoth(master), true));
    expect(reply).toEqual({ kind: 'ok', forwarded: true });
    expect(h.role === 'replica' && h.state.serial).toBe(master.serial);
    expect(sent).toHaveLength(1);
    const { batch, to } = sent[0]!;
    expect(to).toBeNull();
    expect({ channel: batch.channel, region: batch.region, epoch: batch.epoch, gapBefore: batch.gapBefore }).toEqual({ channel: KEY, region: 'eu', epoch: 'ep1', gapBefore: false });
    // One hop only: the message that came from region us is not sent on.
    expect(ids(batch.entries.list('eu', 'ep1'))).toEqual(['a', 'b']);
  });

  it('when not asked, stores the batch and sends nothing', () => {
    const { master, h, sent, deps, request } = replicaSide({ toRegions: true });
    expect(applyReplicate(deps, h, OWNER, request(batchOfBoth(master), false))).toEqual({ kind: 'ok' });
    expect(h.role === 'replica' && h.state.serial).toBe(master.serial);
    expect(sent).toEqual([]);
  });

  it('without a way to the globalmaster, answers a plain ok, so that the master sends the batch', () => {
    const { master, h, sent, deps, request } = replicaSide({ toRegions: false });
    expect(applyReplicate(deps, h, OWNER, request(batchOfBoth(master), true))).toEqual({ kind: 'ok' });
    expect(sent).toEqual([]);
  });

  it('sends on nothing it does not store: a batch from a node that is not master, or one after a gap', () => {
    const { master, h, sent, deps, request } = replicaSide({ toRegions: true });
    const entries = batchOfBoth(master);
    expect(applyReplicate(deps, h, REPLICA, request(entries, true))).toEqual({ kind: 'redirect', owner: OWNER });
    const reply = applyReplicate(deps, h, OWNER, request(entries.slice(1), true));
    expect(reply.kind === 'error' && reply.error.code).toBe(NEED_SYNC);
    expect(sent).toEqual([]);
    expect(h.role === 'replica' && h.state.serial).toBe(0);
  });
});

describe('the replica broadcasting a batch for the master', () => {
  const lost = { code: 90003, statusCode: 400, message: 'messages from region us were lost' };

  it('when asked, stores the batch, sends it to each node named (itself included) as one broadcast, and says so', () => {
    const { master, h, broadcasts, deps, request } = replicaSide({ toRegions: true });
    const entries = batchOfBoth(master);
    const reply = applyReplicate(deps, h, OWNER, { ...request(entries, true), broadcastTo: ['n9', REPLICA], discontinuity: lost });
    expect(reply).toEqual({ kind: 'ok', forwarded: true, broadcast: true });
    expect(broadcasts.map((b) => b.to)).toEqual(['n9', REPLICA]);
    expect(broadcasts[0]!.msg).toBe(broadcasts[1]!.msg);
    expect(broadcasts[0]!.msg).toEqual({ type: 'broadcast', channel: KEY, epoch: 'ep1', entries, discontinuity: lost });
    // The very entries it took (their bytes are known: no encoding again).
    expect(broadcasts[0]!.msg.entries).toBe(entries);
  });

  it('says a loss with no entry to go with it, and where; sends nothing when not asked', () => {
    const { h, broadcasts, deps, request } = replicaSide({ toRegions: false });
    expect(applyReplicate(deps, h, OWNER, { ...request([], false), broadcastTo: ['n9'], discontinuity: lost, gapAt: 1 })).toEqual({ kind: 'ok', broadcast: true });
    expect(broadcasts.map((b) => [b.to, b.msg.entries.length, b.msg.discontinuity, b.msg.gapAt])).toEqual([['n9', 0, lost, 1]]);
    const { master: m2, h: h2, broadcasts: b2, deps: d2, request: r2 } = replicaSide({ toRegions: false });
    expect(applyReplicate(d2, h2, OWNER, r2(batchOfBoth(m2), false))).toEqual({ kind: 'ok' });
    expect(b2).toEqual([]);
  });

  it('leaves the broadcast to the master when it does not know a node named (one that just joined: it has no link to it yet)', () => {
    const { master, h, broadcasts, deps, request } = replicaSide({ toRegions: false });
    expect(applyReplicate(deps, h, OWNER, { ...request(batchOfBoth(master), false), broadcastTo: ['n9', 'new-node'] })).toEqual({ kind: 'ok' });
    expect(broadcasts).toEqual([]);
    expect(h.role === 'replica' && h.state.serial).toBe(master.serial);
  });

  it('broadcasts nothing it does not store: a batch from a node that is not master, or one after a gap', () => {
    const { master, h, broadcasts, deps, request } = replicaSide({ toRegions: false });
    const entries = batchOfBoth(master);
    expect(applyReplicate(deps, h, REPLICA, { ...request(entries, false), broadcastTo: ['n9'] }).kind).toBe('redirect');
    const reply = applyReplicate(deps, h, OWNER, { ...request(entries.slice(1), false), broadcastTo: ['n9'] });
    expect(reply.kind === 'error' && reply.error.code).toBe(NEED_SYNC);
    expect(broadcasts).toEqual([]);
  });
});

describe('the master replicating a batch', () => {
  function masterSide(answer: (req: NodeRequest) => ReplyBody) {
    const state = ChannelState.fresh(KEY, settings, 1000, 'ep1');
    const master = new ChannelMaster(KEY, state, { now: () => 1000, sendBroadcast: () => undefined, replicate: async () => ({ forwarded: false, broadcast: false }) });
    const asked: NodeRequest[] = [];
    const rpc = { request: async (_to: string, req: NodeRequest) => (asked.push(req), answer(req)) } as unknown as Rpc;
    const deps: ReplicationDeps = { self: OWNER, ring: () => ring, rpc, hasQuorum: () => true, settings: { region: 'eu' }, sendBroadcast: () => undefined };
    const h: Holding = { role: 'master', master, replica: REPLICA, synced: REPLICA, syncing: null };
    const entries = state.accept([{ id: 'a', data: 'x', timestamp: 0 }], 1000).entries;
    return { master, deps, h, entries, asked };
  }

  it('passes the ask on and reports what the replica did', async () => {
    const yes = masterSide(() => ({ kind: 'ok', forwarded: true }));
    await expect(replicateBatch(yes.deps, () => yes.h, yes.master, yes.entries, [], true)).resolves.toEqual({ forwarded: true, broadcast: false });
    expect(yes.asked).toMatchObject([{ type: 'replicate', forward: true }]);
    const no = masterSide(() => ({ kind: 'ok' }));
    await expect(replicateBatch(no.deps, () => no.h, no.master, no.entries, [], true)).resolves.toEqual({ forwarded: false, broadcast: false });
  });

  it('asks the replica to broadcast, and reports it only when the replica says it did', async () => {
    const to = { to: ['n9'], said: null, subscribes: 1 };
    const yes = masterSide(() => ({ kind: 'ok', broadcast: true }));
    await expect(replicateBatch(yes.deps, () => yes.h, yes.master, yes.entries, [], false, to)).resolves.toEqual({ forwarded: false, broadcast: true });
    expect(yes.asked).toMatchObject([{ type: 'replicate', broadcastTo: ['n9'] }]);
    expect(yes.asked[0]).not.toHaveProperty('discontinuity');
    // An older replica does not know the field: it answers a plain ok, and the master broadcasts.
    const old = masterSide(() => ({ kind: 'ok' }));
    await expect(replicateBatch(old.deps, () => old.h, old.master, old.entries, [], false, to)).resolves.toEqual({ forwarded: false, broadcast: false });
    // A full sync instead: the master broadcasts.
    const sync = masterSide((req) => (req.type === 'replicate' ? { kind: 'error', error: { code: NEED_SYNC, statusCode: 500, message: 'sync' } } : { kind: 'ok', broadcast: true }));
    await expect(replicateBatch(sync.deps, () => sync.h, sync.master, sync.entries, [], false, to)).resolves.toEqual({ forwarded: false, broadcast: false });
    // Not asked: not reported, whatever the answer.
    const unasked = masterSide(() => ({ kind: 'ok', broadcast: true }));
    await expect(replicateBatch(unasked.deps, () => unasked.h, unasked.master, unasked.entries, [], false)).resolves.toEqual({ forwarded: false, broadcast: false });
    expect(unasked.asked[0]).not.toHaveProperty('broadcastTo');
  });

  /** What changes with no entry to show it, what replication carries of it, and what the replica then holds. */
  const changes: {
    what: string;
    field: 'origins' | 'interestSince' | 'remoteInterest' | 'reach';
    make(st: ChannelState): void;
    sent: unknown;
    held(st: ChannelState): unknown;
    holds: unknown;
    undo?: { make(st: ChannelState): void; holds: unknown };
  }[] = [
    {
      what: "positions in other regions' streams that moved with no entry",
      field: 'origins',
      // A start from us with no entries: the stream begins at us's seq 57 with nothing stored.
      make: (st) => void st.ingest({ region: 'us', epoch: 'us1', startSeq: 57, gapBefore: false, entries: [] }, 1000),
      sent: [{ region: 'us', epoch: 'us1', seq: 57 }],
      held: (st) => st.origins.get('us'),
      holds: { region: 'us', epoch: 'us1', seq: 57 },
    },
    {
      what: 'the interest start',
      field: 'interestSince',
      make: (st) => st.setInterest(5000),
      sent: 5000,
      held: (st) => st.interest.since,
      holds: 5000,
      // Interest ended: 0 goes too.
      undo: { make: (st) => st.setInterest(0), holds: 0 },
    },
    {
      what: "other regions' interest",
      field: 'remoteInterest',
      make: (st) => void st.interest.setRemote(new Map([['us', 5000]])),
      sent: [{ region: 'us', since: 5000 }],
      held: (st) => st.interest.remoteList,
      holds: [{ region: 'us', since: 5000 }],
      // None left: the replica forgets it too (an empty list is sent).
      undo: { make: (st) => void st.interest.setRemote(new Map()), holds: [] },
    },
    {
      what: 'what streams not yet begun must reach back to',
      field: 'reach',
      // A client from us that had seen all of this region's messages (all of them this region's own).
      make: (st) => void st.vectorRange([{ region: 'us', epoch: 'us1', seq: 9 }, { region: st.settings.region, epoch: st.epoch, seq: st.position().serial }], 0, 'us'),
      sent: [{ region: 'us', epoch: 'us1', seq: 9 }],
      held: (st) => st.origins.reachBackOf('us'),
      holds: { region: 'us', epoch: 'us1', seq: 9 },
      // Forgotten (interest ended): the replica forgets it too.
      undo: { make: (st) => st.setInterest(0), holds: undefined },
    },
  ];

  it.each(changes)('carries $what once, and the replica takes it (and its undoing); a snapshot carries it too', async (c) => {
    const m = masterSide(() => ({ kind: 'ok' }));
    c.make(m.master.state);
    expect(hasUnreplicated(m.master.state)).toBe(true);
    await replicateBatch(m.deps, () => m.h, m.master, [], [], false);
    await replicateBatch(m.deps, () => m.h, m.master, m.entries, [], false);
    expect(m.asked).toMatchObject([{ type: 'replicate', [c.field]: c.sent }, { type: 'replicate' }]);
    expect((m.asked[1] as ReplicateRequest)[c.field]).toBeUndefined();
    const { h, deps } = replicaSide({ toRegions: false });
    expect(applyReplicate(deps, h, OWNER, m.asked[0] as ReplicateRequest)).toEqual({ kind: 'ok' });
    expect(h.role === 'replica' && c.held(h.state)).toEqual(c.holds);
    expect(c.held(ChannelState.restore(m.master.state.snapshot(), settings))).toEqual(c.holds);
    if (!c.undo) return;
    c.undo.make(m.master.state);
    await replicateBatch(m.deps, () => m.h, m.master, [], [], false);
    expect(applyReplicate(deps, h, OWNER, m.asked[2] as ReplicateRequest)).toEqual({ kind: 'ok' });
    expect(h.role === 'replica' && c.held(h.state)).toEqual(c.undo.holds);
  });

  it('reports not sent on when the replica took a full sync instead', async () => {
    const m = masterSide((req) =>
      req.type === 'replicate' ? { kind: 'error', error: { code: NEED_SYNC, statusCode: 500, message: 'sync' } } : { kind: 'ok', forwarded: true },
    );
    await expect(replicateBatch(m.deps, () => m.h, m.master, m.entries, [], true)).resolves.toEqual({ forwarded: false, broadcast: false });
    expect(m.asked.map((r) => r.type)).toEqual(['replicate', 'sync']);
  });
});
