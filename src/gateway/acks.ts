/**
 * A connection's acknowledgements: every ACK-requiring message takes a slot in arrival
 * (msgSerial) order; slots finish in any order (different channels, different masters)
 * but ACK/NACK go out strictly in order, runs of the same outcome grouped into one
 * ProtocolMessage `{msgSerial, count}` as the SDKs expect. Pure: it returns what to send.
 */
import { toAblyError, type ErrorInfo } from '../errors.js';
import { Action } from '../protocol/actions.js';
import type { ProtocolMessage } from '../protocol/types.js';

export interface AckSlot {
  readonly msgSerial: number;
  done: boolean;
  error?: ErrorInfo;
  serials?: string[];
}

export class AckQueue {
  private readonly slots: AckSlot[] = [];

  get pending(): number {
    return this.slots.length;
  }

  slot(msgSerial: number): AckSlot {
    const s: AckSlot = { msgSerial, done: false };
    this.slots.push(s);
    return s;
  }

  /** The slot's message was accepted with these channelSerials; returns frames now sendable. */
  ack(slot: AckSlot, serials: string[]): ProtocolMessage[] {
    slot.done = true;
    slot.serials = serials;
    return this.flush();
  }

  /** The slot's message was refused; returns frames now sendable. */
  nack(slot: AckSlot, err: unknown): ProtocolMessage[] {
    slot.done = true;
    slot.error = toAblyError(err).toInfo();
    return this.flush();
  }

  /** ACK/NACK for the finished slots at the front, grouped into runs of one outcome. */
  private flush(): ProtocolMessage[] {
    const out: ProtocolMessage[] = [];
    const q = this.slots;
    while (q.length && q[0]!.done) {
      const first = q[0]!;
      let n = 1;
      while (n < q.length && q[n]!.done && (q[n]!.error?.code ?? 0) === (first.error?.code ?? 0) && q[n]!.msgSerial === first.msgSerial + n) n++;
      // shift(), not splice(0, n): O(1) per slot where splice copies the whole queue.
      const res: { serials: string[] }[] = [];
      for (let k = 0; k < n; k++) res.push({ serials: q.shift()!.serials ?? [] });
      out.push(
        first.error
          ? { action: Action.NACK, msgSerial: first.msgSerial, count: n, error: first.error }
          : { action: Action.ACK, msgSerial: first.msgSerial, count: n, res },
      );
    }
    return out;
  }
}
