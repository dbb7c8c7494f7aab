/**
 * Another region's forwarded batches on their way to this region's channel masters. Per
 * (region, channel) they go in order, one ingest in flight at a time; the batches
 * that arrive meanwhile are joined into one (their ForwardedEntryLists concatenated as
 * bytes, which protobuf reads as one list). So a channel's stream from another region
 * keeps up however long a master takes to store a batch (its replication round trip),
 * and a catch-up's pages reach the master in fewer, larger ingests.
 */
import { ForwardedEntries, MAX_MERGED_BYTES, MAX_MERGED_ENTRIES } from '../transport/entry-lists.js';
import type { ForwardedBatch } from '../transport/messages.js';

/**
 * Whether `next` continues `batch` (the join so far holding `entries` entries in
 * `bytes`) with nothing between them: same epoch, no gap, and its first entry right
 * after `batch`'s last (a batch's entries are its origin's, at consecutive seqs), as is
 * its start if it has one. (The master checks continuity at a batch's first entry only:
 * joined over a hole, the hole would go unseen.)
 */
function continues(batch: ForwardedBatch, entries: number, bytes: number, next: ForwardedBatch): boolean {
  // (A start's members apply where it begins: not in the middle of a join.)
  if (next.epoch !== batch.epoch || next.gapBefore || next.members || batch.entries.length === 0 || next.entries.length === 0) return false;
  if (next.startSeq !== undefined && next.startSeq !== batch.entries.lastSeq) return false;
  if (next.entries.lastSeq - next.entries.length !== batch.entries.lastSeq) return false;
  return entries + next.entries.length <= MAX_MERGED_ENTRIES && bytes + next.entries.encoded().length <= MAX_MERGED_BYTES;
}

/** The batches as one: the first's start and gap, all their entries in order. */
function joinBatches(batches: readonly ForwardedBatch[]): ForwardedBatch {
  const first = batches[0]!;
  if (batches.length === 1) return first;
  const last = batches[batches.length - 1]!;
  const count = batches.reduce((n, b) => n + b.entries.length, 0);
  const bytes = Buffer.concat(batches.map((b) => b.entries.encoded()));
  const entries = ForwardedEntries.fromBytes(bytes, count, last.entries.lastSeq);
  return {
    channel: first.channel,
    region: first.region,
    epoch: first.epoch,
    startSeq: first.startSeq,
    gapBefore: first.gapBefore,
    entries,
    ...(first.members ? { members: first.members } : {}),
  };
}

interface Item<S> {
  session: S;
  batch: ForwardedBatch;
}

export class IngestQueue<S> {
  /** Batches waiting behind the ingest in flight, per queue key (present while one is in flight). */
  private readonly waiting = new Map<string, Item<S>[]>();

  /** `ingest` stores one batch (from `session`) at its master; it must not reject. */
  constructor(private readonly ingest: (session: S, batch: ForwardedBatch) => Promise<void>) {}

  /** Queues a batch that came over `session` from region `region`. */
  push(session: S, region: string, batch: ForwardedBatch): void {
    const key = `${region}\u0000${batch.channel}`;
    const q = this.waiting.get(key);
    if (q) {
      q.push({ session, batch });
      return;
    }
    this.waiting.set(key, []);
    void this.run(key, { session, batch });
  }

  /** Whether a batch of `region`'s on `channel` is being stored (or waits to be). */
  busy(region: string, channel: string): boolean {
    return this.waiting.has(`${region}\u0000${channel}`);
  }

  /** Channels with an ingest in flight. */
  get active(): number {
    return this.waiting.size;
  }

  private async run(key: string, first: Item<S>): Promise<void> {
    for (let item: Item<S> | null = first; item; item = this.take(key)) await this.ingest(item.session, item.batch);
    this.waiting.delete(key);
  }

  /** The next batch to ingest: the first waiting, joined with those that continue it over the same session. */
  private take(key: string): Item<S> | null {
    const q = this.waiting.get(key)!;
    const first = q.shift();
    if (!first) return null;
    const parts = [first.batch];
    let entries = first.batch.entries.length;
    let bytes = q.length ? first.batch.entries.encoded().length : 0;
    while (q.length && q[0]!.session === first.session && continues(parts[parts.length - 1]!, entries, bytes, q[0]!.batch)) {
      const next = q.shift()!.batch;
      parts.push(next);
      entries += next.entries.length;
      bytes += next.entries.encoded().length;
    }
    return { session: first.session, batch: joinBatches(parts) };
  }
}
