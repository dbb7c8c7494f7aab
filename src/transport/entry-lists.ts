/**
 * Lists of channel entries as they travel between nodes and regions, encoded once.
 *
 * - A master's batch goes to its replica (ReplicateRequest) and to every subscribing
 *   node (Broadcast): the same array, encoded once for all of them
 *   (`encodeLogEntries` remembers the bytes of an array it has encoded).
 * - Messages forwarded to another region (`ForwardedEntries`) are encoded by the origin
 *   region's master, pass through both globalmasters and the region link as bytes, and
 *   are decoded only by the receiving region's master. Decoding and re-encoding them at
 *   each globalmaster cost about a third of the CPU of a catch-up after a partition.
 */
import type { LogEntry } from '../channel/entry.js';
import { entryListCodec } from './entry-codec.js';
import { asBuffer } from './wire.js';

/**
 * Entries that travel as one list after being merged (a master's group commit, a
 * globalmaster's joined ingest): at most this many, and about this many bytes, well
 * inside a node frame. A catch-up page is 1,000 entries.
 */
export const MAX_MERGED_ENTRIES = 4000;
export const MAX_MERGED_BYTES = 4 * 1024 * 1024;

/**
 * The LogEntryList bytes of arrays of entries, where they are known: encoded here,
 * decoded from (a replicated batch, a snapshot's entries), or held by a channel log (a
 * master's batch, a snapshot it gave). An array is never changed once its bytes are known.
 */
const encodedLists = new WeakMap<readonly LogEntry[], Buffer>();

/** A LogEntryList of these entries (the bytes are remembered for this array). */
export function encodeLogEntries(entries: readonly LogEntry[]): Buffer {
  let bytes = encodedLists.get(entries);
  if (!bytes) {
    bytes = entryListCodec.encodeLogEntryList(entries);
    encodedLists.set(entries, bytes);
  }
  return bytes;
}

/** Remembers `bytes` as the LogEntryList of `entries` (exactly those, in that order). */
export function rememberLogEntries(entries: readonly LogEntry[], bytes: Uint8Array): void {
  encodedLists.set(entries, asBuffer(bytes));
}

/** The LogEntryList bytes of these entries where they are known without encoding them. */
export function knownBytes(entries: readonly LogEntry[]): Buffer | undefined {
  return encodedLists.get(entries);
}

/**
 * Entry i's bytes in the list these entries are known as (the master's, for a replica;
 * the sender's, for a snapshot, also one this node's own log gave), or null: a log keeps
 * them as they are rather than encoding each entry again.
 */
export function knownElements(entries: readonly LogEntry[]): ((i: number) => Uint8Array) | null {
  const list = knownBytes(entries);
  const at = list ? entryListCodec.logEntryElements(list) : null;
  if (!list || at?.length !== entries.length + 1) return null;
  return (i) => list.subarray(at[i], at[i + 1]);
}

/** A snapshot's entries (ChannelSnapshot.entry_list), with the bytes they came in remembered. */
export function decodeSnapshotEntries(bytes: Uint8Array): LogEntry[] {
  const entries = entryListCodec.decodeLogEntryList(bytes);
  rememberLogEntries(entries, bytes);
  return entries;
}

/**
 * Replicated batches waiting for their broadcast. The replica of a channel that also has
 * subscribers on its node may get a batch twice, as the same bytes: in the replicate
 * request, then in the broadcast once the master has the replica's answer (where the
 * master does not ask the replica to broadcast it: an older build). The
 * broadcast takes the entries the replicate decoded (a memcmp instead of a decode) and
 * drops them from here; only replicated batches are kept (the replica stores their
 * entries anyway), only the last few and a bounded number of bytes, so nothing else
 * lives longer than it would.
 * Entries are never changed after they are made, so both uses may share them.
 */
const replicated: { bytes: Uint8Array; entries: LogEntry[] }[] = [];
const REPLICATED_KEPT = 8;
/** …and at most this many bytes of them (a replica without subscribers never gets the broadcast). */
const REPLICATED_KEPT_BYTES = 4 * 1024 * 1024;
let replicatedBytes = 0;

/**
 * The entries of a LogEntryList. `replicate`: they came in a replicate request (their
 * bytes remembered, and, unless `broadcastHere`, kept for the broadcast of the same
 * batch); otherwise a broadcast, which may find them kept. `broadcastHere`: the replica
 * broadcasts the batch itself (ReplicateRequest.broadcastTo), so none will come.
 */
export function decodeLogEntries(bytes: Uint8Array, replicate = false, broadcastHere = false): LogEntry[] {
  if (bytes.length === 0) return [];
  if (!replicate) {
    for (let i = 0; i < replicated.length; i++) {
      const r = replicated[i]!;
      if (r.bytes.length === bytes.length && Buffer.compare(r.bytes, bytes) === 0) {
        replicated.splice(i, 1);
        replicatedBytes -= r.bytes.length;
        return r.entries;
      }
    }
  }
  const entries = entryListCodec.decodeLogEntryList(bytes);
  if (replicate) rememberLogEntries(entries, bytes);
  if (replicate && !broadcastHere && bytes.length <= REPLICATED_KEPT_BYTES) {
    replicated.push({ bytes, entries });
    replicatedBytes += bytes.length;
    while (replicated.length > REPLICATED_KEPT || replicatedBytes > REPLICATED_KEPT_BYTES) replicatedBytes -= replicated.shift()!.bytes.length;
  }
  return entries;
}

/**
 * A channel snapshot's entries (ChannelSnapshot.entries), held as entries, as the bytes
 * of their LogEntryList, or both; each form is made at most once. A snapshot moves a
 * whole log (a handoff, a claim's answer, a new replica's sync): its sender gives the
 * bytes its log holds without decoding them, and the receiver that installs it keeps
 * them, reading each entry only as far as its log needs (`ChannelState.restore`,
 * `scanLogEntryList`); a claim's other answers are never read. Decoding 100,000 entries
 * to encode them again took a handing-off master about 200 ms, and decoding them to
 * store their bytes took the receiver as long (`dist/bench/snapshot-move.js`).
 */
export class SnapshotEntries {
  private constructor(
    /** How many entries. */
    readonly length: number,
    private decoded: readonly LogEntry[] | null,
    private bytes: Buffer | null,
  ) {}

  static readonly none = new SnapshotEntries(0, [], null);

  /** These entries (their bytes, where known, are taken as they are). */
  static of(entries: readonly LogEntry[]): SnapshotEntries {
    return entries.length ? new SnapshotEntries(entries.length, entries, knownBytes(entries) ?? null) : SnapshotEntries.none;
  }

  /**
   * The entries of a LogEntryList's bytes (a log's, or a received snapshot's), not
   * decoded; `length`, where the caller knows it, saves counting them. Throws on bytes
   * that are not such a list.
   */
  static fromBytes(bytes: Uint8Array, length?: number): SnapshotEntries {
    if (bytes.length === 0) return SnapshotEntries.none;
    const buf = asBuffer(bytes);
    const n = length ?? entryListCodec.logEntryCount(buf);
    // A list with fields a later version may add: counted by decoding it.
    if (n === null) return SnapshotEntries.of(decodeSnapshotEntries(buf));
    return new SnapshotEntries(n, null, buf);
  }

  /** The LogEntryList bytes. */
  encoded(): Buffer {
    if (!this.bytes) this.bytes = this.length ? encodeLogEntries(this.decoded!) : Buffer.alloc(0);
    return this.bytes;
  }

  /** The entries (their bytes remembered, for a log to keep as they are). Throws on bytes that are not `length` entries. */
  list(): readonly LogEntry[] {
    if (!this.decoded) {
      const list = decodeSnapshotEntries(this.bytes!);
      if (list.length !== this.length) throw new Error(`snapshot entries do not match their count (${list.length} of ${this.length})`);
      this.decoded = list;
    }
    return this.decoded;
  }
}

/**
 * One channel's entries on their way to another region, in the region-link form (a
 * ForwardedEntryList: each entry's origin seq, stored-at time and item; the origin
 * region and epoch are the batch's). Held as entries, as bytes, or both; each form is
 * made at most once.
 */
export class ForwardedEntries {
  private constructor(
    /** How many entries. */
    readonly length: number,
    /** The last entry's origin seq (0: no entries). */
    readonly lastSeq: number,
    private decoded: LogEntry[] | null,
    private bytes: Buffer | null,
  ) {}

  static readonly none = ForwardedEntries.of([]);

  /** Entries of this region (each with its origin set). */
  static of(entries: LogEntry[]): ForwardedEntries {
    const last = entries[entries.length - 1];
    return new ForwardedEntries(entries.length, last ? last.origin.seq : 0, entries, null);
  }

  /** Entries received as bytes (`count` of them, the last at `lastSeq`). */
  /** `bytes` as decoded (a view into the frame it came in, which is not copied). */
  static fromBytes(bytes: Uint8Array, count: number, lastSeq: number): ForwardedEntries {
    return new ForwardedEntries(count, lastSeq, null, asBuffer(bytes));
  }

  /** The ForwardedEntryList bytes. */
  encoded(): Buffer {
    if (!this.bytes) {
      this.bytes = entryListCodec.encodeForwardedEntryList(this.decoded ?? []);
    }
    return this.bytes;
  }

  /**
   * The entries, each with its origin position: `region` and `epoch` are the batch's
   * (bytes do not repeat them per entry). Throws on bytes that are not a
   * ForwardedEntryList of `length` entries ending at `lastSeq`.
   */
  list(region: string, epoch: string): LogEntry[] {
    if (!this.decoded) {
      const list = entryListCodec.decodeForwardedEntryList(this.bytes!, region, epoch);
      const last = list[list.length - 1];
      if (list.length !== this.length || (last ? last.origin.seq : 0) !== this.lastSeq) {
        throw new Error(`forwarded entries do not match their count or last seq (${list.length} of ${this.length}, last ${last?.origin.seq ?? 0} of ${this.lastSeq})`);
      }
      this.decoded = list;
    }
    return this.decoded;
  }
}
