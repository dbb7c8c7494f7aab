/**
 * A connection's acknowledgements: every ACK-requiring message takes a slot in arrival
 * (msgSerial) order; slots finish in any order (different channels, different masters)
 * but ACK/NACK go out strictly in order, runs of the same outcome grouped into one
 * ProtocolMessage `{msgSerial, count}` as the SDKs expect. `ack` and `nack` mark slots;
 * `flush` returns what can be sent now. Given `send`, the queue flushes into it once the
 * current turn's work is done, so that the publishes one grouped request settled
 * together (channel/publisher.ts) leave as one ACK, not one frame each.
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
  private flushPending = false;

  constructor(private readonly send?: (pm: ProtocolMessage) => void) {}

  get pending(): number {
    return this.slots.length;
  }

  slot(msgSerial: number): AckSlot {
    const s: AckSlot = { msgSerial, done: false };
    this.slots.push(s);
    return s;
  }

  /** The slot's message was accepted with these channelSerials. */
  ack(slot: AckSlot, serials: string[]): void {
    slot.done = true;
    slot.serials = serials;
    this.flushAfterTurn();
  }

  /** The slot's message was refused. */
  nack(slot: AckSlot, err: unknown): void {
    slot.done = true;
    slot.error = toAblyError(err).toInfo();
    this.flushAfterTurn();
  }

  private flushAfterTurn(): void {
    if (!this.send || this.flushPending) return;
    this.flushPending = true;
    process.nextTick(this.flushInto);
  }

  private readonly flushInto = (): void => {
    this.flushPending = false;
    for (const pm of this.flush()) this.send!(pm);
  };

  /** Sends what can be sent now, without waiting for the turn to end (before a close). */
  flushNow(): void {
    if (this.send) this.flushInto();
  }

  /** ACK/NACK for the finished slots at the front, grouped into runs of one outcome. */
  flush(): ProtocolMessage[] {
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
