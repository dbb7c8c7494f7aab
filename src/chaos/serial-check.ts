/**
 * The chaos check of message serials: every message has one serial, made where it was
 * first accepted, the same wherever it is read. The record gives a message's serial
 * where the workload saw it: its publisher's ACK (`publish` lines), each delivery to a
 * subscriber in any region (`deliver` lines) and each region's stored history (`history`
 * lines). Any of three things fails a run:
 * - split: one message (publisher, seq) seen under two serials;
 * - shared: one serial naming two messages;
 * - unserialed: an ACK, delivery or history item without a serial.
 * A publisher whose SDK connected afresh (its resume failed: `connection` lines) sends
 * the messages then unacknowledged again under new ids (RTN19a), which the service
 * stores as new messages, with new serials: a split of a message sent before such a
 * connection and answered after it (or never) is counted as `resent`, not failed. The
 * check is over every sighting, also of messages no one expected.
 */

/** What the check found: `split` and `shared` FAIL the run. */
export interface SerialFigures {
  /** Messages (publisher, seq) seen with a serial. */
  messages: number;
  /** Sightings of a serial: ACKs, deliveries and history items. */
  sightings: number;
  /** Sightings without a serial (a message delivered or stored without one FAILs: `unserialed`). */
  unserialed: number;
  split: number;
  /** Splits of publishers that resent under new ids (not failed). */
  resent: number;
  shared: number;
  /** Up to the checker's examples cap: what disagreed, and where. */
  examples: string[];
}

/** Where a serial was seen: `ack`, `deliver r1/c7`, `history r2`. */
type Where = string;

interface Seen {
  serial: string;
  where: Where;
  /** Other serials the same message was seen under, with where (a split). */
  others?: Map<string, Where>;
}

export class SerialCheck {
  /** `channel \0 publisher#seq` → its first serial. */
  private readonly byMessage = new Map<string, Seen>();
  /** `channel \0 serial` → the message it was first seen naming, and where. */
  private readonly bySerial = new Map<string, { message: string; where: Where; others?: Map<string, Where> }>();
  /** `channel \0 publisher#seq` → when it was sent and answered (`publish` lines). */
  private readonly sentAt = new Map<string, { t: number; doneAt: number }>();
  private sightings = 0;
  private unserialed = 0;
  private readonly unserialedExamples: string[] = [];

  /** A publish line: when (publisher, seq) was sent, and answered (undefined: never). */
  sent(channel: string, publisher: string, seq: number, t: number, doneAt: number | undefined): void {
    this.sentAt.set(`${channel}\u0000${publisher}#${seq}`, { t, doneAt: doneAt ?? Infinity });
  }

  /** One sighting of (publisher, seq) on `channel`, with the serial it carried there (undefined: none). */
  see(channel: string, publisher: string, seq: number, serial: string | undefined, where: Where): void {
    const message = `${publisher}#${seq}`;
    if (serial === undefined || serial === '') {
      this.unserialed++;
      if (this.unserialedExamples.length < 10) this.unserialedExamples.push(`${channel} ${message} without a serial (${where})`);
      return;
    }
    this.sightings++;
    const mk = `${channel}\u0000${message}`;
    const m = this.byMessage.get(mk);
    if (!m) this.byMessage.set(mk, { serial, where });
    else if (m.serial !== serial && !m.others?.has(serial)) (m.others ??= new Map()).set(serial, where);
    const sk = `${channel}\u0000${serial}`;
    const s = this.bySerial.get(sk);
    if (!s) this.bySerial.set(sk, { message, where });
    else if (s.message !== message && !s.others?.has(message)) (s.others ??= new Map()).set(message, where);
  }

  /**
   * The figures; null when nothing was seen. `fresh`: when each publisher's SDK connected
   * afresh (the workload's publishers are their own clients).
   */
  figures(fresh: readonly { client: string; t: number }[], maxExamples: number): SerialFigures | null {
    if (this.byMessage.size === 0 && this.unserialed === 0) return null;
    const out: SerialFigures = { messages: this.byMessage.size, sightings: this.sightings, unserialed: this.unserialed, split: 0, resent: 0, shared: 0, examples: [] };
    const example = (x: string) => {
      if (out.examples.length < maxExamples) out.examples.push(x);
    };
    for (const x of this.unserialedExamples) example(x);
    for (const [mk, m] of this.byMessage) {
      if (!m.others) continue;
      const [channel, message] = mk.split('\u0000') as [string, string];
      const publisher = message.slice(0, message.lastIndexOf('#'));
      const sent = this.sentAt.get(mk);
      if (sent && fresh.some((c) => c.client === publisher && sent.t <= c.t && c.t <= sent.doneAt)) {
        out.resent++;
        continue;
      }
      out.split++;
      const also = [...m.others].map(([s, w]) => `${s} (${w})`).join(', ');
      example(`${channel} ${message} under ${m.serial} (${m.where}) and ${also}`);
    }
    for (const [sk, s] of this.bySerial) {
      if (!s.others) continue;
      out.shared++;
      const [channel, serial] = sk.split('\u0000') as [string, string];
      example(`${channel} serial ${serial} names ${s.message} (${s.where}) and ${[...s.others].map(([m, w]) => `${m} (${w})`).join(', ')}`);
    }
    return out;
  }
}

/** Whether the serial check fails the run. */
export function serialsFailed(f: SerialFigures | null | undefined): boolean {
  return !!f && serialsOff(f) > 0;
}

/** What the run line counts as off: messages split or sharing a serial, and sightings without one. */
export function serialsOff(f: SerialFigures): number {
  return f.split + f.shared + f.unserialed;
}

/** The report's lines: one serial per message wherever it was seen. */
export function serialLines(f: SerialFigures): string[] {
  return [
    `serials: ${f.messages} messages seen ${f.sightings} times with a serial (ACKs, deliveries, history items), ${f.unserialed} without one; ` +
      `${f.split} under two serials, ${f.shared} serials naming two messages` +
      (f.resent ? ` (${f.resent} more under two, resent by a publisher whose resume failed)` : ''),
    ...f.examples.map((x) => `  FAIL: ${x}`),
  ];
}
