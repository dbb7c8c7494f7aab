/**
 * Builds the ProtocolMessages the server sends for channel traffic. Several messages go
 * in one MESSAGE (Ably allows it); its channelSerial is the last one's, which is what
 * the SDK records and sends back to resume.
 */
import type { LogEntry } from '../channel/entry.js';
import { Action, PresenceAction } from './actions.js';
import { encodeFrame, type Frame } from './codec.js';
import { presenceToWire, toWire, type PresenceMessage } from './message.js';
import type { ProtocolMessage, WireFormat } from './types.js';

/**
 * Frames for a run of entries on one channel: one MESSAGE frame for the messages and
 * one PRESENCE frame per run of presence events, in serial order.
 */
export function entryFrames(channel: string, entries: readonly LogEntry[], format: WireFormat): Frame[] {
  const frames: Frame[] = [];
  let i = 0;
  while (i < entries.length) {
    const kind = entries[i]!.kind;
    let j = i;
    while (j < entries.length && entries[j]!.kind === kind) j++;
    const run = entries.slice(i, j);
    const last = run[run.length - 1]!;
    const pm: ProtocolMessage =
      kind === 'message'
        ? {
            action: Action.MESSAGE,
            channel,
            channelSerial: last.channelSerial,
            messages: run.map((e) => toWire((e as Extract<LogEntry, { kind: 'message' }>).message, format)),
          }
        : {
            action: Action.PRESENCE,
            channel,
            channelSerial: last.channelSerial,
            presence: run.map((e) => presenceToWire((e as Extract<LogEntry, { kind: 'presence' }>).presence, format)),
          };
    frames.push(encodeFrame(pm, format));
    i = j;
  }
  return frames;
}

/** Presence members per SYNC frame. */
export const SYNC_PAGE_SIZE = 100;

/**
 * A presence SYNC: the members (as PRESENT), paged; each page's channelSerial is
 * `syncId:cursor`, the last page's `syncId:` (an empty cursor ends the sync in the SDKs).
 */
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
