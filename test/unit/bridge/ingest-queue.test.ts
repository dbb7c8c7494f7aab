import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { IngestQueue } from '../../../src/bridge/ingest-queue.js';
import { ForwardedEntries, MAX_MERGED_ENTRIES } from '../../../src/transport/entry-lists.js';
import type { ForwardedBatch } from '../../../src/transport/messages.js';

const REGION = 'eu';
const EPOCH = 'ep1';

/** Entries with origin seqs from+1 … from+n, as they come over the region link (bytes). */
function entries(from: number, n: number, data?: string): ForwardedEntries {
  const list: LogEntry[] = [];
  for (let i = 1; i <= n; i++) {
    const seq = from + i;
    list.push({
      kind: 'message',
      serial: seq,
      channelSerial: `${REGION}~${EPOCH}~${seq}`,
      storedAt: 1_000 + seq,
      origin: { region: REGION, epoch: EPOCH, seq },
      message: { id: `m${seq}`, data: data ?? `d${seq}`, timestamp: 1_000 + seq },
    });
  }
  const sent = ForwardedEntries.of(list);
  return ForwardedEntries.fromBytes(sent.encoded(), sent.length, sent.lastSeq);
}

function batch(channel: string, from: number, n: number, extra: Partial<ForwardedBatch> = {}, data?: string): ForwardedBatch {
  return { channel, region: REGION, epoch: EPOCH, gapBefore: false, entries: entries(from, n, data), ...extra };
}

/** A master whose answers the test releases one at a time; records what each ingest held. */
function heldMaster() {
  const ingested: { session: string; channel: string; startSeq?: number; gapBefore: boolean; seqs: number[] }[] = [];
  const pending: (() => void)[] = [];
  const q = new IngestQueue<string>((session, b) => {
    const seqs = b.entries.list(b.region, b.epoch).map((e) => e.origin.seq);
    if (seqs.length !== b.entries.length || (seqs.at(-1) ?? 0) !== b.entries.lastSeq) throw new Error('count or last seq wrong');
    ingested.push({ session, channel: b.channel, startSeq: b.startSeq, gapBefore: b.gapBefore, seqs });
    return new Promise<void>((r) => pending.push(r));
  });
  const answer = async () => {
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { q, ingested, pending, answer };
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i + 1);

describe('IngestQueue', () => {
  it('sends one batch per channel at a time and joins those that waited into one, entries in order', async () => {
    const { q, ingested, answer } = heldMaster();
    q.push('s1', REGION, batch('a', 0, 2, { startSeq: 0 }));
    q.push('s1', REGION, batch('a', 2, 3));
    q.push('s1', REGION, batch('a', 5, 1));
    q.push('s1', REGION, batch('b', 0, 1)); // another channel does not wait
    expect(ingested.map((i) => [i.channel, i.seqs])).toEqual([
      ['a', [1, 2]],
      ['b', [1]],
    ]);
    expect(q.active).toBe(2);
    await answer();
    expect(ingested[2]).toEqual({ session: 's1', channel: 'a', startSeq: undefined, gapBefore: false, seqs: [3, 4, 5, 6] });
    await answer();
    await answer();
    expect(q.active).toBe(0);
  });

  it('joins a replay page that starts where the batch before it ends, keeping the first start', async () => {
    const { q, ingested, answer } = heldMaster();
    q.push('s1', REGION, batch('a', 0, 1));
    q.push('s1', REGION, batch('a', 10, 5, { startSeq: 10 }));
    q.push('s1', REGION, batch('a', 15, 5, { startSeq: 15 }));
    await answer();
    expect(ingested[1]).toMatchObject({ startSeq: 10, seqs: range(10, 10) });
  });

  it('joins no more than 4 MB of entries', async () => {
    const { q, ingested, answer } = heldMaster();
    const big = 'x'.repeat(1_500_000);
    q.push('s1', REGION, batch('a', 0, 1));
    for (let i = 1; i <= 3; i++) q.push('s1', REGION, batch('a', i, 1, {}, big));
    await answer();
    await answer();
    expect(ingested.map((i) => i.seqs)).toEqual([[1], [2, 3], [4]]);
    await answer();
    expect(q.active).toBe(0);
  });

  it('does not join a live batch that does not follow on (a start cut short: the master must see the hole)', async () => {
    const { q, ingested, answer } = heldMaster();
    q.push('s1', REGION, batch('a', 0, 1));
    q.push('s1', REGION, batch('a', 100, 3, { startSeq: 100 })); // a start's first page
    q.push('s1', REGION, batch('a', 500, 2)); // live, far beyond the page
    q.push('s1', REGION, batch('a', 502, 1));
    for (let i = 0; i < 3; i++) await answer();
    expect(ingested.map((i) => [i.seqs[0], i.seqs.length, i.startSeq])).toEqual([
      [1, 1, undefined],
      [101, 3, 100],
      [501, 3, undefined],
    ]);
  });

  it('does not join across a gap, a new epoch, a start elsewhere, another session or the size bound', async () => {
    const { q, ingested, answer } = heldMaster();
    q.push('s1', REGION, batch('a', 0, 1));
    q.push('s1', REGION, batch('a', 1, 1));
    q.push('s1', REGION, batch('a', 5, 1, { gapBefore: true })); // gap
    q.push('s1', REGION, batch('a', 6, 1));
    q.push('s1', REGION, batch('a', 0, 1, { epoch: 'ep2', startSeq: 0 })); // new epoch
    q.push('s1', REGION, batch('a', 20, 1, { epoch: 'ep2', startSeq: 20 })); // restarts elsewhere
    q.push('s2', REGION, batch('a', 21, 1, { epoch: 'ep2' })); // a new session of the link
    q.push('s2', REGION, batch('a', 22, MAX_MERGED_ENTRIES));
    for (let i = 0; i < 7; i++) await answer();
    expect(ingested.map((i) => [i.session, i.seqs.length, i.seqs[0], i.gapBefore, i.startSeq])).toEqual([
      ['s1', 1, 1, false, undefined],
      ['s1', 1, 2, false, undefined],
      ['s1', 2, 6, true, undefined],
      ['s1', 1, 1, false, 0],
      ['s1', 1, 21, false, 20],
      ['s2', 1, 22, false, undefined],
      ['s2', MAX_MERGED_ENTRIES, 23, false, undefined],
    ]);
  });
});
