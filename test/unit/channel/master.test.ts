import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import type { ReplicaBroadcast, Replicated } from '../../../src/channel/batches.js';
import { ChannelMaster, type MasterDeps } from '../../../src/channel/master.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import { AblyError } from '../../../src/errors.js';
import { entryListCodec } from '../../../src/transport/entry-codec.js';
import { encodeLogEntries, ForwardedEntries } from '../../../src/transport/entry-lists.js';
import type { Broadcast, ForwardedBatch } from '../../../src/transport/messages.js';
import { waitFor } from '../../helpers/wait.js';
import { parseMessageSerial } from '../../../src/protocol/message-serial.js';
import { applyUnreplicated, hasUnreplicated, takeUnreplicated, type Unreplicated } from '../../../src/channel/unreplicated.js';

const settings: ChannelSettings = { region: 'eu', historyMs: 60_000, dedupMs: 10_000, maxMessages: 1000 };
const KEY = 'app:chat';

/** A replica whose answers the test releases one at a time. */
class HeldReplica {
  readonly calls: number[][] = [];
  readonly batches: LogEntry[][] = [];
  /** The `forward` of each call. */
  readonly forwards: boolean[] = [];
  /** The broadcast each call asked the replica to send. */
  readonly asked: (ReplicaBroadcast | null)[] = [];
  private readonly pending: { resolve(done: Replicated): void; reject(e: unknown): void }[] = [];

  replicate = (_m: ChannelMaster, entries: LogEntry[], _holds: unknown, forward: boolean, broadcast: ReplicaBroadcast | null): Promise<Replicated> => {
    this.calls.push(entries.map((e) => e.serial));
    this.batches.push(entries);
    this.forwards.push(forward);
    this.asked.push(broadcast);
    return new Promise<Replicated>((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  get waiting(): number {
    return this.pending.length;
  }

  /** `forwarded`: the replica says it sent the batch on to other regions; `broadcast`: that it broadcast it as asked. */
  answer(forwarded = false, broadcast = false): void {
    this.pending.shift()!.resolve({ forwarded, broadcast });
  }
}

/** A master of KEY with a held replica and node n2 subscribed; `more`: deps beyond those. */
function setup(more: Partial<MasterDeps> = {}, s: ChannelSettings = settings) {
  const clock = new ManualClock();
  const replica = new HeldReplica();
  const broadcasts: Broadcast[] = [];
  const master = new ChannelMaster(KEY, ChannelState.fresh(KEY, s, clock.now(), 'ep1'), {
    now: () => clock.now(),
    sendBroadcast: (_to, msg) => broadcasts.push(msg),
    replicate: replica.replicate,
    ...more,
  });
  master.subscribe('n2');
  return { master, replica, broadcasts, clock };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** The seq in this region's order a publish's ACK serial names. */
const seqOf = (serial: string) => parseMessageSerial(serial)?.seq;
const publish = (m: ChannelMaster, id: string, data: string = id) => m.publish([{ id, data, timestamp: 0 }]);

describe('ChannelMaster group commit', () => {
  it('merges the batches that queued behind a replication into one replication and one broadcast, in order', async () => {
    const { master, replica, broadcasts } = setup();
    const first = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    // Three more turns' batches queue while the first is being replicated.
    const queued = [publish(master, 'b')];
    await turn();
    queued.push(publish(master, 'c'), publish(master, 'd'));
    await turn();
    queued.push(publish(master, 'e'));
    await turn();
    expect(replica.calls).toEqual([[1]]);
    expect(broadcasts).toEqual([]);

    replica.answer();
    expect((await first).map(seqOf)).toEqual([1]);
    await waitFor(() => replica.waiting === 1);
    expect(replica.calls).toEqual([[1], [2, 3, 4, 5]]);
    expect(broadcasts.map((b) => b.entries.map((e) => e.serial))).toEqual([[1]]);

    replica.answer();
    expect((await Promise.all(queued)).map((s) => s.map(seqOf))).toEqual([[2], [3], [4], [5]]);
    expect(broadcasts.map((b) => b.entries.map((e) => e.serial))).toEqual([[1], [2, 3, 4, 5]]);
    expect(master.position().serial).toBe(5);
    await waitFor(() => !master.busy);
  });

  it('merges no more than about 4 MB of queued messages into one replication', async () => {
    const { master, replica } = setup();
    const big = 'x'.repeat(1_500_000);
    void publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    for (const id of ['b', 'c', 'd']) {
      void publish(master, id, big);
      await turn();
    }
    replica.answer();
    await waitFor(() => replica.calls.length === 2);
    replica.answer();
    await waitFor(() => replica.calls.length === 3);
    expect(replica.calls).toEqual([[1], [2, 3], [4]]);
    replica.answer();
    await waitFor(() => !master.busy);
  });

  it('keeps a discontinuity at the start of its own broadcast, after what queued before it', async () => {
    const { master, replica, broadcasts } = setup();
    void publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    void publish(master, 'b');
    await turn();
    const gap = AblyError.of('channelMessagesExpired', 'lost').toInfo();
    const afterGap = master.enqueue([], [], { error: gap });
    void publish(master, 'c');
    await turn();

    replica.answer();
    await waitFor(() => replica.calls.length === 2);
    expect(replica.calls[1]).toEqual([2]);
    replica.answer();
    await waitFor(() => replica.calls.length === 3);
    expect(replica.calls[2]).toEqual([3]);
    replica.answer();
    await afterGap;
    await waitFor(() => !master.busy);
    expect(broadcasts.map((b) => [b.entries.map((e) => e.serial), b.discontinuity?.code ?? null])).toEqual([
      [[1], null],
      [[2], null],
      [[3], 90003],
    ]);
  });

  it('keeps where it told of lost messages with its history: reads that cross it say so once broadcast, and the replica and a snapshot carry it', async () => {
    const { master, replica } = setup();
    void publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    const gap = AblyError.of('channelMessagesExpired', 'lost').toInfo();
    const afterGap = master.enqueue([], [], { error: gap });
    void publish(master, 'b'); // serial 2: the first after the gap
    await turn();
    expect(master.gapsWithin(0, 10)).toEqual([]); // nothing past it broadcast yet
    replica.answer();
    await waitFor(() => replica.calls.length === 2);
    replica.answer();
    await afterGap;
    await waitFor(() => !master.busy);
    expect(master.gapsWithin(0, 10)).toEqual([{ serial: 2, error: gap }]);
    expect(master.gapsWithin(2, 10)).toEqual([]);
    // Replication carries it (this test's replica does not take it: the real one does, replication.ts).
    const moved = takeUnreplicated(master.state);
    expect(moved.gaps).toEqual([{ serial: 2, error: gap }]);
    const copy = ChannelState.fresh(KEY, settings, 0, 'ep1');
    applyUnreplicated(copy, moved);
    expect(copy.gaps.within(0, 10)).toEqual([{ serial: 2, error: gap }]);
    expect(ChannelState.restore(master.state.snapshot(), settings).gaps.within(1, 2)).toEqual([{ serial: 2, error: gap }]);
  });

  it('says a loss it had no entry to go with again with the first entry after it', async () => {
    const { master, replica, broadcasts } = setup();
    const first = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    replica.answer();
    await first;
    const gap = AblyError.of('channelMessagesExpired', 'lost').toInfo();
    const word = master.enqueue([], [], { error: gap });
    await waitFor(() => replica.waiting === 1); // the gap goes to the replica, with no entry
    replica.answer();
    await word;
    const next = publish(master, 'b');
    await waitFor(() => replica.waiting === 1);
    replica.answer();
    await next;
    expect(broadcasts.map((b) => [b.entries.map((e) => e.serial), b.discontinuity?.code ?? null])).toEqual([
      [[1], null],
      [[], 90003],
      [[2], 90003],
    ]);
  });

  it('on stop, fails the batches still waiting and resolves once the replication in flight ends', async () => {
    const { master, replica, broadcasts } = setup();
    const first = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    const queued = publish(master, 'b');
    await turn();
    const open = publish(master, 'c');
    const reason = AblyError.of('channelFailed', 'master moved');
    let stopped = false;
    const stopping = master.stop(reason).then(() => (stopped = true));
    await expect(queued).rejects.toBe(reason);
    await expect(open).rejects.toBe(reason);
    await turn();
    expect(stopped).toBe(false);
    replica.answer();
    await stopping;
    // The batch in flight was replicated but the master stopped before broadcasting it.
    await expect(first).rejects.toBe(reason);
    expect(broadcasts).toEqual([]);
    expect(replica.calls).toEqual([[1]]);
    expect(master.busy).toBe(false);
  });
});

describe('ChannelMaster batch bytes', () => {
  it('replicates and broadcasts the bytes its log holds, without encoding the batch again', async () => {
    const encodeList = vi.spyOn(entryListCodec, 'encodeLogEntryList');
    try {
      const { master, replica, broadcasts } = setup();
      const done = Promise.all([publish(master, 'a'), publish(master, 'b'), publish(master, 'c')]);
      await waitFor(() => replica.waiting === 1);
      const sent = replica.batches[0]!;
      const bytes = encodeLogEntries(sent);
      replica.answer();
      await done;
      expect(encodeList).not.toHaveBeenCalled();
      expect(entryListCodec.decodeLogEntryList(bytes)).toEqual(sent);
      expect(encodeLogEntries(broadcasts[0]!.entries)).toBe(bytes);
    } finally {
      encodeList.mockRestore();
    }
  });
});


describe('ChannelMaster towards other regions', () => {
  /** With other regions about, setup's subscribe replicates the interest start first: that is answered. */
  async function setupRegions(s: ChannelSettings = settings) {
    const sent: { batch: ForwardedBatch; to: string | null; more?: boolean }[] = [];
    const { master, replica, clock } = setup({ region: 'eu', toRegions: (batch, to, more) => sent.push({ batch, to, more }) }, s);
    await waitFor(() => replica.waiting === 1);
    replica.answer(false);
    replica.calls.length = replica.batches.length = replica.forwards.length = 0;
    // Live batches (to every region with interest), not the start of a new interest (to one).
    const live = () => sent.filter((s) => s.to === null).map((s) => s.batch.entries.list('eu', 'ep1').map((e) => (e.kind === 'message' ? e.message.id : e.presence.id)));
    /** Publishes one message and lets its replication end, the replica saying whether it sent the batch on. */
    const commit = async (id: string, forwarded: boolean) => {
      const done = publish(master, id);
      await waitFor(() => replica.waiting === 1);
      replica.answer(forwarded);
      await done;
    };
    return { master, replica, clock, live, commit, sent };
  }

  it('asks the replica to send a batch on when another region wants the channel, and sends it itself only if the replica did not', async () => {
    const { master, replica, clock, live, commit } = await setupRegions();
    master.regions.setRemoteInterest([{ region: 'us', since: clock.now() }]);
    await commit('a', true);
    expect(replica.forwards).toEqual([true]);
    expect(live()).toEqual([]);
    // A replica that did not (a sync instead, or one that does not know the flag): the master sends it.
    await commit('b', false);
    expect(live()).toEqual([['b']]);
  });

  it('does not ask the replica when no other region wants the channel, and sends nothing', async () => {
    const { replica, live, commit } = await setupRegions();
    await commit('a', false);
    expect(replica.forwards).toEqual([false]);
    expect(live()).toEqual([]);
  });

  it('sends a batch itself when another region began to want the channel during its replication', async () => {
    const { master, replica, clock, live } = await setupRegions();
    const a = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    expect(replica.forwards).toEqual([false]);
    // The start the new interest gets stops at what was broadcast: this batch must follow it live.
    master.regions.setRemoteInterest([{ region: 'us', since: clock.now() }]);
    replica.answer(false);
    await a;
    expect(live()).toEqual([['a']]);
  });

  it('starts a new interest after the replication in flight, which the replica sent on only to the regions wanting the channel before', async () => {
    const { master, replica, clock, sent } = await setupRegions();
    const ap = { region: 'ap', since: clock.now() };
    master.regions.setRemoteInterest([ap]);
    await waitFor(() => replica.waiting === 1); // the interest, replicated
    replica.answer(false);
    const a = publish(master, 'a');
    await waitFor(() => replica.waiting === 1 && replica.forwards.at(-1) === true);
    // us's interest comes while the replica sends 'a' on (to ap alone, in the globalmaster).
    master.regions.setRemoteInterest([ap, { region: 'us', since: clock.now() }]);
    expect(sent.filter((x) => x.to === 'us')).toEqual([]);
    replica.answer(true);
    await a;
    const start = await waitFor(() => sent.find((x) => x.to === 'us'));
    // Read once 'a' was published: it is in the start (read at once, it was not, and us had a hole).
    expect(start.batch.entries.list('eu', 'ep1').map((e) => (e.kind === 'message' ? e.message.id : ''))).toEqual(['a']);
    expect(sent.filter((x) => x.to === null)).toEqual([]);
  });

  it('reads a waiting start anyway after 500 ms, and from when the interest began as last told', async () => {
    const { master, replica, clock, sent, commit } = await setupRegions();
    const ap = { region: 'ap', since: clock.now() };
    master.regions.setRemoteInterest([ap]);
    await waitFor(() => replica.waiting === 1);
    replica.answer(false);
    const early = clock.now();
    await commit('x', true);
    clock.advance(10_000);
    const a = publish(master, 'a');
    await waitFor(() => replica.waiting === 1 && replica.forwards.at(-1) === true);
    master.regions.setRemoteInterest([ap, { region: 'us', since: early }]);
    // Told again meanwhile, from a later time: still one start, from that time.
    master.regions.setRemoteInterest([ap, { region: 'us', since: clock.now() }]);
    const start = await waitFor(() => sent.find((x) => x.to === 'us'), { what: 'the start to us, after its real 500 ms wait' });
    // Neither 'x' (stored 10 s before the interest as last told; from the first time it
    // would be in) nor 'a' (its replication still unanswered) is in it.
    expect(start.batch.entries.length).toBe(0);
    replica.answer(true);
    await a;
    expect(sent.filter((x) => x.to === 'us')).toHaveLength(1);
  });

  it('starts a new interest with the oldest page of what was published since; says when more follows, and when retention dropped some', async () => {
    const startOf = async (s: ChannelSettings) => {
      const { master, replica, clock, sent } = await setupRegions(s);
      const since = clock.now();
      clock.advance(5000);
      const done = Promise.all(Array.from({ length: 1100 }, (_, i) => publish(master, `m${i}`)));
      await waitFor(() => replica.waiting === 1);
      replica.answer(false);
      await done;
      master.regions.setRemoteInterest([{ region: 'us', since: since + 2500 }]); // 2.5 s after `since`, less the 2 s margin
      const [start] = sent.filter((x) => x.to === 'us');
      return [start!.batch.startSeq, start!.batch.gapBefore, start!.batch.entries.length, start!.batch.entries.lastSeq, start!.more];
    };
    expect(await startOf({ ...settings, maxMessages: 2000 })).toEqual([0, false, 1000, 1000, true]);
    // A history of 1,000: the first 100, published after the interest began, are gone.
    expect(await startOf(settings)).toEqual([100, true, 1000, 1100, false]);
  });

  it("reads a start from when the interest began on its own clock, where the interested region's clock is ahead or behind (offsetMs)", async () => {
    const { master, clock, commit, sent } = await setupRegions();
    await commit('old', false);
    clock.advance(5000);
    await commit('new', false);
    const now = clock.now();
    // us's clock is 6 s ahead of ours, ap's 6 s behind: each began to want the channel now.
    master.regions.setRemoteInterest([
      { region: 'us', since: now + 6000, offsetMs: 6000 },
      { region: 'ap', since: now - 6000, offsetMs: -6000 },
    ]);
    const ids = (to: string) => sent.find((x) => x.to === to)!.batch.entries.list('eu', 'ep1').map((e) => (e.kind === 'message' ? e.message.id : ''));
    // From 2 s before now, on our clock: 'new' (read on us's clock, nothing; on ap's, 'old' too).
    expect(ids('us')).toEqual(['new']);
    expect(ids('ap')).toEqual(['new']);
  });

  it("asks for a start when another region's live batch comes before its stream began here, from when interest here began", async () => {
    const { master, clock } = await setupRegions();
    const began = clock.now(); // setup subscribed a node
    clock.advance(1000);
    const usEntry = { kind: 'message' as const, serial: 0, channelSerial: '', storedAt: 1, origin: { region: 'us', epoch: 'usep', seq: 3 }, message: { id: 'u3', timestamp: 0 } };
    const live: ForwardedBatch = { channel: KEY, region: 'us', epoch: 'usep', gapBefore: false, entries: ForwardedEntries.of([usEntry]) };
    expect(await master.regions.ingest(live)).toEqual({ seq: 0, replayAfter: null, startSince: began });
    // With nobody subscribed here, nothing is wanted.
    master.unsubscribe('n2');
    expect(await master.regions.ingest(live)).toEqual({ seq: 0, replayAfter: null });
  });

  it("asks for a start, and stores nothing, when a live batch is of another epoch than the stream from there here", async () => {
    const { master, replica, clock } = await setupRegions();
    const began = clock.now(); // setup subscribed a node
    const us = (epoch: string, seq: number) => ({ kind: 'message' as const, serial: 0, channelSerial: '', storedAt: 1, origin: { region: 'us', epoch, seq }, message: { id: `${epoch}-${seq}`, timestamp: 0 } });
    const stored = master.regions.ingest({ channel: KEY, region: 'us', epoch: 'new', startSeq: 0, gapBefore: false, entries: ForwardedEntries.of([us('new', 1), us('new', 2)]) });
    await waitFor(() => replica.waiting === 1);
    replica.answer(false);
    await stored;
    const serial = master.position().serial;
    // A batch of us's old epoch, held up somewhere: not taken as us restarting again.
    const old: ForwardedBatch = { channel: KEY, region: 'us', epoch: 'old', gapBefore: false, entries: ForwardedEntries.of([us('old', 7), us('old', 8)]) };
    expect(await master.regions.ingest(old)).toEqual({ seq: 0, replayAfter: null, startSince: began });
    expect([master.position().serial, replica.waiting, master.state.origins.get('us')?.epoch]).toEqual([serial, 0, 'new']);
  });

  it("says where its own stream stands (published only), and what it lacks behind another region's head", async () => {
    const { master, replica, clock, commit } = await setupRegions();
    const began = clock.now(); // setup subscribed a node
    expect(master.regions.ownHead()).toEqual({ epoch: 'ep1', seq: 0 });
    await commit('a', false);
    await commit('b', false);
    // A publish still replicating is not in the head yet.
    const c = publish(master, 'c');
    await waitFor(() => replica.waiting === 1);
    expect(master.regions.ownHead()).toEqual({ epoch: 'ep1', seq: 2 });
    replica.answer(false);
    await c;
    expect(master.regions.ownHead()).toEqual({ epoch: 'ep1', seq: 3 });
    // No stream from us here yet: its start, from when interest here began.
    expect(master.regions.behind('us', { epoch: 'usep', seq: 4 })).toEqual({ epoch: '', afterSeq: 0, since: began });
    const us = (seq: number) => ({ kind: 'message' as const, serial: 0, channelSerial: '', storedAt: 1, origin: { region: 'us', epoch: 'usep', seq }, message: { id: `u${seq}`, timestamp: 0 } });
    const stored = master.regions.ingest({ channel: KEY, region: 'us', epoch: 'usep', startSeq: 0, gapBefore: false, entries: ForwardedEntries.of([us(1), us(2)]) });
    await waitFor(() => replica.waiting === 1);
    replica.answer(false);
    await stored;
    expect(master.regions.behind('us', { epoch: 'usep', seq: 4 })).toEqual({ epoch: 'usep', afterSeq: 2 });
    expect(master.regions.behind('us', { epoch: 'usep', seq: 2 })).toBeNull();
    // us's stream restarted (a new epoch): all of the new one.
    expect(master.regions.behind('us', { epoch: 'usep2', seq: 1 })).toEqual({ epoch: 'usep2', afterSeq: 0 });
    // Nobody subscribed here and no stream from ap: nothing is wanted.
    master.unsubscribe('n2');
    expect(master.regions.behind('ap', { epoch: 'apep', seq: 9 })).toBeNull();
  });

  it('replicates when interest here begins and ends, with nothing else to carry', async () => {
    const { master, replica, clock } = await setupRegions();
    // setupRegions answered the replication of setup's subscribe: the state says since when.
    const began = clock.now();
    expect(master.state.interest.since).toBe(began);
    clock.advance(1000);
    master.subscribe('n3'); // interest goes on: nothing to tell
    master.unsubscribe('n2');
    await turn();
    expect(replica.waiting).toBe(0);
    master.unsubscribe('n3');
    await waitFor(() => replica.waiting === 1);
    expect([replica.calls, master.state.interest.since]).toEqual([[[]], 0]);
    replica.answer(false);
    // Begins again: from now, not from before.
    clock.advance(1000);
    master.subscribe('n2');
    await waitFor(() => replica.waiting === 1);
    expect([replica.calls.length, master.interestBegan]).toEqual([2, began + 2000]);
  });

  it('forgets what streams had to reach back to for clients from other regions once interest here ends', async () => {
    const { master } = await setupRegions();
    master.state.vectorRange([{ region: 'us', epoch: 'usep', seq: 6 }], 0);
    expect(master.state.origins.reachBackOf('us')).toBeDefined();
    master.subscribe('n3');
    master.unsubscribe('n2');
    expect(master.state.origins.reachBackOf('us')).toBeDefined();
    master.unsubscribe('n3');
    expect(master.state.origins.reachBackOf('us')).toBeUndefined();
  });

  it('replicates no interest change without other regions', async () => {
    const { master, replica } = setup();
    master.unsubscribe('n2');
    master.subscribe('n3');
    await turn();
    expect(replica.waiting).toBe(0);
  });

  describe('a master that took the channel over', () => {
    /** A master whose state came with interest since `since` (a snapshot or a replica's copy), made `after` ms later. */
    function takenOver(since: number, after: number) {
      const clock = new ManualClock();
      const st = ChannelState.fresh(KEY, settings, clock.now(), 'ep1');
      st.interest.set(since);
      const state = ChannelState.restore(st.snapshot(), settings);
      clock.advance(after);
      const replica = new HeldReplica();
      const master = new ChannelMaster(KEY, state, { now: () => clock.now(), sendBroadcast: () => undefined, replicate: replica.replicate, region: 'eu', toRegions: () => undefined });
      return { master, clock, replica };
    }

    it("keeps its predecessor's interest start for the subscribers coming back, and asks other regions from then", async () => {
      const { master, clock } = takenOver(5000, 10_000);
      clock.advance(1000);
      master.subscribe('n2');
      expect(master.interestBegan).toBe(5000);
      expect(master.regions.behind('us', { epoch: 'usep', seq: 3 })).toEqual({ epoch: '', afterSeq: 0, since: 5000 });
      // Interest ends and begins again: from then.
      master.unsubscribe('n2');
      clock.advance(1000);
      master.subscribe('n2');
      expect(master.interestBegan).toBe(clock.now());
    });

    it('takes it as handed over with its subscribers (a handoff or a claim)', () => {
      const { master } = takenOver(5000, 10_000);
      master.restoreSubscriber('n2');
      expect(master.interestBegan).toBe(5000);
      expect(master.regions.behind('us', { epoch: 'usep', seq: 3 })).toEqual({ epoch: '', afterSeq: 0, since: 5000 });
    });

    it('does not give it to a first subscriber long after the takeover (nobody came back)', () => {
      const { master, clock } = takenOver(5000, 10_000);
      clock.advance(31_000);
      master.subscribe('n2');
      expect(master.interestBegan).toBe(clock.now());
    });
  });

  it("keeps whose messages were lost with the point, and up to where: just before the first of that origin's after it", async () => {
    const { master, replica } = await setupRegions();
    const us = (seq: number) => ({ kind: 'message' as const, serial: 0, channelSerial: '', storedAt: 1, origin: { region: 'us', epoch: 'usep', seq }, message: { id: `u${seq}`, timestamp: 0 } });
    const ingest = async (startSeq: number, gapBefore: boolean, seqs: number[]) => {
      const stored = master.regions.ingest({ channel: KEY, region: 'us', epoch: 'usep', startSeq, gapBefore, entries: ForwardedEntries.of(seqs.map(us)) });
      await waitFor(() => replica.waiting === 1);
      replica.answer(false);
      return stored;
    };
    await ingest(0, false, [1, 2]);
    // us's history no longer held 3–5: its answer begins at 6.
    await ingest(5, true, [6, 7]);
    expect(master.state.gaps.all()).toEqual([{ serial: 3, error: expect.objectContaining({ code: 90003 }), origin: { region: 'us', epoch: 'usep', seq: 5 } }]);
  });

  it('replicates a start with no entries: the stream position it sets must survive a failover', async () => {
    const { master, replica } = await setupRegions();
    const stored = master.regions.ingest({ channel: KEY, region: 'us', epoch: 'usep', startSeq: 57, gapBefore: false, entries: ForwardedEntries.none });
    await waitFor(() => replica.waiting === 1);
    expect(replica.calls).toEqual([[]]);
    replica.answer(false);
    expect(await stored).toEqual({ seq: 57, replayAfter: null });
  });

  it('answers a start asked for (replayLocal since) as it would have sent it: the oldest page since then', async () => {
    const { master, clock, commit } = await setupRegions();
    await commit('old', false);
    clock.advance(5000);
    const since = clock.now();
    await commit('a', false);
    await commit('b', false);
    const r = master.regions.replayLocal('', 0, since);
    expect([r.startSeq, r.gap, r.entries.list('eu', 'ep1').map((e) => (e.kind === 'message' ? e.message.id : ''))]).toEqual([1, false, ['a', 'b']]);
  });

  it('takes over the interest a master that handed it the channel knew: no start again where it is old enough and unchanged', async () => {
    const { master, clock, sent } = await setupRegions();
    const now = clock.now();
    master.regions.inheritRemote([
      { region: 'us', since: now - 60_000 },
      { region: 'ap', since: now - 5_000 }, // too young: its start may not have arrived
      { region: 'sa', since: now - 60_000 },
    ]);
    // Live batches go to the regions it knows at once, before the globalmaster's word.
    expect(master.regions.remoteRegions.sort()).toEqual(['sa', 'us']);
    // The globalmaster's word: us as it was, ap, and sa whose interest began again since.
    master.regions.setRemoteInterest([
      { region: 'us', since: now - 60_000 },
      { region: 'ap', since: now - 5_000 },
      { region: 'sa', since: now - 1_000 },
    ]);
    expect(sent.filter((x) => x.to !== null).map((x) => x.to)).toEqual(['ap', 'sa']);
    // What it knows goes with its state (a handoff's snapshot); once told, a late handover changes nothing.
    expect(master.state.snapshot(false).remoteInterest).toEqual(master.regions.remoteInterest);
    master.regions.inheritRemote([{ region: 'au', since: now - 60_000 }]);
    expect(master.regions.remoteRegions.sort()).toEqual(['ap', 'sa', 'us']);
  });

  it('takes over from the state it is made from what the master before it knew of other regions', async () => {
    const { master, clock, sent } = await setupRegions();
    master.regions.setRemoteInterest([{ region: 'us', since: clock.now() }]);
    expect(sent.filter((x) => x.to !== null)).toHaveLength(1);
    clock.advance(60_000);
    const next = new ChannelMaster(KEY, ChannelState.restore(master.state.snapshot(), settings), {
      now: () => clock.now(),
      region: 'eu',
      toRegions: (batch, to) => void sent.push({ batch, to }),
      replicate: async () => ({ forwarded: false, broadcast: false }),
      sendBroadcast: () => undefined,
    });
    next.regions.setRemoteInterest([{ region: 'us', since: clock.now() - 60_000 }]);
    expect(sent.filter((x) => x.to !== null)).toHaveLength(1);
  });

  /** A master whose replications hand what they carry of the state's changes to `told` (as the real replicateBatch takes it). */
  function masterTelling(clock: ManualClock, state: ChannelState, starts: string[]) {
    const told: Unreplicated[] = [];
    const master = new ChannelMaster(KEY, state, {
      now: () => clock.now(),
      region: 'eu',
      toRegions: (_batch, to) => void (to !== null && starts.push(to)),
      replicate: async (m) => (told.push(takeUnreplicated(m.state)), { forwarded: false, broadcast: false }),
      sendBroadcast: () => undefined,
    });
    return { master, told };
  }

  it("tells the replica when other regions' interest changes (a replication with nothing else), not when the word is the same", async () => {
    const clock = new ManualClock();
    const { master, told } = masterTelling(clock, ChannelState.fresh(KEY, settings, clock.now(), 'ep1'), []);
    const us = [{ region: 'us', since: clock.now() }];
    master.regions.setRemoteInterest(us);
    await waitFor(() => told.length === 1);
    expect(told[0]).toEqual({ remoteInterest: us });
    // The same word again: nothing moved, nothing to tell.
    master.regions.setRemoteInterest([...us]);
    expect(hasUnreplicated(master.state)).toBe(false);
    // A region gone: the whole list (empty) goes.
    master.regions.setRemoteInterest([]);
    await waitFor(() => told.length === 2);
    expect(told[1]).toEqual({ remoteInterest: [] });
  });

  it('a replica promoted after the master died sends no start again to a region the master had told it of, but does to one too young', async () => {
    const clock = new ManualClock();
    const state = ChannelState.fresh(KEY, settings, clock.now(), 'ep1');
    // The replica's first sync, before any other region wanted the channel.
    const replicaState = ChannelState.restore(state.snapshot(), settings);
    const starts: string[] = [];
    const { master, told } = masterTelling(clock, state, starts);
    master.regions.setRemoteInterest([{ region: 'us', since: clock.now() }]);
    await waitFor(() => told.length === 1);
    expect(starts).toEqual(['us']);
    clock.advance(60_000);
    master.regions.setRemoteInterest([
      { region: 'us', since: clock.now() - 60_000 },
      { region: 'ap', since: clock.now() },
    ]);
    await waitFor(() => told.length === 2);
    expect(starts).toEqual(['us', 'ap']);
    // The replica applies what it was told (applyReplicate does so), then the master dies.
    for (const t of told) applyUnreplicated(replicaState, t);
    clock.advance(5_000);
    const promoted = masterTelling(clock, replicaState, starts).master;
    // The globalmaster's word to the new master: the same regions, since the same times.
    promoted.regions.setRemoteInterest([
      { region: 'us', since: clock.now() - 65_000 },
      { region: 'ap', since: clock.now() - 5_000 },
    ]);
    // us's start (65 s old) must have arrived; ap's (5 s) may not have: it goes again.
    expect(starts).toEqual(['us', 'ap', 'ap']);
  });

  it("keeps the interest of regions the globalmaster has not heard from yet, and sends them no start again", async () => {
    const { master, clock, sent } = await setupRegions();
    master.regions.setRemoteInterest([{ region: 'us', since: clock.now() }, { region: 'ap', since: clock.now() }]);
    expect(sent.filter((x) => x.to !== null).map((x) => x.to)).toEqual(['us', 'ap']);
    // A new globalmaster that has heard from ap only: us is kept as it was.
    master.regions.setRemoteInterest([{ region: 'ap', since: clock.now() }], ['us']);
    expect(master.regions.remoteRegions.sort()).toEqual(['ap', 'us']);
    // Then it hears from us: still known, so no second start.
    master.regions.setRemoteInterest([{ region: 'ap', since: clock.now() }, { region: 'us', since: clock.now() }]);
    expect(sent.filter((x) => x.to !== null).map((x) => x.to)).toEqual(['us', 'ap']);
    // A region kept that it later hears no longer wants the channel goes.
    master.regions.setRemoteInterest([{ region: 'ap', since: clock.now() }]);
    expect(master.regions.remoteRegions).toEqual(['ap']);
  });
});

describe('ChannelMaster: behind what others have seen of its epoch', () => {
  it('counts a batch it is replicating as held (its replica may already have sent it to other regions), and nothing beyond it', async () => {
    const { master, replica } = setup();
    const acked = publish(master, 'a');
    await turn();
    expect(replica.waiting).toBe(1);
    expect(master.position().serial).toBe(0);
    // Serial 1 and own seq 1 are held, not yet published: no one who has seen them finds this master behind.
    expect(master.behindSeen({ epoch: 'ep1', serial: 1 })).toBe(false);
    expect(master.regions.behindOwn('ep1', 1)).toBe(false);
    expect(master.behindSeen({ epoch: 'ep1', serial: 2 })).toBe(true);
    expect(master.regions.behindOwn('ep1', 2)).toBe(true);
    // Another epoch is another matter (a restart the client has not heard of yet).
    expect(master.behindSeen({ epoch: 'ep0', serial: 9 })).toBe(false);
    expect(master.regions.behindOwn('ep0', 9)).toBe(false);
    replica.answer();
    await acked;
  });
});

describe('ChannelMaster: the replica broadcasts for it', () => {
  /** A master on n1 with a held replica, nodes n1, n2 and n3 subscribed, and every broadcast recorded with its node. */
  function onN1() {
    const clock = new ManualClock();
    const replica = new HeldReplica();
    const sent: { to: string; serials: number[]; code: number | null; at?: number }[] = [];
    const master = new ChannelMaster(KEY, ChannelState.fresh(KEY, settings, clock.now(), 'ep1'), {
      now: () => clock.now(),
      self: 'n1',
      sendBroadcast: (to, msg) => void sent.push({ to, serials: msg.entries.map((e) => e.serial), code: msg.discontinuity?.code ?? null, ...(msg.gapAt !== undefined ? { at: msg.gapAt } : {}) }),
      replicate: replica.replicate,
    });
    for (const n of ['n1', 'n2', 'n3']) master.subscribe(n);
    return { master, replica, sent };
  }

  it('asks the replica to tell every subscribing node but its own, and then tells only its own and those that subscribed (again) meanwhile', async () => {
    const { master, replica, sent } = onN1();
    const acked = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    expect(replica.asked).toEqual([{ to: ['n2', 'n3'], said: null, subscribes: 3 }]);
    master.subscribe('n4'); // after the replica was asked
    master.subscribe('n3'); // again (restarted, say): the replica's sending may not reach its new life
    replica.answer(false, true);
    await acked;
    expect(sent).toEqual([
      { to: 'n1', serials: [1], code: null },
      { to: 'n3', serials: [1], code: null },
      { to: 'n4', serials: [1], code: null },
    ]);
    expect(master.position().serial).toBe(1);
  });

  it('tells every node itself when the replica did not broadcast (an older build, a full sync)', async () => {
    const { master, replica, sent } = onN1();
    const acked = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    replica.answer(false, false);
    await acked;
    expect(sent.map((s) => s.to)).toEqual(['n1', 'n2', 'n3']);
  });

  it('asks the replica to say a loss first, also one with no entry and one said again with the first entry after it', async () => {
    const { master, replica, sent } = onN1();
    const gap = AblyError.of('channelMessagesExpired', 'lost').toInfo();
    const word = master.enqueue([], [], { error: gap });
    await waitFor(() => replica.waiting === 1);
    // It goes before serial 1 (the next entry): a node past it when a second copy comes is not told again.
    expect(replica.asked[0]).toEqual({ to: ['n2', 'n3'], said: { serial: 1, error: gap }, subscribes: 3 });
    replica.answer(false, true);
    await word;
    const next = publish(master, 'b');
    await waitFor(() => replica.waiting === 1);
    expect(replica.asked[1]).toEqual({ to: ['n2', 'n3'], said: { serial: 1, error: gap }, subscribes: 3 });
    replica.answer(false, true);
    await next;
    expect(sent).toEqual([
      { to: 'n1', serials: [], code: 90003, at: 1 },
      { to: 'n1', serials: [1], code: 90003 },
    ]);
  });

  it('asks nothing of the replica with no other node subscribed', async () => {
    const { master, replica } = onN1();
    master.unsubscribe('n2');
    master.unsubscribe('n3');
    const acked = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    expect(replica.asked).toEqual([null]);
    replica.answer();
    await acked;
  });

  it('answers a node that has seen a batch the replica broadcast only once that batch is published here', async () => {
    const { master, replica } = onN1();
    const acked = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    let caughtUp = false;
    const waiting = master.publishedTo({ epoch: 'ep1', serial: 1 }).then((reached) => (caughtUp = reached));
    await turn();
    expect(caughtUp).toBe(false);
    replica.answer(false, true);
    await waiting;
    expect(master.position().serial).toBe(1);
    await acked;
    // Published, another epoch, or beyond what it holds (lost state: restartBehind's case): at once.
    for (const seen of [{ epoch: 'ep1', serial: 1 }, { epoch: 'ep0', serial: 9 }, { epoch: 'ep1', serial: 5 }]) expect(await master.publishedTo(seen)).toBe(true);
  });

  it("gives up such a wait after a while (the replica's replies lost again and again), and the asker tries again", async () => {
    const { master, replica } = onN1();
    const acked = publish(master, 'a');
    await waitFor(() => replica.waiting === 1);
    expect(await master.publishedTo({ epoch: 'ep1', serial: 1 }, 20)).toBe(false);
    replica.answer(false, true);
    await acked;
    expect(await master.publishedTo({ epoch: 'ep1', serial: 1 }, 20)).toBe(true);
  });

  it('fails such a wait when it stops first', async () => {
    const { master, replica } = onN1();
    const acked = publish(master, 'a').catch((e: unknown) => e);
    await waitFor(() => replica.waiting === 1);
    const waiting = master.publishedTo({ epoch: 'ep1', serial: 1 });
    const reason = AblyError.of('channelFailed', 'master moved');
    const stopping = master.stop(reason);
    replica.answer(false, true);
    await stopping;
    await expect(waiting).rejects.toBe(reason);
    expect(await acked).toBe(reason);
  });
});
