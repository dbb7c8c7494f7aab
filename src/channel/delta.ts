/**
 * Ably's delta mode: a client that attaches with `params: { delta: 'vcdiff' }` is sent
 * each message's data as a VCDIFF delta (src/protocol/vcdiff.ts) against the payload of
 * the message it was sent before on the channel, where that is smaller.
 *
 * The SDK keeps, per channel, the last message's id and payload (RTL19: its data before
 * any decoding but an outer base64: the string or bytes as sent). A delta message says
 * which message it is made from (`extras.delta.from`) and adds `vcdiff` to its encoding
 * (after `utf-8` where the data was text, so the SDK makes text of it again); the SDK
 * applies it to the payload it holds, and where that is not the message named (one it
 * did not process), it fails with 40018 and attaches again from the last message it
 * took, whereupon it is sent that message whole.
 *
 * So the server keeps, per attachment, the same: the last message it was sent (its
 * DeltaBase). Each attach begins with none (the first message goes whole), as does a
 * message after one without data (the SDK's payload is then none) and after an
 * occupancy event (a MESSAGE of its own), and after one whose payload the SDK may not
 * keep (deltaSafe: an encoding it may fail to decode). Presence is never a delta and
 * moves nothing.
 * History and REST are never deltas (Ably's rule).
 */
import { AblyError } from '../errors.js';
import { isAnnotation, type Message } from '../protocol/message.js';
import { vcdiffEncode } from '../protocol/vcdiff.js';
import { asBuffer } from '../transport/wire.js';
import type { LogEntry, MessageEntry } from './entry.js';

/** The last message an attachment was sent, as its SDK holds it. */
export interface DeltaBase {
  id: string;
  payload: Uint8Array;
}

/**
 * A delta goes only where it is at most this fraction of the data it stands for, both as
 * they go over JSON (the delta in base64, with what it adds: DELTA_OVERHEAD_BYTES and the
 * id it names); else the message goes whole. So a small message is never made larger.
 */
const DELTA_MAX_RATIO = 0.9;
/**
 * What a delta adds to its message over JSON besides its data, at most: `,"extras":{"delta":
 * {"from":"","format":"vcdiff"}}` but for the id (48 bytes), a whole encoding where there
 * was none (`,"encoding":"utf-8/vcdiff/base64"`, 33), and a base64 group begun (3).
 */
const DELTA_OVERHEAD_BYTES = 84;

/** Reads the `delta` channel param: `vcdiff` (the only form Ably has); anything else is refused with 40003. */
export function parseDeltaParam(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === 'vcdiff') return true;
  throw AblyError.of('invalidParameterValue', `delta must be "vcdiff", not ${JSON.stringify(value).slice(0, 80)}`);
}

/** What the SDK keeps of a message as the base of the next delta: its data as bytes (none without data). */
function payloadOf(m: Message): Uint8Array | null {
  if (m.data === undefined) return null;
  return typeof m.data === 'string' ? Buffer.from(m.data, 'utf8') : m.data;
}

/**
 * Whether the SDK takes the message's payload as its next base (RTL19) for certain: it
 * keeps it only where every step of the encoding decodes, and else holds the last one it
 * kept under this message's id (a delta from it would decode to the wrong data, with
 * nothing to tell). So only data without an encoding, JSON text, or UTF-8 bytes (JSON or
 * not), each of which it is; and not text with a lone surrogate (its UTF-8 is not it).
 */
function deltaSafe(m: Message): boolean {
  let safe = safeOf.get(m);
  if (safe === undefined) safeOf.set(m, (safe = checkSafe(m)));
  return safe;
}

/**
 * deltaSafe's answers by message: a message goes through asDeltas once per base in a
 * delivery (a newcomer starts from none) and once per subscriber on its own path, and the
 * JSON check is most of what a delta costs. A boolean each, gone with the message.
 */
const safeOf = new WeakMap<Message, boolean>();

function checkSafe(m: Message): boolean {
  // An annotation's entry: its subscribers take its summary, which has no data (a delta's base goes).
  if (isAnnotation(m)) return false;
  const d = m.data;
  if (d === undefined) return false;
  if (typeof d === 'string') {
    if (!d.isWellFormed()) return false;
    if (m.encoding === undefined) return true;
    return m.encoding === 'json' && parses(d);
  }
  if (m.encoding === undefined) return true;
  if (m.encoding === 'utf-8') return true;
  return m.encoding === 'json/utf-8' && parses(asBuffer(d).toString('utf8'));
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `m` (deltaSafe, its data as `payload`) as a delta against `base`, where that is small enough. */
function deltaMessage(m: Message, payload: Uint8Array, base: DeltaBase): Message | null {
  // Sizes as over JSON: text as it is, bytes and the delta in base64.
  const whole = typeof m.data === 'string' ? payload.length : Math.ceil(payload.length / 3) * 4;
  const room = whole * DELTA_MAX_RATIO - DELTA_OVERHEAD_BYTES - Buffer.byteLength(base.id);
  const max = Math.floor((room * 3) / 4);
  if (max <= 0) return null;
  const delta = vcdiffEncode(base.payload, payload, max);
  if (!delta || delta.length > max) return null;
  const step = typeof m.data === 'string' ? 'utf-8/vcdiff' : 'vcdiff';
  return {
    ...m,
    data: delta,
    encoding: m.encoding ? `${m.encoding}/${step}` : step,
    extras: { ...m.extras, delta: { from: base.id, format: 'vcdiff' } },
  };
}

/** A run of entries as a delta subscriber is sent them (the entries given, where none became a delta), and its base after them. */
export interface DeltaRun {
  entries: readonly LogEntry[];
  base: DeltaBase | null;
}

/** Entries with each message as a delta against the one before it (the first against `base`), where smaller. */
export function asDeltas(entries: readonly LogEntry[], base: DeltaBase | null): DeltaRun {
  const out: LogEntry[] = [];
  let deltas = 0;
  for (const e of entries) {
    if (e.kind !== 'message') {
      out.push(e);
      continue;
    }
    // One the SDK may not keep as its base goes whole, and the next after it too.
    if (!deltaSafe(e.message)) {
      out.push(e);
      base = null;
      continue;
    }
    const payload = payloadOf(e.message)!;
    const d = base ? deltaMessage(e.message, payload, base) : null;
    if (d) deltas++;
    out.push(d ? ({ ...e, message: d } satisfies MessageEntry) : e);
    base = { id: e.message.id, payload };
  }
  return { entries: deltas > 0 ? out : entries, base };
}

/**
 * The delta runs of one delivery, made once for all subscribers from the same base (a
 * broadcast's delta subscribers usually are: each was sent the one before). Frames are
 * kept by run (delivery.ts), so subscribers share them only where they share the run.
 */
export class DeltaRuns {
  private readonly runs = new Map<string, { from: DeltaBase | null; run: DeltaRun }>();

  constructor(private readonly entries: readonly LogEntry[]) {}

  from(base: DeltaBase | null): DeltaRun {
    const key = base?.id ?? '';
    const had = this.runs.get(key);
    if (had && sameBase(had.from, base)) return had.run;
    const run = asDeltas(this.entries, base);
    // Another base under the same id (a client's own id used again): its own run, not kept.
    if (!had) this.runs.set(key, { from: base, run });
    return run;
  }
}

function sameBase(a: DeltaBase | null, b: DeltaBase | null): boolean {
  if (!a || !b) return a === b;
  return a.id === b.id && (a.payload === b.payload || Buffer.compare(a.payload, b.payload) === 0);
}
