/**
 * What it costs to move a whole channel between nodes (a handoff, a claim's answer, a new
 * replica's sync): a channel state holding N typical entries (sample-entries.ts), each
 * message id in its dedup window, is
 *
 * - snapshotted and encoded as a sync request, by the sender (`ChannelState.snapshot`,
 *   `encodeNodeMessageChunks`): the sender's event loop is held that long;
 * - decoded by the receiver (`decodeNodeMessage`), which is all a claim does with an
 *   answer it does not install, apart from reading its position;
 * - restored by the receiver (`ChannelState.restore`), which a handoff, a sync and the
 *   answer a claim installs do.
 *
 * Milliseconds per phase, medians over rounds (the first round warms up and is not
 * counted). Uses only calls that every build since the thirty-fifth session has, so
 * that two trees can be compared.
 * Usage: node dist/bench/snapshot-move.js [--entries N] [--rounds R] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/snapshot-move-<date>.json.
 */
import { ChannelState, type ChannelSettings } from '../channel/state.js';
import { entryListCodec } from '../transport/entry-codec.js';
import type { NodeMessage } from '../transport/messages.js';
import { decodeNodeMessage, encodeNodeMessageChunks } from '../transport/node-codec.js';
import { SAMPLE_STORED_AT, sampleBatch } from './sample-entries.js';
import { argOf, emitResult, median } from './util.js';

const BATCH = 1000;

interface Round {
  snapshotMs: number;
  encodeMs: number;
  decodeMs: number;
  restoreMs: number;
  bytes: number;
}

/** A channel state that stored `n` sample entries (as a replica stores its master's batches). */
function channelOf(n: number, settings: ChannelSettings): ChannelState {
  const st = ChannelState.fresh('bench:snapshot-move', settings, SAMPLE_STORED_AT);
  for (let k = 0; k < n / BATCH; k++) st.applyEntries(entryListCodec.decodeLogEntryList(entryListCodec.encodeLogEntryList(sampleBatch(k, BATCH))));
  if (st.retained !== n) throw new Error(`the channel holds ${st.retained} entries, not ${n}`);
  return st;
}

function round(st: ChannelState, settings: ChannelSettings): Round {
  const t0 = performance.now();
  const snapshot = { ...st.snapshot(), wasMaster: true, subscribers: [] };
  const t1 = performance.now();
  const chunks = encodeNodeMessageChunks({ type: 'sync', rid: 1, toIncarnation: 0, channel: st.key, snapshot, role: 'handoff' } as NodeMessage);
  const t2 = performance.now();
  // As a transport hands it over: one buffer (a frame).
  const frame = Buffer.concat(chunks);
  const t3 = performance.now();
  const msg = decodeNodeMessage(frame);
  const t4 = performance.now();
  if (msg.type !== 'sync') throw new Error(`decoded a ${msg.type}`);
  const back = ChannelState.restore(msg.snapshot, settings);
  const t5 = performance.now();
  if (back.retained !== st.retained || back.serial !== st.serial) throw new Error(`restored ${back.retained} entries to ${back.serial}, not ${st.retained} to ${st.serial}`);
  return { snapshotMs: t1 - t0, encodeMs: t2 - t1, decodeMs: t4 - t3, restoreMs: t5 - t4, bytes: frame.length };
}

function main(): void {
  const entries = Number(argOf('--entries') ?? 100_000);
  const rounds = Number(argOf('--rounds') ?? 7);
  const settings: ChannelSettings = { region: 'us', historyMs: 600_000, dedupMs: 600_000, maxMessages: entries * 2 };
  const st = channelOf(entries, settings);
  const runs: Round[] = [];
  for (let r = 0; r <= rounds; r++) {
    const x = round(st, settings);
    if (r > 0) runs.push(x);
  }
  const m = (f: (r: Round) => number) => Math.round(median(runs.map(f)) * 10) / 10;
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    entries,
    rounds,
    frameBytes: runs[0]!.bytes,
    /** The sender's event loop, held: snapshot and encode. */
    senderMs: m((r) => r.snapshotMs + r.encodeMs),
    snapshotMs: m((r) => r.snapshotMs),
    encodeMs: m((r) => r.encodeMs),
    /** The receiver's: decode and restore. */
    receiverMs: m((r) => r.decodeMs + r.restoreMs),
    decodeMs: m((r) => r.decodeMs),
    restoreMs: m((r) => r.restoreMs),
    runs: runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 10) / 10]))),
  };
  emitResult('snapshot-move', result, argOf('--out'));
}

main();
