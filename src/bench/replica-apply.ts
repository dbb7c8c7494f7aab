/**
 * What a channel's replica spends per replicated entry: batches of 1,000 typical entries
 * (sample-entries.ts) decoded from their LogEntryList bytes, as they arrive, and applied
 * to a fresh replica state (`ChannelState.applyEntries`), R rounds; beside it in each round, the same ids
 * inserted into a fresh Map, which is what the dedup window did per entry before it
 * indexed on first lookup. With `--expose-gc`, also the memory the replica holds per
 * entry (its log's bytes and slots, its dedup slot): the JS heap and the array buffers
 * outside it.
 * Figures are medians over rounds.
 * Usage: node [--expose-gc] dist/bench/replica-apply.js [--rounds R] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/replica-apply-<date>.json.
 */
import { ChannelState, type ChannelSettings } from '../channel/state.js';
import { entryListCodec } from '../transport/entry-codec.js';
import { decodeSnapshotEntries } from '../transport/entry-lists.js';
import { SAMPLE_STORED_AT, sampleBatch } from './sample-entries.js';
import { argOf, emitResult, median } from './util.js';

const BATCH = 1000;
const BATCHES = 100;
const SETTINGS: ChannelSettings = { region: 'us', historyMs: 600_000, dedupMs: 120_000, maxMessages: BATCH * BATCHES * 2 };

const gc = (globalThis as { gc?: () => void }).gc;

/** The JS heap and the buffers outside it (where a channel log keeps its entries). */
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Round {
  applyNsPerEntry: number;
  mapInsertNsPerEntry: number;
  heapBytesPerEntry: number | null;
}

function round(encoded: Buffer[]): Round {
  const entries = BATCH * encoded.length;
  const before = gc ? heapAfterGc() : 0;
  // As on the wire: every round decodes fresh strings, and the log is given the bytes
  // the entries came in (as a replica's is, and a snapshot's receiver).
  let decoded = encoded.map((b) => decodeSnapshotEntries(b));
  const replica = ChannelState.fresh('bench:replica-apply', SETTINGS, SAMPLE_STORED_AT);
  let t = process.hrtime.bigint();
  for (const d of decoded) replica.applyEntries(d);
  const applyNs = Number(process.hrtime.bigint() - t) / entries;
  decoded = [];
  const heap = gc ? (heapAfterGc() - before) / entries : null;
  if (replica.retained !== entries) throw new Error(`replica holds ${replica.retained} entries, not ${entries}`);
  const ids = encoded.map((b) => entryListCodec.decodeLogEntryList(b).map((e) => (e.kind === 'message' ? e.message.id : e.presence.id)));
  const seen = new Map<string, string>();
  t = process.hrtime.bigint();
  for (const list of ids) for (const id of list) if (!seen.has(id)) seen.set(id, id);
  const mapNs = Number(process.hrtime.bigint() - t) / entries;
  return { applyNsPerEntry: applyNs, mapInsertNsPerEntry: mapNs, heapBytesPerEntry: heap };
}

function main(): void {
  const rounds = Number(argOf('--rounds') ?? 7);
  const encoded = Array.from({ length: BATCHES }, (_, k) => entryListCodec.encodeLogEntryList(sampleBatch(k, BATCH)));
  const runs: Round[] = [];
  // The first round warms up (JIT) and is not counted.
  for (let r = 0; r <= rounds; r++) {
    const x = round(encoded);
    if (r > 0) runs.push(x);
  }
  const m = (f: (r: Round) => number | null) => {
    const xs = runs.map(f).filter((x): x is number => x !== null);
    return xs.length ? Math.round(median(xs)) : null;
  };
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    entries: BATCH * BATCHES,
    rounds,
    applyNsPerEntry: m((r) => r.applyNsPerEntry),
    mapInsertNsPerEntry: m((r) => r.mapInsertNsPerEntry),
    heapBytesPerEntry: m((r) => r.heapBytesPerEntry),
    runs: runs.map((r) => ({ ...r, applyNsPerEntry: Math.round(r.applyNsPerEntry), mapInsertNsPerEntry: Math.round(r.mapInsertNsPerEntry), heapBytesPerEntry: r.heapBytesPerEntry === null ? null : Math.round(r.heapBytesPerEntry) })),
  };
  emitResult('replica-apply', result, argOf('--out'));
}

main();
