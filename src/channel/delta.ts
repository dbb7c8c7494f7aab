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
 * occupancy event (a MESSAGE of its own). Presence is never a delta and moves nothing.
 * History and REST are never deltas (Ably's rule).
 */
import { AblyError } from '../errors.js';
import type { Message } from '../protocol/message.js';
import { vcdiffEncode } from '../protocol/vcdiff.js';
import type { LogEntry, MessageEntry } from './entry.js';

/** The last message an attachment was sent, as its SDK holds it. */
export interface DeltaBase {
  id: string;
  payload: Uint8Array;
}

/** A delta goes only where it is at most this fraction of the data it stands for (else the message goes whole). */
export const DELTA_MAX_RATIO = 0.9;

/** Reads the `delta` channel param: `vcdiff` (the only form Ably has); anything else is refused with 40003. */
export function parseDeltaParam(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === 'vcdiff') return true;
  throw AblyError.of('invalidParameterValue', `delta must be "vcdiff", not ${JSON.stringify(value).slice(0, 80)}`);
}

/** What the SDK keeps of a message as the base of the next delta: its data as bytes (none without data). */
export function payloadOf(m: Message): Uint8Array | null {
  if (m.data === undefined) return null;
  return typeof m.data === 'string' ? Buffer.from(m.data, 'utf8') : m.data;
}

/** `m` as a delta against `base`, where that is small enough. */
export function deltaMessage(m: Message, payload: Uint8Array, base: DeltaBase): Message | null {
  const max = Math.floor(payload.length * DELTA_MAX_RATIO);
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

/** A run of entries as a delta subscriber is sent them, and its base after them. */
export interface DeltaRun {
  entries: LogEntry[];
  base: DeltaBase | null;
}

/** Entries with each message as a delta against the one before it (the first against `base`), where smaller. */
export function asDeltas(entries: readonly LogEntry[], base: DeltaBase | null): DeltaRun {
  const out: LogEntry[] = [];
  for (const e of entries) {
    if (e.kind !== 'message') {
      out.push(e);
      continue;
    }
    const payload = payloadOf(e.message);
    const d = payload && base ? deltaMessage(e.message, payload, base) : null;
    out.push(d ? ({ ...e, message: d } satisfies MessageEntry) : e);
    base = payload ? { id: e.message.id, payload } : null;
  }
  return { entries: out, base };
}

/**
 * The delta runs of one delivery, made once for all subscribers from the same base (a
 * broadcast's delta subscribers usually are: each was sent the one before).
 */
export class DeltaRuns {
  private readonly runs = new Map<string, { from: DeltaBase | null; run: DeltaRun }>();
  private unshared = 0;

  constructor(private readonly entries: readonly LogEntry[]) {}

  /** The run from `base`, and a key naming it (same key, same frames). */
  from(base: DeltaBase | null): { key: string; run: DeltaRun } {
    const key = base ? `+${base.id}` : '';
    const had = this.runs.get(key);
    if (had && sameBase(had.from, base)) return { key, run: had.run };
    const run = asDeltas(this.entries, base);
    // Another base of the same id (a client's own id used again): not shared.
    if (had) return { key: `${key}\n${++this.unshared}`, run };
    this.runs.set(key, { from: base, run });
    return { key, run };
  }
}

function sameBase(a: DeltaBase | null, b: DeltaBase | null): boolean {
  if (!a || !b) return a === b;
  return a.id === b.id && (a.payload === b.payload || Buffer.compare(a.payload, b.payload) === 0);
}
