/**
 * One connection's attachment to one channel: its granted modes, and the LocalSubscriber
 * through which the channel client delivers to it.
 */
import type { AblyError } from '../errors.js';
import type { LocalSubscriber } from '../channel/client.js';
import type { ChannelClient } from '../channel/client.js';
import type { ChannelKey, LogEntry } from '../channel/entry.js';
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
  client: ChannelClient | null = null;
  /** Channel ops on this attachment run one after another. */
  chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly owner: AttachmentOwner,
    readonly key: ChannelKey,
    /** The name as the client sent it (qualifier included): frames echo it. */
    readonly channelName: string,
    readonly params: Record<string, string>,
  ) {}

  get connectionId(): string {
    return this.owner.id;
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

  wants(kind: LogEntry['kind']): boolean {
    return kind === 'message' ? (this.modes & Flag.SUBSCRIBE) !== 0 : (this.modes & Flag.PRESENCE_SUBSCRIBE) !== 0;
  }

  send(frames: readonly (Frame | SharedFrame)[]): void {
    if (this.state === 'attached') this.owner.sendFrames(frames);
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
    });
    if (sync) this.owner.sendFrames(syncFrames(this.channelName, members, this.format, nextSyncId()));
  }
}
