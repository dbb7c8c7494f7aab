/**
 * What a channel's stream holds: each entry is one message (or presence event) with the
 * region serial the channel master gave it and where it came from.
 */
import { messageSize, type Message, type PresenceMessage } from '../protocol/message.js';
import type { OriginPosition } from '../protocol/serial.js';

export type ChannelKey = string;

/** `appId:name`; app ids never contain `:`, so the first `:` separates them. */
export function channelKey(appId: string, name: string): ChannelKey {
  return `${appId}:${name}`;
}

export function splitChannelKey(key: ChannelKey): { appId: string; name: string } {
  const i = key.indexOf(':');
  return { appId: key.slice(0, i), name: key.slice(i + 1) };
}

interface EntryBase {
  /** Region serial: 1, 2, 3… within the channel's epoch, with no gaps. */
  serial: number;
  /** The serial as clients see it (formatted once, when the entry is made). */
  channelSerial: string;
  /** Master's clock when stored (ms, never decreasing within a channel): retention runs on this. */
  storedAt: number;
  /** Where the message was first accepted, and its seq in that region's own order. */
  origin: OriginPosition;
}

export interface MessageEntry extends EntryBase {
  kind: 'message';
  message: Message;
}

export interface PresenceEntry extends EntryBase {
  kind: 'presence';
  presence: PresenceMessage;
  /** The node hosting the member's connection (never sent to clients). */
  host: string;
}

export type LogEntry = MessageEntry | PresenceEntry;

/**
 * An entry's own bytes as a client is sent them: its message's or presence message's
 * (messageSize), and a message's summary. What a history page and a resume are bounded by
 * (HISTORY_PAGE_MAX_BYTES, RESUME_MAX_BYTES) where the log's stored bytes do not tell it.
 */
export function entryBytes(e: LogEntry): number {
  if (e.kind === 'presence') return messageSize(e.presence);
  return messageSize(e.message) + (e.message.summary ? JSON.stringify(e.message.summary).length : 0);
}

/** The serial a repeat of a message's id is answered with: its operation's (an annotation's, a version's) or its own (none: an entry a test made). */
export function dedupSerial(e: MessageEntry): string {
  const m = e.message;
  return m.annotation?.serial ?? m.version?.serial ?? m.serial ?? e.channelSerial;
}
