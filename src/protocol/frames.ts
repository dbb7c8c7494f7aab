/**
 * Builds the ProtocolMessages the server sends for channel traffic. Several messages go
 * in one MESSAGE (Ably allows it); its channelSerial is the last one's, which is what
 * the SDK records and sends back to resume.
 */
import type { LogEntry } from '../channel/entry.js';
import { Action } from './actions.js';
import { encodeFrame, type Frame } from './codec.js';
import { presenceToWire, toWire } from './message.js';
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
