/**
 * The entry-list codec against the generated one, in one process and one run: batches of
 * 1,000 typical entries (the heal catch-up's: ~100-byte text data, an id, a connection
 * id, a name, an origin) encoded and decoded as LogEntryList and ForwardedEntryList by
 * each, alternately, R rounds; figures are medians over rounds, µs per entry.
 * Usage: node dist/bench/entry-codec.js [--rounds R] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/entry-codec-<date>.json.
 */
import type { LogEntry } from '../channel/entry.js';
import * as pb from '../gen/node.pb.js';
import { entryListCodec as hand } from '../transport/entry-codec.js';
import { entryFromPb, entryToPb, messageFromPb, messageToPb } from '../transport/node-codec-data.js';
import { SAMPLE_ORIGIN, sampleBatch } from './sample-entries.js';
import { argOf, emitResult, median } from './util.js';

const BATCH = 1000;
const BATCHES = 40;

interface Codec {
  encodeLog(entries: LogEntry[]): Uint8Array;
  decodeLog(bytes: Uint8Array): LogEntry[];
  encodeForwarded(entries: LogEntry[]): Uint8Array;
  decodeForwarded(bytes: Uint8Array): LogEntry[];
}

const generated: Codec = {
  encodeLog: (entries) => pb.LogEntryList.encode({ entries: entries.map(entryToPb) }).finish(),
  decodeLog: (bytes) => pb.LogEntryList.decode(bytes).entries.map(entryFromPb),
  encodeForwarded: (entries) =>
    pb.ForwardedEntryList.encode({ entries: entries.map((e) => ({ seq: e.origin.seq, storedAt: e.storedAt, item: { $case: 'message', message: messageToPb((e as Extract<LogEntry, { kind: 'message' }>).message) } })) }).finish(),
  decodeForwarded: (bytes) =>
    pb.ForwardedEntryList.decode(bytes).entries.map((p) => {
      if (p.item?.$case !== 'message') throw new Error('not a message');
      return { kind: 'message', serial: 0, channelSerial: '', storedAt: p.storedAt, origin: { region: SAMPLE_ORIGIN.region, epoch: SAMPLE_ORIGIN.epoch, seq: p.seq }, message: messageFromPb(p.item.message) };
    }),
};

const handWritten: Codec = {
  encodeLog: (entries) => hand.encodeLogEntryList(entries),
  decodeLog: (bytes) => hand.decodeLogEntryList(bytes),
  encodeForwarded: (entries) => hand.encodeForwardedEntryList(entries),
  decodeForwarded: (bytes) => hand.decodeForwardedEntryList(bytes, SAMPLE_ORIGIN.region, SAMPLE_ORIGIN.epoch),
};

type Figures = Record<'encodeLog' | 'decodeLog' | 'encodeForwarded' | 'decodeForwarded', number>;

/** µs per entry for each operation over every batch. */
function round(c: Codec, batches: LogEntry[][]): Figures {
  const time = (f: () => void): number => {
    const t = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t) / 1e3 / (BATCH * batches.length);
  };
  let log: Uint8Array[] = [];
  let fwd: Uint8Array[] = [];
  let decoded = 0;
  const figures: Figures = {
    encodeLog: time(() => (log = batches.map((b) => c.encodeLog(b)))),
    decodeLog: time(() => log.forEach((b) => (decoded += c.decodeLog(b).length))),
    encodeForwarded: time(() => (fwd = batches.map((b) => c.encodeForwarded(b)))),
    decodeForwarded: time(() => fwd.forEach((b) => (decoded += c.decodeForwarded(b).length))),
  };
  if (decoded !== 2 * BATCH * batches.length) throw new Error(`decoded ${decoded} entries`);
  return figures;
}

function main(): void {
  const rounds = Number(argOf('--rounds') ?? 15);
  const batches = Array.from({ length: BATCHES }, (_, k) => sampleBatch(k, BATCH));
  const runs: Record<'generated' | 'hand', Figures[]> = { generated: [], hand: [] };
  // Alternate, so that both see the same machine; the first round of each warms up.
  for (let r = 0; r <= rounds; r++) {
    const g = round(generated, batches);
    const h = round(handWritten, batches);
    if (r === 0) continue;
    runs.generated.push(g);
    runs.hand.push(h);
  }
  const med = (fs: Figures[]): Figures => ({
    encodeLog: median(fs.map((f) => f.encodeLog)),
    decodeLog: median(fs.map((f) => f.decodeLog)),
    encodeForwarded: median(fs.map((f) => f.encodeForwarded)),
    decodeForwarded: median(fs.map((f) => f.decodeForwarded)),
  });
  const g = med(runs.generated);
  const h = med(runs.hand);
  const r3 = (n: number): number => Math.round(n * 1000) / 1000;
  const result = {
    date: new Date().toISOString(),
    entriesPerBatch: BATCH,
    batches: BATCHES,
    rounds,
    bytesPerEntry: hand.encodeLogEntryList(batches[0]!).length / BATCH,
    usPerEntry: {
      generated: Object.fromEntries(Object.entries(g).map(([k, v]) => [k, r3(v)])),
      hand: Object.fromEntries(Object.entries(h).map(([k, v]) => [k, r3(v)])),
    },
    speedup: Object.fromEntries(Object.keys(g).map((k) => [k, r3(g[k as keyof Figures] / h[k as keyof Figures])])),
  };
  emitResult('entry-codec', result, argOf('--out'));
}

main();
