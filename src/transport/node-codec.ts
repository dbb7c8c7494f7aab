/**
 * The one codec between node-to-node domain messages (`messages.ts`) and their protobuf
 * form (`src/gen/node.pb.ts`), used by every transport that crosses a process boundary.
 * Channel data converts in `node-codec-data.ts`.
 */
import * as pb from '../gen/node.pb.js';
import { encodeChunksWithSharedWriter, encodeWithSharedWriter } from './pb-writer.js';
import { decodeLogEntries, encodeLogEntries, ForwardedEntries } from './entry-lists.js';
import type { MemberInfo, MemberState, NodeMessage, RecentId, ReplyBody } from './messages.js';
import { requestFromPb, requestToPb } from './node-codec-requests.js';
import {
  batchFromPb,
  batchToPb,
  entryFromPb,
  entryToPb,
  errorFromPb,
  errorToPb,
  gapsFromPb,
  gapsToPb,
  interestFromPb,
  interestToPb,
  membersFromPb,
  membersToPb,
  occupancyFromPb,
  presenceFromPb,
  presenceToPb,
  recordFromPb,
  recordToPb,
  snapshotFromPb,
  snapshotToPb,
} from './node-codec-data.js';

export { messageFromPb, messageToPb, presenceFromPb, presenceToPb } from './node-codec-data.js';

// ---- membership ---------------------------------------------------------------------

const STATE_TO_PB: Record<MemberState, pb.MemberState> = {
  up: pb.MemberState.MEMBER_STATE_UP,
  suspect: pb.MemberState.MEMBER_STATE_SUSPECT,
  down: pb.MemberState.MEMBER_STATE_DOWN,
  left: pb.MemberState.MEMBER_STATE_LEFT,
};

function stateFromPb(s: pb.MemberState): MemberState {
  switch (s) {
    case pb.MemberState.MEMBER_STATE_UP:
      return 'up';
    case pb.MemberState.MEMBER_STATE_SUSPECT:
      return 'suspect';
    case pb.MemberState.MEMBER_STATE_LEFT:
      return 'left';
    default:
      return 'down';
  }
}

function memberFromPb(m: pb.MemberInfo): MemberInfo {
  return {
    node: m.node,
    incarnation: m.incarnation,
    state: stateFromPb(m.state),
    address: m.address ?? { host: '', port: 0, meshPort: 0 },
  };
}

// ---- replies (requests: node-codec-requests.ts) ------------------------------------------

function replyToPb(rid: number, r: ReplyBody): pb.Reply {
  switch (r.kind) {
    case 'subscribed':
      return {
        rid,
        body: {
          $case: 'subscribed',
          subscribed: { epoch: r.epoch, serial: r.serial, channelSerial: r.channelSerial, presence: r.presence.map(presenceToPb), term: r.term ?? 0 },
        },
      };
    case 'members':
      return { rid, body: { $case: 'members', members: { members: r.members.map(presenceToPb) } } };
    case 'connection':
      return { rid, body: { $case: 'connection', connection: { record: r.record ? recordToPb(r.record) : undefined } } };
    case 'stats':
      return { rid, body: { $case: 'stats', stats: { buckets: r.buckets } } };
    case 'occupancy': {
      const { kind: _k, ...o } = r;
      return { rid, body: { $case: 'occupancy', occupancy: o } };
    }
    case 'ingested':
      return { rid, body: { $case: 'ingested', ingested: { seq: r.seq, replayAfter: r.replayAfter ?? undefined, startSince: r.startSince } } };
    case 'local':
      return {
        rid,
        body: {
          $case: 'local',
          local: {
            epoch: r.epoch,
            startSeq: r.startSeq,
            gap: r.gap,
            entries: r.entries.encoded(),
            count: r.entries.length,
            lastSeq: r.entries.lastSeq,
            members: membersToPb(r.members),
          },
        },
      };
    case 'interest':
      return {
        rid,
        body: {
          $case: 'interest',
          interest: {
            mastered: r.mastered.map((m) => ({
              channel: m.channel,
              on: m.on,
              since: m.since,
              remote: interestToPb(m.remote),
              head: m.head ? { channel: '', epoch: m.head.epoch, seq: m.head.seq } : undefined,
            })),
          },
        },
      };
    case 'vector':
      return { rid, body: { $case: 'vector', vector: { entries: r.entries.map(entryToPb), gap: r.gap ?? undefined, ...(r.lost ? { lost: errorToPb(r.lost) } : {}) } } };
    case 'subAudit':
      return { rid, body: { $case: 'subAudit', subAudit: { match: r.match, channels: r.channels } } };
    case 'channelNames':
      return { rid, body: { $case: 'channelNames', channelNames: { names: r.names } } };
    case 'published':
      return { rid, body: { $case: 'published', published: { serials: r.serials, epoch: r.epoch } } };
    case 'entries':
      return { rid, body: { $case: 'entries', entries: { entries: r.entries.map(entryToPb), more: r.more, gaps: gapsToPb(r.gaps) } } };
    case 'ok':
      return { rid, body: { $case: 'ok', ok: { forwarded: r.forwarded === true, broadcast: r.broadcast === true } } };
    case 'snapshot':
      return {
        rid,
        body: {
          $case: 'snapshot',
          snapshot: {
            snapshot: r.snapshot ? snapshotToPb(r.snapshot) : undefined,
            ...(r.seen ? { seenEpoch: r.seen.epoch, seenSerial: r.seen.serial } : {}),
            seenReach: r.seen?.reach ?? [],
            recentKeys: r.recent?.map((x) => x.key) ?? [],
            recentSerials: r.recent?.map((x) => x.serial) ?? [],
            recentAges: r.recent?.map((x) => x.age ?? 0) ?? [],
          },
        },
      };
    case 'status':
      return {
        rid,
        body: {
          $case: 'status',
          status: {
            status: r.status
              ? { ...r.status, replica: r.status.replica ?? undefined, remoteInterest: interestToPb(r.status.remoteInterest) }
              : undefined,
          },
        },
      };
    case 'error':
      return { rid, body: { $case: 'error', error: errorToPb(r.error) } };
    case 'redirect':
      return { rid, body: { $case: 'redirect', redirect: { owner: r.owner ?? undefined } } };
    case 'retry':
      return { rid, body: { $case: 'retry', retry: { reason: r.reason } } };
  }
}

function replyFromPb(p: pb.Reply): ReplyBody {
  const b = p.body;
  if (!b) throw new Error('reply without a body');
  switch (b.$case) {
    case 'subscribed':
      return {
        kind: 'subscribed',
        epoch: b.subscribed.epoch,
        serial: b.subscribed.serial,
        channelSerial: b.subscribed.channelSerial,
        presence: b.subscribed.presence.map(presenceFromPb),
        ...(b.subscribed.term ? { term: b.subscribed.term } : {}),
      };
    case 'members':
      return { kind: 'members', members: b.members.members.map(presenceFromPb) };
    case 'connection':
      return { kind: 'connection', record: b.connection.record ? recordFromPb(b.connection.record) : null };
    case 'stats':
      return { kind: 'stats', buckets: b.stats.buckets.map((x) => ({ minute: x.minute, entries: { ...x.entries } })) };
    case 'occupancy':
      return { kind: 'occupancy', ...occupancyFromPb(b.occupancy) };
    case 'ingested':
      return {
        kind: 'ingested',
        seq: b.ingested.seq,
        replayAfter: b.ingested.replayAfter ?? null,
        ...(b.ingested.startSince !== undefined ? { startSince: b.ingested.startSince } : {}),
      };
    case 'local': {
      // The globalmaster passes these on to another region as they are.
      const l = b.local;
      return {
        kind: 'local',
        epoch: l.epoch,
        startSeq: l.startSeq,
        gap: l.gap,
        entries: ForwardedEntries.fromBytes(l.entries, l.count, l.lastSeq),
        ...(l.members ? { members: membersFromPb(l.members) } : {}),
      };
    }
    case 'interest':
      return {
        kind: 'interest',
        mastered: b.interest.mastered.map((m) => ({
          channel: m.channel,
          on: m.on,
          since: m.since,
          remote: interestFromPb(m.remote),
          ...(m.head ? { head: { epoch: m.head.epoch, seq: m.head.seq } } : {}),
        })),
      };
    case 'vector':
      return {
        kind: 'vector',
        entries: b.vector.entries.map(entryFromPb),
        gap: b.vector.gap ?? null,
        ...(b.vector.lost ? { lost: errorFromPb(b.vector.lost) } : {}),
      };
    case 'subAudit':
      return { kind: 'subAudit', match: b.subAudit.match, channels: b.subAudit.channels };
    case 'channelNames':
      return { kind: 'channelNames', names: b.channelNames.names };
    case 'published':
      return { kind: 'published', serials: b.published.serials, epoch: b.published.epoch };
    case 'entries':
      return {
        kind: 'entries',
        entries: b.entries.entries.map(entryFromPb),
        more: b.entries.more,
        ...(b.entries.gaps.length ? { gaps: gapsFromPb(b.entries.gaps) } : {}),
      };
    case 'ok':
      return { kind: 'ok', ...(b.ok.forwarded ? { forwarded: true } : {}), ...(b.ok.broadcast ? { broadcast: true } : {}) };
    case 'snapshot':
      return {
        kind: 'snapshot',
        snapshot: b.snapshot.snapshot ? snapshotFromPb(b.snapshot.snapshot) : null,
        ...(b.snapshot.seenEpoch !== undefined && b.snapshot.seenSerial !== undefined
          ? { seen: { epoch: b.snapshot.seenEpoch, serial: b.snapshot.seenSerial, ...(b.snapshot.seenReach.length ? { reach: b.snapshot.seenReach } : {}) } }
          : {}),
        ...recentFromPb(b.snapshot),
      };
    case 'status': {
      const s = b.status.status;
      return {
        kind: 'status',
        status: s
          ? {
              channel: s.channel,
              master: s.master,
              replica: s.replica ?? null,
              epoch: s.epoch,
              serial: s.serial,
              channelSerial: s.channelSerial,
              retained: s.retained,
              subscriberNodes: s.subscriberNodes,
              remoteInterest: interestFromPb(s.remoteInterest),
              presenceHosts: s.presenceHosts,
            }
          : null,
      };
    }
    case 'error':
      return { kind: 'error', error: errorFromPb(b.error) };
    case 'redirect':
      return { kind: 'redirect', owner: b.redirect.owner ?? null };
    case 'retry':
      return { kind: 'retry', reason: b.retry.reason };
  }
}

// ---- envelopes -----------------------------------------------------------------------

export function toEnvelope(msg: NodeMessage): pb.Envelope {
  switch (msg.type) {
    case 'heartbeat':
      return {
        msg: {
          $case: 'heartbeat',
          heartbeat: {
            node: msg.node,
            incarnation: msg.incarnation,
            address: msg.address,
            members: msg.members.map((m) => ({ ...m, state: STATE_TO_PB[m.state] })),
            leaving: msg.leaving,
            quorum: msg.quorum,
            now: msg.now,
            revocations: msg.revocations,
          },
        },
      };
    case 'reply':
      return { msg: { $case: 'reply', reply: replyToPb(msg.rid, msg.body) } };
    case 'broadcast':
      return {
        msg: {
          $case: 'broadcast',
          broadcast: { channel: msg.channel, epoch: msg.epoch, entries: encodeLogEntries(msg.entries), discontinuity: msg.discontinuity, gapAt: msg.gapAt },
        },
      };
    case 'toRegions':
      return { msg: { $case: 'toRegions', toRegions: { batch: batchToPb(msg.batch), to: msg.to ?? undefined, more: msg.more === true } } };
    case 'interest':
      return { msg: { $case: 'interest', interest: { channel: msg.channel, on: msg.on, since: msg.since } } };
    case 'remoteInterest':
      return {
        msg: {
          $case: 'remoteInterest',
          remoteInterest: { channel: msg.channel, regions: interestToPb(msg.regions), keep: msg.keep ?? [] },
        },
      };
    case 'replayWanted':
      return {
        msg: {
          $case: 'replayWanted',
          replayWanted: { channel: msg.channel, region: msg.region, epoch: msg.epoch, afterSeq: msg.afterSeq, since: msg.since },
        },
      };
    case 'relinked':
      return { msg: { $case: 'relinked', relinked: { region: msg.region } } };
    case 'originHeads':
      return { msg: { $case: 'originHeads', originHeads: { region: msg.region, heads: msg.heads } } };
    case 'unsub':
      return { msg: { $case: 'unsub', unsub: { channel: msg.channel } } };
    case 'occupancyReport':
      return {
        msg: {
          $case: 'occupancyReport',
          occupancyReport: { channel: msg.channel, counts: msg.counts, watchers: msg.watchers, fresh: msg.fresh, moved: msg.moved },
        },
      };
    case 'occupancyTotals':
      return { msg: { $case: 'occupancyTotals', occupancyTotals: { channel: msg.channel, counts: msg.counts } } };
    case 'occupancyRegion':
      return { msg: { $case: 'occupancyRegion', occupancyRegion: { channel: msg.channel, region: msg.region, counts: msg.counts, ask: msg.ask, watching: msg.watching, at: msg.at, spare: msg.spare === true } } };
    case 'connMoved':
      return { msg: { $case: 'connMoved', connMoved: { connectionId: msg.connectionId } } };
    case 'connDrop':
      return { msg: { $case: 'connDrop', connDrop: { connectionId: msg.connectionId } } };
    case 'revocations':
      return { msg: { $case: 'revocations', revocations: { entries: msg.entries } } };
    default:
      return { msg: { $case: 'request', request: requestToPb(msg) } };
  }
}

export function fromEnvelope(env: pb.Envelope): NodeMessage {
  const m = env.msg;
  if (!m) throw new Error('empty envelope');
  switch (m.$case) {
    case 'heartbeat': {
      const h = m.heartbeat;
      return {
        type: 'heartbeat',
        node: h.node,
        incarnation: h.incarnation,
        address: h.address ?? { host: '', port: 0, meshPort: 0 },
        members: h.members.map(memberFromPb),
        leaving: h.leaving,
        quorum: h.quorum,
        ...(h.now !== undefined ? { now: h.now } : {}),
        ...(h.revocations !== undefined ? { revocations: h.revocations } : {}),
      };
    }
    case 'request':
      return requestFromPb(m.request);
    case 'reply':
      return { type: 'reply', rid: m.reply.rid, body: replyFromPb(m.reply) };
    case 'broadcast': {
      const b = m.broadcast;
      return {
        type: 'broadcast',
        channel: b.channel,
        epoch: b.epoch,
        entries: decodeLogEntries(b.entries),
        ...(b.discontinuity ? { discontinuity: b.discontinuity } : {}),
        ...(b.gapAt !== undefined ? { gapAt: b.gapAt } : {}),
      };
    }
    case 'toRegions':
      return { type: 'toRegions', batch: batchFromPb(m.toRegions.batch!), to: m.toRegions.to ?? null, ...(m.toRegions.more ? { more: true } : {}) };
    case 'interest':
      return { type: 'interest', channel: m.interest.channel, on: m.interest.on, since: m.interest.since };
    case 'remoteInterest':
      return {
        type: 'remoteInterest',
        channel: m.remoteInterest.channel,
        regions: interestFromPb(m.remoteInterest.regions),
        ...(m.remoteInterest.keep.length ? { keep: m.remoteInterest.keep } : {}),
      };
    case 'replayWanted': {
      const r = m.replayWanted;
      return { type: 'replayWanted', channel: r.channel, region: r.region, epoch: r.epoch, afterSeq: r.afterSeq, ...(r.since !== undefined ? { since: r.since } : {}) };
    }
    case 'relinked':
      return { type: 'relinked', region: m.relinked.region };
    case 'originHeads':
      return { type: 'originHeads', region: m.originHeads.region, heads: m.originHeads.heads.map((h) => ({ channel: h.channel, epoch: h.epoch, seq: h.seq })) };
    case 'unsub':
      return { type: 'unsub', channel: m.unsub.channel };
    case 'occupancyReport': {
      const r = m.occupancyReport;
      return { type: 'occupancyReport', channel: r.channel, counts: occupancyFromPb(r.counts), watchers: r.watchers, fresh: r.fresh, moved: r.moved };
    }
    case 'occupancyTotals':
      return { type: 'occupancyTotals', channel: m.occupancyTotals.channel, counts: occupancyFromPb(m.occupancyTotals.counts) };
    case 'occupancyRegion': {
      const r = m.occupancyRegion;
      return { type: 'occupancyRegion', channel: r.channel, region: r.region, counts: occupancyFromPb(r.counts), ask: r.ask, watching: r.watching, at: r.at, ...(r.spare ? { spare: true } : {}) };
    }
    case 'connMoved':
      return { type: 'connMoved', connectionId: m.connMoved.connectionId };
    case 'connDrop':
      return { type: 'connDrop', connectionId: m.connDrop.connectionId };
    case 'revocations':
      return { type: 'revocations', entries: m.revocations.entries };
  }
}

export function encodeNodeMessage(msg: NodeMessage): Uint8Array {
  return encodeWithSharedWriter(pb.Envelope.encode, toEnvelope(msg));
}

/** The same bytes as `encodeNodeMessage`, as pieces that reference the message's large byte fields (for the mesh). */
export function encodeNodeMessageChunks(msg: NodeMessage): Uint8Array[] {
  return encodeChunksWithSharedWriter(pb.Envelope.encode, toEnvelope(msg));
}

export function decodeNodeMessage(buf: Uint8Array): NodeMessage {
  return fromEnvelope(pb.Envelope.decode(buf));
}

/** A claim answer's recent ids, key for serial; none where the lists do not match. */
function recentFromPb(s: pb.SnapshotReply): { recent?: RecentId[] } {
  const { recentKeys: keys, recentSerials: serials, recentAges: ages } = s;
  if (keys.length === 0 || keys.length !== serials.length) return {};
  const aged = ages.length === keys.length;
  return { recent: keys.map((key, i) => ({ key, serial: serials[i]!, ...(aged && ages[i] ? { age: ages[i] } : {}) })) };
}
