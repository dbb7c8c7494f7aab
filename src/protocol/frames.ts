/**
 * Builds the ProtocolMessages the server sends for channel traffic. Several messages go
 * in one MESSAGE (Ably allows it); its channelSerial is the last one's, which is what
 * the SDK records and sends back to resume.
 */
import type { LogEntry, MessageEntry, PresenceEntry } from '../channel/entry.js';
import { Action, PresenceAction } from './actions.js';
import { encodeFrame, type Frame } from './codec.js';
import { annotationToWire, summaryToWire } from './annotation.js';
import { isAnnotation, presenceToWire, toWire, type PresenceMessage } from './message.js';
import type { ProtocolMessage, WireFormat } from './types.js';

/**
 * A frame is closed once its messages' estimated size reaches this (a message larger
 * than this goes alone). A frame of the 1,000 messages of a catch-up batch was ~250 KB
 * of JSON: a string that large is made in V8's large-object space (fresh pages for each
 * one) and flattened once more before it is written. Frames of about 64 KB took a
 * quarter less CPU per message in the heal catch-up (BENCHMARKS.md).
 */
export const FRAME_BUDGET_BYTES = 64 * 1024;

/** About what an entry adds to a frame (data as sent in JSON; extras guessed; an annotation's summary too): only to cut frames and batches. */
export function sizeEstimate(e: LogEntry): number {
  const m = e.kind === 'message' ? e.message : e.presence;
  const d = m.data;
  const data = d === undefined ? 0 : typeof d === 'string' ? d.length : Math.ceil((d.length * 4) / 3);
  const message = e.kind === 'message' ? (e.message.name?.length ?? 0) + (e.message.serial?.length ?? 0) + (e.message.summary ? summarySize(e.message.summary) : 0) : 0;
  return 100 + data + m.id.length + (m.clientId?.length ?? 0) + (m.connectionId?.length ?? 0) + message + (m.extras ? 200 : 0);
}

/** A summary's size in JSON, measured once (a summary is never changed once stored). */
const summarySizes = new WeakMap<object, number>();
function summarySize(summary: object): number {
  let n = summarySizes.get(summary);
  if (n === undefined) summarySizes.set(summary, (n = JSON.stringify(summary).length));
  return n;
}

/**
 * What a subscriber is sent of an annotation (src/channel/annotations.ts): the annotation
 * (an ANNOTATION: those that asked for ANNOTATION_SUBSCRIBE), its message's summary (a
 * MESSAGE with action 4: subscribers that take messages), or both (bits). The annotation
 * goes first, so a client that resumes after the summary has had both. Of several
 * annotations of one message in one delivery, only the last one's summary is sent (it
 * was made with the ones before it: Ably, too, rolls summaries up); one stored without a
 * summary (its message was not held) sends none.
 */
export const SUMMARIES = 1;
export const ANNOTATIONS = 2;

/** The ProtocolMessage kinds an entry can make. */
type ItemKind = 'message' | 'presence' | 'annotation';

/**
 * Frames for a run of entries on one channel, in serial order: MESSAGE frames for runs
 * of messages (and summaries), PRESENCE frames for runs of presence events and
 * ANNOTATION frames for runs of annotations (as `view` asks), each run cut into frames of
 * about FRAME_BUDGET_BYTES. Each frame's channelSerial is its last entry's, or what
 * `serialOf` makes of it (a client with floors: delivery.ts, withFloors).
 */
export function entryFrames(channel: string, entries: readonly LogEntry[], format: WireFormat, serialOf?: (e: LogEntry) => string, view = SUMMARIES): Frame[] {
  // Without annotations each entry is one item of its own kind; with, an annotation is what `view` asks.
  let list = entries;
  let kinds: ItemKind[] | null = null;
  if (entries.some((e) => e.kind === 'message' && isAnnotation(e.message))) {
    // Of each message's annotations here, the last one's summary (made with the ones before it) is sent.
    const last = new Map<string, LogEntry>();
    for (const e of entries) if (e.kind === 'message' && isAnnotation(e.message) && e.message.summary !== undefined) last.set(e.message.serial!, e);
    const l: LogEntry[] = [];
    kinds = [];
    for (const e of entries) {
      if (e.kind !== 'message' || !isAnnotation(e.message)) {
        l.push(e);
        kinds.push(e.kind);
        continue;
      }
      if (view & ANNOTATIONS) {
        l.push(e);
        kinds.push('annotation');
      }
      if (view & SUMMARIES && last.get(e.message.serial!) === e) {
        l.push(e);
        kinds.push('message');
      }
    }
    list = l;
  }
  const kindAt = (i: number): ItemKind => (kinds ? kinds[i]! : list[i]!.kind);
  const frames: Frame[] = [];
  let i = 0;
  while (i < list.length) {
    const kind = kindAt(i);
    let j = i;
    let size = 0;
    while (j < list.length && kindAt(j) === kind && (j === i || size < FRAME_BUDGET_BYTES)) size += sizeEstimate(list[j++]!);
    const run = list.slice(i, j);
    const last = run[run.length - 1]!;
    const channelSerial = serialOf ? serialOf(last) : last.channelSerial;
    let pm: ProtocolMessage;
    if (kind === 'message') pm = messagesPm(channel, channelSerial, run as readonly MessageEntry[], format);
    else if (kind === 'annotation') pm = { action: Action.ANNOTATION, channel, channelSerial, annotations: run.map((e) => annotationToWire((e as MessageEntry).message, format)) };
    else pm = { action: Action.PRESENCE, channel, channelSerial, presence: run.map((e) => presenceToWire((e as PresenceEntry).presence, format)) };
    // The wire forms leave no bytes in JSON (data goes as base64); only extras, free-form, could hold some.
    frames.push(encodeFrame(pm, format, !run.some((e) => (e.kind === 'message' ? e.message.extras : e.presence.extras) !== undefined)));
    i = j;
  }
  return frames;
}

/**
 * A MESSAGE of `run` (an annotation's entry in it: its summary). Where every message has
 * a connectionId, the first one's goes on the ProtocolMessage and is left out of each
 * message that has it (the SDKs give it back: TM2c), about 30 bytes a message when one
 * publisher sends most of a channel's (the fan-out benchmark's 248 bytes a message in
 * JSON become 219, msgpack's 220 become 196). Where one has none (a REST publish, a
 * summary), none does: the SDK would give it this one.
 */
function messagesPm(channel: string, channelSerial: string, run: readonly MessageEntry[], format: WireFormat): ProtocolMessage {
  const first = run[0]!.message.connectionId;
  const parent = first !== undefined && run.every((e) => e.message.connectionId !== undefined && !isAnnotation(e.message)) ? first : undefined;
  const pm: ProtocolMessage = { action: Action.MESSAGE, channel, channelSerial };
  if (parent !== undefined) pm.connectionId = parent;
  pm.messages = run.map((e) => (isAnnotation(e.message) ? summaryToWire(e.message) : toWire(e.message, format, parent)));
  return pm;
}

/** Presence members per SYNC frame. */
export const SYNC_PAGE_SIZE = 100;

/**
 * A presence SYNC: the members (as PRESENT), paged; each page's channelSerial is
 * `syncId:cursor`, the last page's `syncId:` (an empty cursor ends the sync in the SDKs).
 */
let syncCounter = 0;

/** A SYNC sequence's id, new each time (the SDK tells sequences apart by it). */
export function nextSyncId(): string {
  return `s${(syncCounter++).toString(36)}`;
}

export function syncFrames(channel: string, members: readonly PresenceMessage[], format: WireFormat, syncId: string): Frame[] {
  const frames: Frame[] = [];
  for (let i = 0; i < members.length || i === 0; i += SYNC_PAGE_SIZE) {
    const page = members.slice(i, i + SYNC_PAGE_SIZE);
    const last = i + SYNC_PAGE_SIZE >= members.length;
    frames.push(
      encodeFrame(
        {
          action: Action.SYNC,
          channel,
          channelSerial: `${syncId}:${last ? '' : String(i + SYNC_PAGE_SIZE)}`,
          presence: page.map((m) => presenceToWire({ ...m, action: PresenceAction.PRESENT }, format)),
        },
        format,
      ),
    );
  }
  return frames;
}
