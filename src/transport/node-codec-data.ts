/**
 * Conversions of channel data (messages, presence, log entries, snapshots, queries,
 * connection records, forwarded batches) between domain types and protobuf. Part of the
 * node codec (`node-codec.ts`), which builds envelopes out of these; the region-link
 * codec reuses the message conversions.
 */
import * as pb from '../gen/node.pb.js';
import type { LogEntry } from '../channel/entry.js';
import type { HistoryQuery } from '../channel/log.js';
import type { RegionInterest } from '../channel/channel-interest.js';
import type { PresenceMember } from '../channel/presence.js';
import type { Gap } from '../channel/gaps.js';
import type { ErrorInfo } from '../errors.js';
import type { ChannelSnapshot, PresenceHold } from '../channel/state.js';
import type { AnnotationFields, Message, MessageData, MessageVersion, PresenceMessage, Summary } from '../protocol/message.js';
import type { Occupancy } from './occupancy-messages.js';
import { SnapshotDedup } from './dedup-list.js';
import { ForwardedEntries, SnapshotEntries } from './entry-lists.js';
import type { ConnectionRecord, ForwardedBatch } from './messages.js';

function dataToPb(d: MessageData | undefined): pb.Message['data'] {
  if (d === undefined) return undefined;
  if (typeof d === 'string') return { $case: 'text', text: d };
  return { $case: 'binary', binary: Buffer.from(d.buffer, d.byteOffset, d.byteLength) };
}

function dataFromPb(d: pb.Message['data']): MessageData | undefined {
  if (!d) return undefined;
  // Copied out of the frame, so that data kept (a presence member's) does not keep it alive.
  return d.$case === 'text' ? d.text : Buffer.from(d.binary);
}

export function messageToPb(m: Message): pb.Message {
  return {
    id: m.id,
    name: m.name,
    clientId: m.clientId,
    connectionId: m.connectionId,
    data: dataToPb(m.data),
    encoding: m.encoding,
    extrasJson: m.extras === undefined ? undefined : JSON.stringify(m.extras),
    timestamp: m.timestamp,
    serial: m.serial,
    action: m.action,
    version: m.version && versionToPb(m.version),
    ownBy: m.ownBy,
    annotation: m.annotation && { action: m.annotation.action, type: m.annotation.type, count: m.annotation.count, serial: m.annotation.serial },
    summaryJson: m.summary === undefined ? undefined : JSON.stringify(m.summary),
  };
}

function versionToPb(v: MessageVersion): pb.MessageVersion {
  return { serial: v.serial, timestamp: v.timestamp, clientId: v.clientId, description: v.description, metadataJson: v.metadata && JSON.stringify(v.metadata) };
}

export function versionFromPb(p: pb.MessageVersion): MessageVersion {
  const v: MessageVersion = {};
  if (p.serial !== undefined) v.serial = p.serial;
  if (p.timestamp !== undefined) v.timestamp = p.timestamp;
  if (p.clientId !== undefined) v.clientId = p.clientId;
  if (p.description !== undefined) v.description = p.description;
  if (p.metadataJson !== undefined) v.metadata = JSON.parse(p.metadataJson) as Record<string, string>;
  return v;
}

export function messageFromPb(p: pb.Message): Message {
  const m: Message = { id: p.id, timestamp: p.timestamp };
  if (p.name !== undefined) m.name = p.name;
  if (p.clientId !== undefined) m.clientId = p.clientId;
  if (p.connectionId !== undefined) m.connectionId = p.connectionId;
  const d = dataFromPb(p.data);
  if (d !== undefined) m.data = d;
  if (p.encoding !== undefined) m.encoding = p.encoding;
  if (p.extrasJson !== undefined) m.extras = JSON.parse(p.extrasJson) as Record<string, unknown>;
  if (p.serial !== undefined) m.serial = p.serial;
  if (p.action !== undefined) m.action = p.action;
  if (p.version !== undefined) m.version = versionFromPb(p.version);
  if (p.ownBy !== undefined) m.ownBy = p.ownBy;
  if (p.annotation !== undefined) m.annotation = annotationFromPb(p.annotation);
  if (p.summaryJson !== undefined) m.summary = JSON.parse(p.summaryJson) as Summary;
  return m;
}

function annotationFromPb(p: pb.AnnotationFields): AnnotationFields {
  const a: AnnotationFields = { action: p.action, type: p.type };
  if (p.count !== undefined) a.count = p.count;
  if (p.serial !== undefined) a.serial = p.serial;
  return a;
}

export function presenceToPb(m: PresenceMessage): pb.PresenceMessage {
  return {
    id: m.id,
    action: m.action,
    clientId: m.clientId,
    connectionId: m.connectionId,
    data: dataToPb(m.data),
    encoding: m.encoding,
    extrasJson: m.extras === undefined ? undefined : JSON.stringify(m.extras),
    timestamp: m.timestamp,
  };
}

export function presenceFromPb(p: pb.PresenceMessage): PresenceMessage {
  const m: PresenceMessage = {
    id: p.id,
    action: p.action,
    clientId: p.clientId,
    connectionId: p.connectionId,
    timestamp: p.timestamp,
  };
  const d = dataFromPb(p.data);
  if (d !== undefined) m.data = d;
  if (p.encoding !== undefined) m.encoding = p.encoding;
  if (p.extrasJson !== undefined) m.extras = JSON.parse(p.extrasJson) as Record<string, unknown>;
  return m;
}

export function entryToPb(e: LogEntry): pb.LogEntry {
  return {
    serial: e.serial,
    channelSerial: e.channelSerial,
    storedAt: e.storedAt,
    origin: e.origin,
    item:
      e.kind === 'message'
        ? { $case: 'message', message: messageToPb(e.message) }
        : { $case: 'presence', presence: presenceToPb(e.presence) },
    host: e.kind === 'presence' ? e.host : '',
  };
}

export function presenceMemberToPb(m: PresenceMember): pb.PresenceMember {
  return { message: presenceToPb(m.message), host: m.host, leaveAt: m.leaveAt ?? undefined, since: m.since || undefined };
}

export function presenceMemberFromPb(p: pb.PresenceMember): PresenceMember {
  return { message: presenceFromPb(p.message!), host: p.host, leaveAt: p.leaveAt ?? null, since: p.since ?? 0 };
}

export function holdToPb(h: PresenceHold): pb.PresenceHold {
  return { connectionId: h.connectionId, host: h.host ?? undefined, leaveAt: h.leaveAt ?? undefined, since: h.since || undefined, after: h.after };
}

export function holdFromPb(p: pb.PresenceHold): PresenceHold {
  return {
    connectionId: p.connectionId,
    host: p.host ?? null,
    leaveAt: p.leaveAt ?? null,
    ...(p.since ? { since: p.since } : {}),
    ...(p.after !== undefined ? { after: p.after } : {}),
  };
}

export function entryFromPb(p: pb.LogEntry): LogEntry {
  // Object literals with every property at once, in the order ChannelState builds them:
  // a spread (`{ ...base, kind }`) made this the costliest step of decoding a broadcast
  // (1.6 µs of 3 per entry), and one shape everywhere keeps the hot paths monomorphic.
  const { serial, channelSerial, storedAt } = p;
  const origin = p.origin ?? { region: '', epoch: '', seq: 0 };
  if (p.item?.$case === 'message') return { kind: 'message', serial, channelSerial, storedAt, origin, message: messageFromPb(p.item.message) };
  if (p.item?.$case === 'presence') return { kind: 'presence', serial, channelSerial, storedAt, origin, presence: presenceFromPb(p.item.presence), host: p.host };
  throw new Error('log entry without an item');
}

/** Other regions' interest as InterestItems (whose `channel` holds the region name), and back. */
export function interestToPb(list: readonly RegionInterest[]): pb.InterestItem[] {
  return list.map((r) => (r.offsetMs === undefined ? { channel: r.region, since: r.since } : { channel: r.region, since: r.since, clockOffsetMs: Math.round(r.offsetMs) }));
}

export function interestFromPb(items: readonly pb.InterestItem[]): RegionInterest[] {
  return items.map((x) => (x.clockOffsetMs === undefined ? { region: x.channel, since: x.since } : { region: x.channel, since: x.since, offsetMs: x.clockOffsetMs }));
}

/** An Ably error as the wire has it (its three fields; `href` does not travel). */
export function errorToPb(e: ErrorInfo): pb.ErrorInfo {
  return { code: e.code, statusCode: e.statusCode, message: e.message };
}

export function errorFromPb(e: pb.ErrorInfo | undefined): ErrorInfo {
  return { code: e?.code ?? 0, statusCode: e?.statusCode ?? 0, message: e?.message ?? '' };
}

export function gapsToPb(gaps: readonly Gap[] | undefined): pb.Gap[] {
  return (gaps ?? []).map((g) => ({
    serial: g.serial,
    error: errorToPb(g.error),
    ...(g.origin ? { origin: g.origin } : {}),
  }));
}

export function gapsFromPb(gaps: readonly pb.Gap[]): Gap[] {
  return gaps.map((g) => ({
    serial: g.serial,
    error: errorFromPb(g.error),
    ...(g.origin ? { origin: { region: g.origin.region, epoch: g.origin.epoch, seq: g.origin.seq } } : {}),
  }));
}

export function snapshotToPb(s: ChannelSnapshot): pb.ChannelSnapshot {
  return {
    key: s.key,
    epoch: s.epoch,
    term: s.term,
    base: s.base,
    localSeq: s.localSeq,
    origins: s.origins,
    lastStoredAt: s.lastStoredAt,
    entries: [],
    entryList: s.entries.encoded(),
    dedup: [],
    dedupList: s.dedup.encoded(),
    wasMaster: s.wasMaster ?? false,
    subscribers: s.subscribers ?? [],
    interestSince: s.interestSince ?? 0,
    reach: s.reach ?? [],
    remoteInterest: interestToPb(s.remoteInterest ?? []),
    ...(s.lifecycle ? { lifecycle: s.lifecycle } : {}),
    presence: s.presence.map(presenceMemberToPb),
    gaps: gapsToPb(s.gaps),
  };
}

export function snapshotFromPb(p: pb.ChannelSnapshot): ChannelSnapshot {
  return {
    key: p.key,
    epoch: p.epoch,
    term: p.term,
    base: p.base,
    localSeq: p.localSeq,
    origins: p.origins,
    lastStoredAt: p.lastStoredAt,
    entries: p.entryList.length ? SnapshotEntries.fromBytes(p.entryList) : SnapshotEntries.of(p.entries.map(entryFromPb)),
    dedup: p.dedupList.length ? SnapshotDedup.fromBytes(p.dedupList) : SnapshotDedup.of(p.dedup),
    wasMaster: p.wasMaster,
    subscribers: p.subscribers,
    ...(p.interestSince ? { interestSince: p.interestSince } : {}),
    ...(p.reach.length ? { reach: p.reach } : {}),
    ...(p.remoteInterest.length ? { remoteInterest: interestFromPb(p.remoteInterest) } : {}),
    ...(p.lifecycle ? { lifecycle: { ...p.lifecycle } } : {}),
    presence: p.presence.map(presenceMemberFromPb),
    ...(p.gaps.length ? { gaps: gapsFromPb(p.gaps) } : {}),
  };
}

export function queryToPb(q: HistoryQuery): pb.HistoryQuery {
  return {
    start: q.start,
    end: q.end,
    forwards: q.direction === 'forwards',
    limit: q.limit,
    cursor: q.cursor,
    untilSerial: q.untilSerial,
    epoch: q.epoch,
    kind: q.kind === 'presence' ? pb.EntryKind.ENTRY_KIND_PRESENCE : pb.EntryKind.ENTRY_KIND_MESSAGE,
    messageSerial: q.messageSerial,
    versions: q.versions === true,
    annotations: q.annotations === true,
    after: q.after,
  };
}

export function queryFromPb(p: pb.HistoryQuery): HistoryQuery {
  const q: HistoryQuery = {
    direction: p.forwards ? 'forwards' : 'backwards',
    limit: p.limit,
    kind: p.kind === pb.EntryKind.ENTRY_KIND_PRESENCE ? 'presence' : 'message',
  };
  if (p.start !== undefined) q.start = p.start;
  if (p.end !== undefined) q.end = p.end;
  if (p.cursor !== undefined) q.cursor = p.cursor;
  if (p.untilSerial !== undefined) q.untilSerial = p.untilSerial;
  if (p.epoch !== undefined) q.epoch = p.epoch;
  if (p.messageSerial !== undefined) q.messageSerial = p.messageSerial;
  if (p.versions) q.versions = true;
  if (p.annotations) q.annotations = true;
  if (p.after !== undefined) q.after = p.after;
  return q;
}

export function recordToPb(r: ConnectionRecord): pb.ConnectionRecord {
  return {
    connectionId: r.connectionId,
    appId: r.appId,
    clientId: r.clientId ?? undefined,
    host: r.host,
    expiresAt: r.expiresAt ?? undefined,
    updatedAt: r.updatedAt,
  };
}

export function recordFromPb(p: pb.ConnectionRecord): ConnectionRecord {
  return {
    connectionId: p.connectionId,
    appId: p.appId,
    clientId: p.clientId ?? null,
    host: p.host,
    expiresAt: p.expiresAt ?? null,
    updatedAt: p.updatedAt,
  };
}

/** A region's own presence members with a stream's start (undefined: none sent). */
export function membersToPb(members: readonly PresenceMessage[] | undefined): pb.PresenceList | undefined {
  return members ? { members: members.map(presenceToPb) } : undefined;
}

export function membersFromPb(p: pb.PresenceList): PresenceMessage[] {
  return p.members.map(presenceFromPb);
}

export function batchToPb(b: ForwardedBatch): pb.ForwardedBatch {
  return {
    channel: b.channel,
    region: b.region,
    epoch: b.epoch,
    startSeq: b.startSeq,
    gapBefore: b.gapBefore,
    entries: b.entries.encoded(),
    count: b.entries.length,
    lastSeq: b.entries.lastSeq,
    members: membersToPb(b.members),
  };
}

export function batchFromPb(p: pb.ForwardedBatch): ForwardedBatch {
  return {
    channel: p.channel,
    region: p.region,
    epoch: p.epoch,
    ...(p.startSeq !== undefined ? { startSeq: p.startSeq } : {}),
    gapBefore: p.gapBefore,
    entries: ForwardedEntries.fromBytes(p.entries, p.count, p.lastSeq),
    ...(p.members ? { members: membersFromPb(p.members) } : {}),
  };
}

/** A message's counts (absent: none). */
export function occupancyFromPb(c: pb.OccupancyReply | undefined): Occupancy {
  return {
    connections: c?.connections ?? 0,
    publishers: c?.publishers ?? 0,
    subscribers: c?.subscribers ?? 0,
    presenceSubscribers: c?.presenceSubscribers ?? 0,
    presenceConnections: c?.presenceConnections ?? 0,
  };
}
