/**
 * What delta mode costs and saves (src/channel/delta.ts), in one process and one run:
 * successive states of a JSON document (a list of records, one field of one record
 * changed each step) of about 1, 10 and 60 KB, each made a delta against the state before
 * it, against the baseline of encoding the same message's MESSAGE frame whole (what every
 * delivery costs anyway: once per format and batch), after a round of each not counted
 * (the code warm). Figures are medians over rounds:
 * µs per delta, µs per whole frame (JSON and msgpack), and bytes on the wire of each.
 * Usage: node dist/bench/delta-encode.js [--rounds R] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/delta-encode-<date>.json.
 */
import { asDeltas } from '../channel/delta.js';
import type { LogEntry } from '../channel/entry.js';
import { entryFrames } from '../protocol/frames.js';
import { argOf, emitResult, median } from './util.js';

const STEPS = 200;

function doc(records: number, step: number): string {
  const changed = step % records;
  return JSON.stringify({
    records: Array.from({ length: records }, (_, k) => ({ id: k, name: `record-${k}`, status: 'active', score: k === changed ? step : k * 7, tags: ['a', 'b', 'c'] })),
    version: step,
  });
}

function entry(step: number, data: string): LogEntry {
  return {
    kind: 'message',
    serial: step + 1,
    channelSerial: `r1@e:${step + 1}`,
    storedAt: step,
    origin: { region: 'r1', epoch: 'e', seq: step + 1 },
    message: { id: `conn:${step}:0`, name: 'state', connectionId: 'conn', data, encoding: 'json', timestamp: 1_700_000_000_000 + step },
  };
}

const frameBytes = (f: string | Uint8Array) => (typeof f === 'string' ? Buffer.byteLength(f) : f.length);

interface Size {
  label: string;
  records: number;
}

const SIZES: Size[] = [
  { label: '1 KB', records: 12 },
  { label: '10 KB', records: 120 },
  { label: '60 KB', records: 720 },
];

function measure(size: Size, rounds: number) {
  const entries = Array.from({ length: STEPS }, (_, i) => entry(i, doc(size.records, i)));
  const deltaUs: number[] = [];
  const jsonUs: number[] = [];
  const msgpackUs: number[] = [];
  let deltaBytes = 0;
  let wholeBytes = 0;
  let deltas = 0;
  for (let r = 0; r < rounds; r++) {
    // Alternated in each round: the whole frames, then the deltas (each one message against the one before).
    let t = performance.now();
    for (const e of entries) entryFrames('ch', [e], 'json');
    jsonUs.push(((performance.now() - t) * 1000) / STEPS);
    t = performance.now();
    for (const e of entries) entryFrames('ch', [e], 'msgpack');
    msgpackUs.push(((performance.now() - t) * 1000) / STEPS);
    t = performance.now();
    let base = null;
    const runs = [];
    for (const e of entries) {
      const run = asDeltas([e], base);
      base = run.base;
      runs.push(run.entries[0]!);
    }
    deltaUs.push(((performance.now() - t) * 1000) / STEPS);
    if (r === 0) {
      for (let i = 1; i < STEPS; i++) {
        const d = runs[i]!;
        if (d.kind === 'message' && d.message.extras) deltas++;
        deltaBytes += frameBytes(entryFrames('ch', [d], 'msgpack')[0]!);
        wholeBytes += frameBytes(entryFrames('ch', [entries[i]!], 'msgpack')[0]!);
      }
    }
  }
  const data = entries[1]!.kind === 'message' ? String(entries[1]!.message.data).length : 0;
  return {
    size: size.label,
    dataBytes: data,
    deltaUs: median(deltaUs),
    wholeFrameJsonUs: median(jsonUs),
    wholeFrameMsgpackUs: median(msgpackUs),
    deltaOverFrame: median(deltaUs) / median(msgpackUs),
    framesAsDeltas: deltas / (STEPS - 1),
    msgpackFrameBytes: { whole: Math.round(wholeBytes / (STEPS - 1)), delta: Math.round(deltaBytes / (STEPS - 1)) },
  };
}

const rounds = Number(argOf('--rounds') ?? 9);
// A round of each first, not counted: the encoder and the frames' code compiled and warm.
for (const s of SIZES) measure(s, 1);
const sizes = SIZES.map((s) => measure(s, rounds));
const result = { date: new Date().toISOString(), rounds, steps: STEPS, node: process.version, sizes };
emitResult('delta-encode', result, argOf('--out'));
