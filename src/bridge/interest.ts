/**
 * Interest: which channels a region has attached connections on. Pure.
 *
 * `LocalInterest` is this region's set as its globalmaster knows it (from the channel
 * masters), with a version that goes up by one per change, so peers apply deltas in
 * order and ask for a snapshot when one is missing. `RemoteInterest` is what the other
 * regions said about theirs.
 */
import type { ChannelKey } from '../channel/entry.js';

export interface InterestItem {
  channel: ChannelKey;
  /** When the interest began (ms, the interested region's clock). */
  since: number;
}

export interface InterestDelta {
  version: number;
  added: InterestItem[];
  removed: ChannelKey[];
}

/** Audits in a row a channel must be missing from the masters' lists before it is dropped. */
export const AUDIT_MISSES_TO_DROP = 2;

/**
 * An interest snapshot goes in parts of at most this many channels, or about this many
 * bytes: each crosses a narrow link (2 Mbit/s) well inside its silence limit (4 s), where
 * one frame of 2 MB did not, so the link was dropped and the snapshot sent again, for as
 * long as the link stayed narrow (a review's reproduction, fifty-third session).
 */
const SNAPSHOT_PART_CHANNELS = 1000;
const SNAPSHOT_PART_BYTES = 256 * 1024;

export interface InterestSnapshot {
  version: number;
  channels: InterestItem[];
}

/** A snapshot as the parts it is sent in, in order: each but the last says `more`. */
export function snapshotParts(s: InterestSnapshot): (InterestSnapshot & { more: boolean })[] {
  const parts: InterestItem[][] = [[]];
  let bytes = 0;
  for (const c of s.channels) {
    const size = Buffer.byteLength(c.channel) + 16;
    const last = parts[parts.length - 1]!;
    if (last.length > 0 && (last.length >= SNAPSHOT_PART_CHANNELS || bytes + size > SNAPSHOT_PART_BYTES)) {
      parts.push([c]);
      bytes = size;
    } else {
      last.push(c);
      bytes += size;
    }
  }
  return parts.map((channels, i) => ({ version: s.version, channels, more: i < parts.length - 1 }));
}

/** A snapshot's parts put together as they come over one link session (in order). */
export class SnapshotParts {
  private pending: InterestSnapshot | null = null;

  /** The whole snapshot once its last part is here, else null. A part of another version begins another. */
  add(part: InterestSnapshot & { more?: boolean }): InterestSnapshot | null {
    if (!this.pending || this.pending.version !== part.version) this.pending = { version: part.version, channels: [] };
    for (const c of part.channels) this.pending.channels.push(c);
    if (part.more) return null;
    const whole = this.pending;
    this.pending = null;
    return whole;
  }
}

export class LocalInterest {
  private readonly channels = new Map<ChannelKey, number>();
  /** Channels held here that the last audits did not find, and how many times in a row. */
  private readonly missing = new Map<ChannelKey, number>();
  private v = 0;

  get version(): number {
    return this.v;
  }

  get size(): number {
    return this.channels.size;
  }

  has(channel: ChannelKey): boolean {
    return this.channels.has(channel);
  }

  /** Records a change; returns the delta to send, or null when nothing changed. */
  set(channel: ChannelKey, on: boolean, since: number): InterestDelta | null {
    this.missing.delete(channel);
    if (on === this.channels.has(channel)) return null;
    this.v++;
    if (on) {
      this.channels.set(channel, since);
      return { version: this.v, added: [{ channel, since }], removed: [] };
    }
    this.channels.delete(channel);
    return { version: this.v, added: [], removed: [channel] };
  }

  /**
   * Checks this set against what the masters listed as having subscribers (a report may
   * have been lost while the globalmaster role moved). A listed channel missing here is
   * added at once; one held here but not listed is dropped only after it is missing from
   * AUDIT_MISSES_TO_DROP complete audits in a row (a list may predate an interest that
   * began since), and never on an incomplete one (a node did not answer).
   */
  audit(listed: ReadonlyMap<ChannelKey, number>, complete: boolean): InterestDelta[] {
    const deltas: InterestDelta[] = [];
    for (const [channel, since] of listed) {
      const d = this.set(channel, true, since);
      if (d) deltas.push(d);
    }
    for (const c of this.missing.keys()) if (!this.channels.has(c)) this.missing.delete(c);
    if (!complete) return deltas;
    for (const channel of [...this.channels.keys()]) {
      if (listed.has(channel)) continue;
      const misses = (this.missing.get(channel) ?? 0) + 1;
      if (misses < AUDIT_MISSES_TO_DROP) {
        this.missing.set(channel, misses);
        continue;
      }
      const d = this.set(channel, false, 0);
      if (d) deltas.push(d);
    }
    return deltas;
  }

  snapshot(): InterestSnapshot {
    return { version: this.v, channels: [...this.channels].map(([channel, since]) => ({ channel, since })) };
  }
}

/** What one peer region has said about its interest. */
export class RemoteInterest {
  private readonly channels = new Map<ChannelKey, number>();
  private v = -1;

  has(channel: ChannelKey): boolean {
    return this.channels.has(channel);
  }

  since(channel: ChannelKey): number | undefined {
    return this.channels.get(channel);
  }

  /** Replaces everything; returns the channels whose interest changed. */
  applySnapshot(version: number, items: readonly InterestItem[]): ChannelKey[] {
    const next = new Map(items.map((i) => [i.channel, i.since]));
    const changed: ChannelKey[] = [];
    for (const c of this.channels.keys()) if (!next.has(c)) changed.push(c);
    for (const c of next.keys()) if (!this.channels.has(c)) changed.push(c);
    this.channels.clear();
    for (const [c, s] of next) this.channels.set(c, s);
    this.v = version;
    return changed;
  }

  /** Applies a delta; null when it does not follow the last version (ask for a snapshot). */
  applyDelta(d: InterestDelta): ChannelKey[] | null {
    if (d.version !== this.v + 1) return null;
    this.v = d.version;
    const changed: ChannelKey[] = [];
    for (const a of d.added) {
      if (!this.channels.has(a.channel)) changed.push(a.channel);
      this.channels.set(a.channel, a.since);
    }
    for (const c of d.removed) if (this.channels.delete(c)) changed.push(c);
    return changed;
  }

  channelList(): ChannelKey[] {
    return [...this.channels.keys()];
  }
}
