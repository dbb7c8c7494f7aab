/**
 * The one codec between region-link frames (`src/gen/region.pb.ts`) and domain types.
 */
import * as pb from '../gen/region.pb.js';
import { ForwardedEntries } from '../transport/entry-lists.js';
import { membersFromPb, membersToPb, occupancyFromPb } from '../transport/node-codec-data.js';
import type { ChannelHead, ForwardedBatch, RegionWord } from '../transport/messages.js';
import type { ChannelKey } from '../channel/entry.js';
import type { InterestDelta, InterestItem } from './interest.js';
import type { ClockPing } from './link-clock.js';
import type { Revocation } from '../auth/revocations.js';

export type LinkFrame =
  | { type: 'hello'; region: string; deployment: string; incarnation: number; node: string; protocol: number; now: number }
  /** `more`: a part, and others follow (interest.ts, snapshotParts). */
  | { type: 'snapshot'; version: number; channels: InterestItem[]; more?: boolean }
  | { type: 'delta'; delta: InterestDelta }
  | { type: 'snapshotRequest' }
  | { type: 'forward'; batch: ForwardedBatch; replyTo: number; toRegion: string | null }
  | { type: 'ack'; channel: string; epoch: string; seq: number }
  | { type: 'replay'; id: number; channel: string; epoch: string; afterSeq: number; since?: number }
  | { type: 'heads'; heads: ChannelHead[] }
  | ({ type: 'ping' } & ClockPing)
  | { type: 'revocations'; entries: Revocation[] }
  | ({ type: 'occupancy'; channel: ChannelKey } & RegionWord);

export function toPb(f: LinkFrame): pb.LinkFrame {
  switch (f.type) {
    case 'hello':
      return { frame: { $case: 'hello', hello: { region: f.region, deployment: f.deployment, incarnation: f.incarnation, node: f.node, protocol: f.protocol, now: f.now } } };
    case 'snapshot':
      return { frame: { $case: 'snapshot', snapshot: { version: f.version, channels: f.channels, more: f.more === true } } };
    case 'delta':
      return { frame: { $case: 'delta', delta: f.delta } };
    case 'snapshotRequest':
      return { frame: { $case: 'snapshotRequest', snapshotRequest: {} } };
    case 'forward':
      return {
        frame: {
          $case: 'forward',
          forward: {
            channel: f.batch.channel,
            originEpoch: f.batch.epoch,
            startSeq: f.batch.startSeq,
            gapBefore: f.batch.gapBefore,
            entries: f.batch.entries.encoded(),
            count: f.batch.entries.length,
            lastSeq: f.batch.entries.lastSeq,
            replyTo: f.replyTo,
            toRegion: f.toRegion ?? '',
            members: membersToPb(f.batch.members),
          },
        },
      };
    case 'ack':
      return { frame: { $case: 'ack', ack: { channel: f.channel, originEpoch: f.epoch, seq: f.seq } } };
    case 'replay':
      return { frame: { $case: 'replay', replay: { id: f.id, channel: f.channel, originEpoch: f.epoch, afterSeq: f.afterSeq, since: f.since } } };
    case 'heads':
      return { frame: { $case: 'heads', heads: { heads: f.heads.map((h) => ({ channel: h.channel, originEpoch: h.epoch, seq: h.seq })) } } };
    case 'ping':
      return { frame: { $case: 'ping', ping: { at: f.at, echoAt: f.echoAt, echoHeldMs: f.echoHeldMs } } };
    case 'revocations':
      return { frame: { $case: 'revocations', revocations: { entries: f.entries } } };
    case 'occupancy':
      return { frame: { $case: 'occupancy', occupancy: { channel: f.channel, counts: f.counts, ask: f.ask, watching: f.watching, at: f.at } } };
  }
}

/** Decodes a frame from `peerRegion` (forwarded entries are that region's). */
export function fromPb(p: pb.LinkFrame, peerRegion: string): LinkFrame {
  const f = p.frame;
  if (!f) throw new Error('empty link frame');
  switch (f.$case) {
    case 'hello':
      return { type: 'hello', ...f.hello };
    case 'snapshot':
      return { type: 'snapshot', version: f.snapshot.version, channels: f.snapshot.channels, ...(f.snapshot.more ? { more: true } : {}) };
    case 'delta':
      return { type: 'delta', delta: f.delta };
    case 'snapshotRequest':
      return { type: 'snapshotRequest' };
    case 'forward': {
      const w = f.forward;
      return {
        type: 'forward',
        batch: {
          channel: w.channel,
          region: peerRegion,
          epoch: w.originEpoch,
          ...(w.startSeq !== undefined ? { startSeq: w.startSeq } : {}),
          gapBefore: w.gapBefore,
          // Decoded only by the channel master that stores them.
          entries: ForwardedEntries.fromBytes(w.entries, w.count, w.lastSeq),
          ...(w.members ? { members: membersFromPb(w.members) } : {}),
        },
        replyTo: w.replyTo,
        toRegion: w.toRegion || null,
      };
    }
    case 'ack':
      return { type: 'ack', channel: f.ack.channel, epoch: f.ack.originEpoch, seq: f.ack.seq };
    case 'replay':
      return {
        type: 'replay',
        id: f.replay.id,
        channel: f.replay.channel,
        epoch: f.replay.originEpoch,
        afterSeq: f.replay.afterSeq,
        ...(f.replay.since !== undefined ? { since: f.replay.since } : {}),
      };
    case 'heads':
      return { type: 'heads', heads: f.heads.heads.map((h) => ({ channel: h.channel, epoch: h.originEpoch, seq: h.seq })) };
    case 'ping':
      return { type: 'ping', ...f.ping };
    case 'revocations':
      return { type: 'revocations', entries: f.revocations.entries };
    case 'occupancy':
      return {
        type: 'occupancy',
        channel: f.occupancy.channel,
        counts: occupancyFromPb(f.occupancy.counts),
        ask: f.occupancy.ask,
        watching: f.occupancy.watching,
        at: f.occupancy.at,
      };
  }
}
