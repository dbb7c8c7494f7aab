/**
 * One connection's attachment to one channel: its granted modes, and the LocalSubscriber
 * through which the channel client delivers to it.
 */
import type { AblyError } from '../errors.js';
import type { Capability } from '../auth/capability.js';
import { parseChannelName, type ParsedChannelName } from '../protocol/channel-name.js';
import type { LocalSubscriber } from '../channel/subscriber.js';
import type { ChannelClient } from '../channel/client.js';
import type { ChannelKey, LogEntry } from '../channel/entry.js';
import type { OccupancyWanted } from '../channel/occupancy.js';
import type { MessageFilter } from '../channel/filter.js';
import { Action, Flag } from '../protocol/actions.js';
import type { Frame } from '../protocol/codec.js';
import { nextSyncId, syncFrames } from '../protocol/frames.js';
import type { PresenceMessage } from '../protocol/message.js';
import type { SharedFrame } from '../protocol/shared-frame.js';
import type { ProtocolMessage, WireFormat } from '../protocol/types.js';

export type AttachmentState = 'attaching' | 'attached' | 'detaching' | 'detached';

/** What an Attachment needs from its connection. */
export interface AttachmentOwner {
  readonly id: string;
  readonly format: WireFormat;
  readonly echo: boolean;
  /** Frames of one delivery, in order (the outbound limit is checked once for them). */
  sendFrames(frames: readonly (Frame | SharedFrame)[]): void;
  sendMessage(pm: ProtocolMessage): void;
}

export class Attachment implements LocalSubscriber {
  state: AttachmentState = 'attaching';
  /** Granted mode flags (Flag.PUBLISH | Flag.SUBSCRIBE | …). */
  modes = 0;
  /** The modes its last ATTACH asked for: what a new token's capability grants of them (an in-band AUTH), more or fewer. */
  requested = 0;
  client: ChannelClient | null = null;
  /** Channel ops on this attachment run one after another. */
  chain: Promise<void> = Promise.resolve();
  /** The occupancy events it asked for (set at each attach from `params`). */
  occupancy: OccupancyWanted | null = null;
  /** Whether it asked for deltas (set at each attach from `params`: delta.ts). */
  delta = false;
  constructor(
    private readonly owner: AttachmentOwner,
    readonly key: ChannelKey,
    /** The name as the client sent it (qualifier included): frames echo it. */
    readonly channelName: string,
    /** Its channel params: the qualifier's and the last ATTACH's. */
    public params: Record<string, string>,
    /** The subscription filter of a `[filter=…]` name (filter.ts): its name says, whatever becomes of its ATTACHes. */
    readonly filter: MessageFilter | null = null,
  ) {}

  get connectionId(): string {
    return this.owner.id;
  }

  /**
   * Takes what a new capability (an in-band AUTH) grants of the modes its last ATTACH asked
   * for, more or fewer (RTC8a1), and no occupancy events without channel-metadata: the
   * modes it lost, or null where it grants none.
   */
  regrant(capability: Capability): number | null {
    const parsed = parseChannelName(this.channelName);
    const modes = this.requested & permittedModes(capability, parsed);
    if (modes === 0) return null;
    const lost = this.modes & ~modes;
    this.modes = modes;
    if (!capability.opsFor(parsed.name).has('channel-metadata')) this.occupancy = null;
    return lost;
  }

  get format(): WireFormat {
    return this.owner.format;
  }

  get echo(): boolean {
    return this.owner.echo;
  }

  get publishes(): boolean {
    return (this.modes & Flag.PUBLISH) !== 0;
  }

  get enters(): boolean {
    return (this.modes & Flag.PRESENCE) !== 0;
  }

  /** The params an attach applied, for ATTACHED (RTL4k1: the SDK shows them as channel.params); others are ignored. */
  applied(rewind: boolean): { params?: Record<string, string> } {
    const params: Record<string, string> = {};
    if (rewind) params.rewind = this.params.rewind!;
    if (rewind && this.params.rewindLimit !== undefined) params.rewindLimit = this.params.rewindLimit;
    if (this.occupancy) params.occupancy = this.params.occupancy!;
    if (this.delta) params.delta = this.params.delta!;
    return Object.keys(params).length ? { params } : {};
  }

  get annotations(): boolean {
    return (this.modes & Flag.ANNOTATION_SUBSCRIBE) !== 0;
  }

  wants(kind: LogEntry['kind']): boolean {
    return kind === 'message' ? (this.modes & Flag.SUBSCRIBE) !== 0 : (this.modes & Flag.PRESENCE_SUBSCRIBE) !== 0;
  }

  send(frames: readonly (Frame | SharedFrame)[]): void {
    if (this.state === 'attached') this.owner.sendFrames(frames);
  }

  position(channelSerial: string): void {
    if (this.state !== 'attached') return;
    // The params again: the SDK takes an ATTACHED's as the channel's (RTL4k1).
    this.owner.sendMessage({ action: Action.ATTACHED, channel: this.channelName, flags: this.modes | Flag.RESUMED, channelSerial, ...this.applied(false) });
  }

  discontinuity(error: AblyError, channelSerial: string, members: readonly PresenceMessage[]): void {
    if (this.state !== 'attached') return;
    // An ATTACHED without RESUMED on an attached channel: the SDK emits UPDATE with
    // resumed=false and this error, re-enters its presence members, and takes the
    // presence set afresh: from the SYNC that HAS_PRESENCE announces, or as empty.
    const sync = members.length > 0 && this.wants('presence');
    this.owner.sendMessage({
      action: Action.ATTACHED,
      channel: this.channelName,
      flags: this.modes | (sync ? Flag.HAS_PRESENCE : 0),
      channelSerial,
      error: error.toInfo(),
      // The SDK takes an ATTACHED's params as the channel's, none as none (RTL4k1).
      ...this.applied(false),
    });
    if (sync) this.owner.sendFrames(syncFrames(this.channelName, members, this.format, nextSyncId()));
  }
}

/** The modes a capability allows on a channel: a filtered one is for subscribing to messages only. */
export function permittedModes(capability: Capability, channel: ParsedChannelName): number {
  const ops = capability.opsFor(channel.resource);
  if (channel.filter) return ops.has('subscribe') ? Flag.SUBSCRIBE : 0;
  let modes = 0;
  if (ops.has('publish')) modes |= Flag.PUBLISH;
  if (ops.has('subscribe')) modes |= Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE;
  if (ops.has('presence')) modes |= Flag.PRESENCE;
  if (ops.has('annotation-publish')) modes |= Flag.ANNOTATION_PUBLISH;
  if (ops.has('annotation-subscribe')) modes |= Flag.ANNOTATION_SUBSCRIBE;
  return modes;
}
