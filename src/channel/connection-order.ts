/**
 * One realtime connection's messages in its own order at a channel's master. The gateway
 * gives each message of a realtime publish the id `connectionId:msgSerial:index`, and a
 * connection's publishes reach the master through one ordered stream (publisher.ts). But
 * two streams of one connection can reach a master at once: the connection resumed on
 * another node while its old node, cut off from its region, still held its unanswered
 * publishes and sent them again once back (chaos seed 1220 with `--pairs`: a publisher's
 * 227–229 were ordered after its 230–259). Whichever comes first, a message that is not
 * ordered yet and whose msgSerial is below one of its connection's already ordered here
 * would break the one-publisher order, so it is refused (`behind`): the publisher is told
 * it may or may not have been published, never given out of order.
 *
 * Part of the channel's state (ChannelState.connectionOrder), and made again from what
 * the state holds, not sent: the master notes what it orders, the replica what it
 * applies, and a state restored from a snapshot (a handoff, a claim's copy, a replica's
 * sync) takes it from the retained log. So a master that takes the channel over refuses
 * the same messages (those its log still holds the later ones of). Bounded: past
 * MAX_CONNECTIONS publishing connections on one channel it starts again (about 0.4 MB at
 * most per channel).
 */
import type { Message } from '../protocol/message.js';

const MAX_CONNECTIONS = 4096;

/** What the order reads of a message: its id and connection id. */
export type MessageIds = Pick<Message, 'id' | 'connectionId'>;

/** The msgSerial an id the gateway gave (`m.connectionId:msgSerial:index`) names; -1 for an id the publisher chose. */
export function msgSerialOf(m: MessageIds): number {
  const c = m.connectionId;
  if (c === undefined || m.id.length <= c.length + 1 || m.id.charCodeAt(c.length) !== 58 /* ':' */ || !m.id.startsWith(c)) return -1;
  const end = m.id.indexOf(':', c.length + 1);
  if (end < 0) return -1;
  const n = Number(m.id.slice(c.length + 1, end));
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

export class ConnectionOrder {
  /** Per connection, the highest msgSerial of its messages ordered here. */
  private readonly highest = new Map<string, number>();

  /** The first message not yet ordered (`ordered`) that comes after a later one of its connection, or null. */
  behind(messages: readonly Message[], ordered: (m: Message) => boolean): Message | null {
    if (this.highest.size === 0) return null;
    for (const m of messages) {
      const serial = msgSerialOf(m);
      if (serial < 0) continue;
      const high = this.highest.get(m.connectionId!);
      if (high !== undefined && serial < high && !ordered(m)) return m;
    }
    return null;
  }

  /** A message just ordered (or applied by the replica, or found in a restored log). */
  note(m: MessageIds): void {
    const serial = msgSerialOf(m);
    if (serial < 0) return;
    const high = this.highest.get(m.connectionId!);
    if (high !== undefined && high >= serial) return;
    if (high === undefined && this.highest.size >= MAX_CONNECTIONS) this.highest.clear();
    this.highest.set(m.connectionId!, serial);
  }
}
