import { describe, expect, it, vi } from 'vitest';
import { fromPb, toPb } from '../../../src/bridge/codec.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import * as regionPb from '../../../src/gen/region.pb.js';
import { entryListCodec } from '../../../src/transport/entry-codec.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import { encodeLogEntries, ForwardedEntries, SnapshotEntries } from '../../../src/transport/entry-lists.js';
import type { ForwardedBatch, NodeMessage } from '../../../src/transport/messages.js';
import { decodeNodeMessage, encodeNodeMessage } from '../../../src/transport/node-codec.js';

const NOW = 1_700_000_000_000;

/** Entries of region eu (epoch e1), as its master stores them: seqs 11, 12, 13. */
function euEntries(): LogEntry[] {
  return [
    {
      kind: 'message',
      serial: 101,
      channelSerial: 'eu~e1~101',
      storedAt: NOW,
      origin: { region: 'eu', epoch: 'e1', seq: 11 },
      message: { id: 'c:1:0', name: 'n', clientId: 'alice', connectionId: 'c', data: 'héllo', encoding: 'utf-8', extras: { headers: { a: 'b' } }, timestamp: NOW - 1 },
    },
    {
      kind: 'message',
      serial: 102,
      channelSerial: 'eu~e1~102',
      storedAt: NOW + 1,
      origin: { region: 'eu', epoch: 'e1', seq: 12 },
      message: { id: 'c:2:0', data: Buffer.from([0, 255, 7]), timestamp: NOW },
    },
    {
      kind: 'presence',
      serial: 103,
      channelSerial: 'eu~e1~103',
      storedAt: NOW + 2,
      origin: { region: 'eu', epoch: 'e1', seq: 13 },
      host: 'eu-n2',
      presence: { id: 'c:3:0', action: 2, clientId: 'alice', connectionId: 'c', data: 'here', timestamp: NOW + 2 },
    },
  ];
}

/** What the receiving region's master gets: origin kept, serials are its own to give, host dropped. */
function asForwarded(e: LogEntry): LogEntry {
  return e.kind === 'message'
    ? { kind: 'message', serial: 0, channelSerial: '', storedAt: e.storedAt, origin: e.origin, message: e.message }
    : { kind: 'presence', serial: 0, channelSerial: '', storedAt: e.storedAt, origin: e.origin, presence: e.presence, host: '' };
}

function nodeRoundTrip(msg: NodeMessage): NodeMessage {
  return decodeNodeMessage(Uint8Array.from(encodeNodeMessage(msg)));
}

function batchOf(entries: ForwardedEntries): ForwardedBatch {
  return { channel: 'app:ch', region: 'eu', epoch: 'e1', startSeq: 10, gapBefore: false, entries };
}

describe('entries forwarded between regions', () => {
  it('travel master → globalmaster → region link → globalmaster → master and decode once, at the end, with their origin', () => {
    const original = euEntries();
    // The eu master's batch to its globalmaster (toRegions), over the mesh.
    const toGm = nodeRoundTrip({ type: 'toRegions', batch: batchOf(ForwardedEntries.of(original)), to: null });
    if (toGm.type !== 'toRegions') throw new Error('wrong type');
    expect([toGm.to, toGm.more]).toEqual([null, undefined]);
    // A start in pages says so; only to one region.
    const start = nodeRoundTrip({ type: 'toRegions', batch: batchOf(ForwardedEntries.of(original)), to: 'us', more: true });
    expect(start).toMatchObject({ type: 'toRegions', to: 'us', more: true });
    // A region that wants a start asks for it over the link with the time its interest began.
    for (const ask of [
      { type: 'replay' as const, id: 3, channel: 'app:ch', epoch: 'e1', afterSeq: 40 },
      { type: 'replay' as const, id: 4, channel: 'app:ch', epoch: '', afterSeq: 0, since: 1_796_000_000_123 },
      // Where quiet channels' streams stand, for the receiver to ask for what it lacks.
      { type: 'heads' as const, heads: [{ channel: 'app:ch', epoch: 'e1', seq: 41 }, { channel: 'app:other', epoch: 'e2', seq: 1 }] },
    ]) {
      expect(fromPb(regionPb.LinkFrame.decode(regionPb.LinkFrame.encode(toPb(ask)).finish()), 'us')).toStrictEqual(ask);
    }
    const sentBytes = toGm.batch.entries.encoded();
    const decodes = vi.spyOn(entryListCodec, 'decodeForwardedEntryList');
    const encodes = vi.spyOn(entryListCodec, 'encodeForwardedEntryList');
    // The eu globalmaster writes it on the region link: the very bytes it received.
    const out = toPb({ type: 'forward', batch: toGm.batch, replyTo: 0, toRegion: null });
    if (out.frame?.$case !== 'forward') throw new Error('wrong frame');
    expect(out.frame.forward.entries).toBe(sentBytes);
    // The us globalmaster reads it and passes on the bytes it read.
    const frame = regionPb.LinkFrame.decode(regionPb.LinkFrame.encode(out).finish());
    if (frame.frame?.$case !== 'forward') throw new Error('wrong frame');
    const got = fromPb(frame, 'eu');
    if (got.type !== 'forward') throw new Error('wrong type');
    expect(got.batch.entries.length).toBe(3);
    expect(got.batch.entries.lastSeq).toBe(13);
    // The very bytes it read: a view of them, not a copy.
    const read = frame.frame.forward.entries;
    const passed = got.batch.entries.encoded();
    expect(passed.buffer).toBe(read.buffer);
    expect([passed.byteOffset, passed.byteLength]).toEqual([read.byteOffset, read.byteLength]);
    expect(Buffer.compare(got.batch.entries.encoded(), sentBytes)).toBe(0);
    // Neither globalmaster decoded or encoded an entry.
    expect(decodes).not.toHaveBeenCalled();
    expect(encodes).not.toHaveBeenCalled();
    // The us globalmaster asks its master to ingest it, over the mesh.
    const ingest = nodeRoundTrip({ type: 'ingest', rid: 5, batch: got.batch });
    if (ingest.type !== 'ingest') throw new Error('wrong type');
    expect(ingest.batch).toMatchObject({ channel: 'app:ch', region: 'eu', epoch: 'e1', startSeq: 10, gapBefore: false });
    expect(ingest.batch.entries.list(ingest.batch.region, ingest.batch.epoch)).toStrictEqual(original.map(asForwarded));
    // Decoded once, by the master, and never encoded again on the way.
    expect(decodes).toHaveBeenCalledTimes(1);
    expect(encodes).not.toHaveBeenCalled();
    decodes.mockRestore();
    encodes.mockRestore();
  });

  it('answer a replay (the local reply) as bytes the globalmaster forwards unchanged', () => {
    const original = euEntries();
    const reply = nodeRoundTrip({ type: 'reply', rid: 9, body: { kind: 'local', epoch: 'e1', startSeq: 10, gap: true, entries: ForwardedEntries.of(original) } });
    if (reply.type !== 'reply' || reply.body.kind !== 'local') throw new Error('wrong type');
    expect(reply.body).toMatchObject({ epoch: 'e1', startSeq: 10, gap: true });
    expect(reply.body.entries.lastSeq).toBe(13);
    const frame = regionPb.LinkFrame.decode(
      regionPb.LinkFrame.encode(toPb({ type: 'forward', batch: batchOf(reply.body.entries), replyTo: 4, toRegion: 'us' })).finish(),
    );
    const got = fromPb(frame, 'eu');
    if (got.type !== 'forward') throw new Error('wrong type');
    expect(got.replyTo).toBe(4);
    expect(got.batch.entries.list(got.batch.region, got.batch.epoch)).toStrictEqual(original.map(asForwarded));
  });

  it('an empty list round-trips with no last seq', () => {
    const back = nodeRoundTrip({ type: 'reply', rid: 1, body: { kind: 'local', epoch: '', startSeq: 3, gap: false, entries: ForwardedEntries.none } });
    if (back.type !== 'reply' || back.body.kind !== 'local') throw new Error('wrong type');
    expect(back.body.entries.length).toBe(0);
    expect(back.body.entries.lastSeq).toBe(0);
    expect(back.body.entries.list('eu', '')).toEqual([]);
  });

  it('bytes that do not hold what the batch says are refused when decoded', () => {
    const bytes = ForwardedEntries.of(euEntries()).encoded();
    // The origin region and epoch are the batch's, given when decoding.
    expect(ForwardedEntries.fromBytes(bytes, 3, 13).list('ap', 'e9').map((e) => e.origin)).toEqual([11, 12, 13].map((seq) => ({ region: 'ap', epoch: 'e9', seq })));
    expect(() => ForwardedEntries.fromBytes(bytes, 2, 13).list('eu', 'e1')).toThrow(/count or last seq/);
    expect(() => ForwardedEntries.fromBytes(bytes, 3, 12).list('eu', 'e1')).toThrow(/count or last seq/);
    expect(() => ForwardedEntries.fromBytes(Buffer.from([0x0a, 0x50, 1]), 1, 1).list('eu', 'e1')).toThrow();
  });
});

describe('a master batch (replicate and broadcast)', () => {
  it('is encoded once for the replica and every subscribing node', () => {
    const batch = euEntries();
    const first = encodeLogEntries(batch);
    expect(encodeLogEntries(batch)).toBe(first);
    const replicate = nodeRoundTrip({ type: 'replicate', rid: 2, channel: 'app:ch', epoch: 'e1', entries: batch, holds: [] });
    const broadcast = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: batch });
    if (replicate.type !== 'replicate' || broadcast.type !== 'broadcast') throw new Error('wrong type');
    expect(replicate.entries).toStrictEqual(batch);
    expect(broadcast.entries).toStrictEqual(batch);
    // Another array with the same entries is encoded afresh (equal bytes, another buffer).
    const again = encodeLogEntries([...batch]);
    expect(again).not.toBe(first);
    expect(Buffer.compare(again, first)).toBe(0);
  });
});

describe('a batch received twice by the replica (replicate, then broadcast)', () => {
  it('is decoded once: the broadcast gets the entries the replicate decoded', () => {
    const batch = euEntries().map((e) => ({ ...e, channelSerial: `${e.channelSerial}-twice` }));
    const replicate = nodeRoundTrip({ type: 'replicate', rid: 3, channel: 'app:ch', epoch: 'e1', entries: batch, holds: [] });
    const broadcast = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: batch });
    if (replicate.type !== 'replicate' || broadcast.type !== 'broadcast') throw new Error('wrong type');
    expect(broadcast.entries).toBe(replicate.entries);
    expect(broadcast.entries).toStrictEqual(batch);
    // Other bytes of the same length decode afresh.
    const other = batch.map((e) => ({ ...e, channelSerial: e.channelSerial.replace('twice', 'other') }));
    const third = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: other });
    if (third.type !== 'broadcast') throw new Error('wrong type');
    expect(third.entries).not.toBe(replicate.entries);
    expect(third.entries).toStrictEqual(other);
    // Kept only until that broadcast: the same bytes again decode afresh.
    const again = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: batch });
    if (again.type !== 'broadcast') throw new Error('wrong type');
    expect(again.entries).not.toBe(replicate.entries);
    expect(again.entries).toStrictEqual(batch);
  });

  it('does not keep a replicated batch of more than 4 MB', () => {
    const big = euEntries().map((e, i) => (e.kind === 'message' ? { ...e, message: { ...e.message, data: `${i}`.repeat(2 * 1024 * 1024) } } : e));
    const replicate = nodeRoundTrip({ type: 'replicate', rid: 4, channel: 'app:ch', epoch: 'e1', entries: big, holds: [] });
    const broadcast = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: big });
    if (replicate.type !== 'replicate' || broadcast.type !== 'broadcast') throw new Error('wrong type');
    expect(broadcast.entries).not.toBe(replicate.entries);
    expect(broadcast.entries).toStrictEqual(replicate.entries);
  });

  it('keeps nothing a node only broadcasts to (no replicate first)', () => {
    const batch = euEntries().map((e) => ({ ...e, channelSerial: `${e.channelSerial}-bcast` }));
    const first = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: batch });
    const second = nodeRoundTrip({ type: 'broadcast', channel: 'app:ch', epoch: 'e1', entries: batch });
    if (first.type !== 'broadcast' || second.type !== 'broadcast') throw new Error('wrong type');
    expect(second.entries).not.toBe(first.entries);
    expect(second.entries).toStrictEqual(first.entries);
  });
});

describe("a snapshot's entries", () => {
  const settings: ChannelSettings = { region: 'eu', historyMs: 600_000, dedupMs: 120_000, maxMessages: 1000 };
  const message = (i: number) => ({ id: `c:${i}:0`, name: 'n', connectionId: 'c', data: `d${i}`, timestamp: NOW + i });

  it('leave the sender as the bytes its log holds, and are kept by the receiver that restores them without being decoded', () => {
    const st = ChannelState.fresh('app:ch', settings, NOW);
    const stored = [...st.accept([message(1), message(2)], NOW).entries, ...st.accept([message(3)], NOW + 1).entries];
    const storedBytes = entryListCodec.encodeLogEntryList(stored);
    const decodes = vi.spyOn(entryListCodec, 'decodeLogEntryList');
    const encodes = vi.spyOn(entryListCodec, 'encodeLogEntryList');
    try {
      const snapshot = st.snapshot();
      const sent = nodeRoundTrip({ type: 'sync', rid: 1, channel: 'app:ch', snapshot, role: 'handoff' });
      if (sent.type !== 'sync') throw new Error('wrong type');
      // A claim reads where a copy stands: its count, without decoding it.
      expect(sent.snapshot.entries.length).toBe(3);
      expect(decodes).not.toHaveBeenCalled();
      expect(encodes).not.toHaveBeenCalled();
      expect(Buffer.compare(sent.snapshot.entries.encoded(), storedBytes)).toBe(0);
      // The receiver that installs it keeps its bytes, read only as far as its log needs.
      const restored = ChannelState.restore(sent.snapshot, settings);
      expect(decodes).not.toHaveBeenCalled();
      expect(encodes).not.toHaveBeenCalled();
      expect(Buffer.compare(restored.snapshot().entries.encoded(), storedBytes)).toBe(0);
      expect(restored.position()).toEqual(st.position());
      expect(restored.hasOrdered('c:2:0')).toBe(true);
      expect(restored.range(0)).toStrictEqual(stored);
    } finally {
      decodes.mockRestore();
      encodes.mockRestore();
    }
  });

  it('are none for a state without entries, or one asked only where it stands', () => {
    const st = ChannelState.fresh('app:ch', settings, NOW);
    expect(st.snapshot().entries).toBe(SnapshotEntries.none);
    st.accept([message(1)], NOW);
    expect(st.snapshot(false).entries).toBe(SnapshotEntries.none);
    expect(SnapshotEntries.none.encoded().length).toBe(0);
    expect(SnapshotEntries.fromBytes(Buffer.alloc(0))).toBe(SnapshotEntries.none);
  });

  it('refuse bytes that are not as many entries as said, and count a list with fields a later version may add by decoding it', () => {
    const bytes = encodeLogEntries(euEntries());
    expect(SnapshotEntries.fromBytes(bytes).length).toBe(3);
    expect(() => SnapshotEntries.fromBytes(bytes, 4).list()).toThrow(/do not match their count \(3 of 4\)/);
    // A field 2 of the list (varint 7) after the entries: skipped by the decoder, not counted as an entry.
    const later = Buffer.concat([bytes, Buffer.from([(2 << 3) | 0, 7])]);
    const counted = SnapshotEntries.fromBytes(later);
    expect(counted.length).toBe(3);
    expect(counted.list()).toStrictEqual(euEntries());
  });
});
