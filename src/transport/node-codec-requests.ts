/**
 * Node-to-node requests to and from their protobuf form (`src/gen/node.pb.ts`): one case
 * per request type. The envelope, membership and replies are in `node-codec.ts`; channel
 * data converts in `node-codec-data.ts`.
 */
import * as pb from '../gen/node.pb.js';
import type { ChannelNamesQuery, NodeRequest } from './messages.js';
import {
  batchFromPb,
  batchToPb,
  gapsFromPb,
  gapsToPb,
  holdFromPb,
  holdToPb,
  interestFromPb,
  interestToPb,
  messageFromPb,
  messageToPb,
  presenceFromPb,
  presenceToPb,
  queryFromPb,
  queryToPb,
  recordFromPb,
  recordToPb,
  snapshotFromPb,
  snapshotToPb,
} from './node-codec-data.js';
import { decodeLogEntries, encodeLogEntries } from './entry-lists.js';

export function requestToPb(r: NodeRequest): pb.Request {
  const p = requestBodyToPb(r) as pb.Request;
  p.toIncarnation = r.toIncarnation ?? 0;
  return p;
}

function requestBodyToPb(r: NodeRequest): Omit<pb.Request, 'toIncarnation'> {
  switch (r.type) {
    case 'sub':
      return {
        rid: r.rid,
        body: { $case: 'sub', sub: { channel: r.channel, ...(r.seen ? { seenEpoch: r.seen.epoch, seenSerial: r.seen.serial } : {}), reach: r.reach ?? [] } },
      };
    case 'reach':
      return { rid: r.rid, body: { $case: 'reach', reach: { channel: r.channel, origins: r.origins } } };
    case 'publish':
      return {
        rid: r.rid,
        body: { $case: 'publish', publish: { channel: r.channel, messages: r.messages.map(messageToPb), after: r.after, epoch: r.epoch } },
      };
    case 'range':
      return { rid: r.rid, body: { $case: 'range', range: { channel: r.channel, epoch: r.epoch, after: r.after, upto: r.upto, ...(r.maxBytes !== undefined ? { maxBytes: r.maxBytes } : {}) } } };
    case 'history':
      return { rid: r.rid, body: { $case: 'history', history: { channel: r.channel, query: queryToPb(r.query) } } };
    case 'replicate':
      return {
        rid: r.rid,
        body: {
          $case: 'replicate',
          replicate: {
            channel: r.channel,
            epoch: r.epoch,
            entries: encodeLogEntries(r.entries),
            holds: r.holds.map(holdToPb),
            forward: r.forward === true,
            origins: r.origins ?? [],
            ...(r.interestSince !== undefined ? { interestSince: r.interestSince } : {}),
            ...(r.reach ? { reach: { positions: r.reach } } : {}),
            ...(r.remoteInterest ? { remoteInterest: { items: interestToPb(r.remoteInterest) } } : {}),
            ...(r.lifecycle ? { lifecycle: r.lifecycle } : {}),
            gaps: gapsToPb(r.gaps),
            broadcastTo: r.broadcastTo ?? [],
            ...(r.discontinuity ? { discontinuity: r.discontinuity } : {}),
            ...(r.gapAt !== undefined ? { gapAt: r.gapAt } : {}),
          },
        },
      };
    case 'presence':
      return {
        rid: r.rid,
        body: { $case: 'presence', presence: { channel: r.channel, presence: r.presence.map(presenceToPb), after: r.after, since: r.since || undefined } },
      };
    case 'hold':
      return {
        rid: r.rid,
        body: { $case: 'hold', hold: { channel: r.channel, connectionId: r.connectionId, leaveInMs: r.leaveInMs ?? undefined, atOnce: r.atOnce ?? false, since: r.since || undefined } },
      };
    case 'connPut':
      return { rid: r.rid, body: { $case: 'connPut', connPut: { records: r.records.map(recordToPb) } } };
    case 'connTake':
      return { rid: r.rid, body: { $case: 'connTake', connTake: { connectionId: r.connectionId, host: r.host } } };
    case 'stats':
      return { rid: r.rid, body: { $case: 'stats', stats: { appId: r.appId, start: r.start, end: r.end } } };
    case 'occupancy':
      return { rid: r.rid, body: { $case: 'occupancy', occupancy: { channel: r.channel } } };
    case 'nonce':
      return { rid: r.rid, body: { $case: 'nonce', nonce: { key: r.key, forMs: r.forMs } } };
    case 'ingest':
      return { rid: r.rid, body: { $case: 'ingest', ingest: { batch: batchToPb(r.batch) } } };
    case 'replayLocal':
      return { rid: r.rid, body: { $case: 'replayLocal', replayLocal: { channel: r.channel, epoch: r.epoch, afterSeq: r.afterSeq, since: r.since, withMembers: r.withMembers ?? false } } };
    case 'interestList':
      return { rid: r.rid, body: { $case: 'interestList', interestList: { all: r.all, ...(r.names ? { names: r.names } : {}) } } };
    case 'subAudit':
      return { rid: r.rid, body: { $case: 'subAudit', subAudit: { count: r.count, xor: r.xor, sum: r.sum } } };
    case 'vectorRange':
      return {
        rid: r.rid,
        body: {
          $case: 'vectorRange',
          vectorRange: { channel: r.channel, origins: r.origins, upto: r.upto, ...(r.from !== undefined ? { fromRegion: r.from } : {}), ...(r.maxBytes !== undefined ? { maxBytes: r.maxBytes } : {}) },
        },
      };
    case 'presenceGet':
      return {
        rid: r.rid,
        body: { $case: 'presenceGet', presenceGet: { channel: r.channel, clientId: r.clientId, connectionId: r.connectionId } },
      };
    case 'sync':
      return {
        rid: r.rid,
        body: {
          $case: 'sync',
          sync: {
            channel: r.channel,
            snapshot: snapshotToPb(r.snapshot),
            role: r.role === 'handoff' ? pb.SyncRole.SYNC_ROLE_HANDOFF : pb.SyncRole.SYNC_ROLE_REPLICA,
          },
        },
      };
    case 'claim':
      return { rid: r.rid, body: { $case: 'claim', claim: { channel: r.channel, probe: r.probe ?? false, asked: r.asked ?? [], recent: r.recent ?? false } } };
    case 'status':
      return { rid: r.rid, body: { $case: 'status', status: { channel: r.channel } } };
  }
}

export function requestFromPb(p: pb.Request): NodeRequest {
  const r = requestBodyFromPb(p);
  if (p.toIncarnation) r.toIncarnation = p.toIncarnation;
  return r;
}

function requestBodyFromPb(p: pb.Request): NodeRequest {
  const rid = p.rid;
  const b = p.body;
  if (!b) throw new Error('request without a body');
  switch (b.$case) {
    case 'sub':
      return {
        type: 'sub',
        rid,
        channel: b.sub.channel,
        ...(b.sub.seenEpoch !== undefined && b.sub.seenSerial !== undefined ? { seen: { epoch: b.sub.seenEpoch, serial: b.sub.seenSerial } } : {}),
        ...(b.sub.reach.length ? { reach: b.sub.reach } : {}),
      };
    case 'reach':
      return { type: 'reach', rid, channel: b.reach.channel, origins: b.reach.origins };
    case 'publish':
      return {
        type: 'publish',
        rid,
        channel: b.publish.channel,
        messages: b.publish.messages.map(messageFromPb),
        ...(b.publish.after !== undefined ? { after: b.publish.after } : {}),
        ...(b.publish.epoch !== undefined ? { epoch: b.publish.epoch } : {}),
      };
    case 'range':
      return { type: 'range', rid, channel: b.range.channel, epoch: b.range.epoch, after: b.range.after, upto: b.range.upto, ...(b.range.maxBytes !== undefined ? { maxBytes: b.range.maxBytes } : {}) };
    case 'history':
      return { type: 'history', rid, channel: b.history.channel, query: queryFromPb(b.history.query!) };
    case 'replicate':
      return {
        type: 'replicate',
        rid,
        channel: b.replicate.channel,
        epoch: b.replicate.epoch,
        entries: decodeLogEntries(b.replicate.entries, true, b.replicate.broadcastTo.length > 0),
        holds: b.replicate.holds.map(holdFromPb),
        ...(b.replicate.forward ? { forward: true } : {}),
        ...(b.replicate.origins.length ? { origins: b.replicate.origins } : {}),
        ...(b.replicate.interestSince !== undefined ? { interestSince: b.replicate.interestSince } : {}),
        ...(b.replicate.reach ? { reach: b.replicate.reach.positions } : {}),
        ...(b.replicate.remoteInterest ? { remoteInterest: interestFromPb(b.replicate.remoteInterest.items) } : {}),
        ...(b.replicate.lifecycle ? { lifecycle: { ...b.replicate.lifecycle } } : {}),
        ...(b.replicate.gaps.length ? { gaps: gapsFromPb(b.replicate.gaps) } : {}),
        ...(b.replicate.broadcastTo.length ? { broadcastTo: b.replicate.broadcastTo } : {}),
        ...(b.replicate.discontinuity ? { discontinuity: b.replicate.discontinuity } : {}),
        ...(b.replicate.gapAt !== undefined ? { gapAt: b.replicate.gapAt } : {}),
      };
    case 'presence':
      return {
        type: 'presence',
        rid,
        channel: b.presence.channel,
        presence: b.presence.presence.map(presenceFromPb),
        ...(b.presence.after !== undefined ? { after: b.presence.after } : {}),
        ...(b.presence.since ? { since: b.presence.since } : {}),
      };
    case 'hold':
      return {
        type: 'hold',
        rid,
        channel: b.hold.channel,
        connectionId: b.hold.connectionId,
        leaveInMs: b.hold.leaveInMs ?? null,
        ...(b.hold.atOnce ? { atOnce: true } : {}),
        ...(b.hold.since ? { since: b.hold.since } : {}),
      };
    case 'connPut':
      return { type: 'connPut', rid, records: b.connPut.records.map(recordFromPb) };
    case 'connTake':
      return { type: 'connTake', rid, connectionId: b.connTake.connectionId, host: b.connTake.host };
    case 'stats':
      return { type: 'stats', rid, appId: b.stats.appId, start: b.stats.start, end: b.stats.end };
    case 'occupancy':
      return { type: 'occupancy', rid, channel: b.occupancy.channel };
    case 'nonce':
      return { type: 'nonce', rid, key: b.nonce.key, forMs: b.nonce.forMs };
    case 'ingest':
      return { type: 'ingest', rid, batch: batchFromPb(b.ingest.batch!) };
    case 'replayLocal':
      return {
        type: 'replayLocal',
        rid,
        channel: b.replayLocal.channel,
        epoch: b.replayLocal.epoch,
        afterSeq: b.replayLocal.afterSeq,
        ...(b.replayLocal.since !== undefined ? { since: b.replayLocal.since } : {}),
        ...(b.replayLocal.withMembers ? { withMembers: true } : {}),
      };
    case 'interestList':
      return { type: 'interestList', rid, all: b.interestList.all, ...(b.interestList.names ? { names: namesQueryFromPb(b.interestList.names) } : {}) };
    case 'subAudit':
      return { type: 'subAudit', rid, count: b.subAudit.count, xor: b.subAudit.xor, sum: b.subAudit.sum };
    case 'vectorRange':
      return {
        type: 'vectorRange',
        rid,
        channel: b.vectorRange.channel,
        origins: b.vectorRange.origins,
        upto: b.vectorRange.upto,
        ...(b.vectorRange.fromRegion !== undefined ? { from: b.vectorRange.fromRegion } : {}),
        ...(b.vectorRange.maxBytes !== undefined ? { maxBytes: b.vectorRange.maxBytes } : {}),
      };
    case 'presenceGet': {
      const g = b.presenceGet;
      return {
        type: 'presenceGet',
        rid,
        channel: g.channel,
        ...(g.clientId !== undefined ? { clientId: g.clientId } : {}),
        ...(g.connectionId !== undefined ? { connectionId: g.connectionId } : {}),
      };
    }
    case 'sync':
      return {
        type: 'sync',
        rid,
        channel: b.sync.channel,
        snapshot: snapshotFromPb(b.sync.snapshot!),
        role: b.sync.role === pb.SyncRole.SYNC_ROLE_HANDOFF ? 'handoff' : 'replica',
      };
    case 'claim':
      return { type: 'claim', rid, channel: b.claim.channel, probe: b.claim.probe, ...(b.claim.asked.length ? { asked: b.claim.asked } : {}), ...(b.claim.recent ? { recent: true } : {}) };
    case 'status':
      return { type: 'status', rid, channel: b.status.channel };
  }
}

function namesQueryFromPb(q: pb.ChannelNamesQuery): ChannelNamesQuery {
  return { appId: q.appId, prefix: q.prefix, limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}) };
}
