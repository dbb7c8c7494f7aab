/**
 * The benchmark payload and how deliveries are recognised in whatever a protocol puts
 * around it. A payload is `~B~<seq>~<sendTimeUs>~` padded with `x` to its size; the
 * same bytes travel inside an Ably MESSAGE (JSON string), a socket.io event, a NATS
 * MSG, an MQTT PUBLISH or a bare WebSocket frame. Subscribers find payloads by that
 * marker instead of decoding each protocol, so every peer is measured with the same,
 * cheap, receive path, and a frame that holds several messages counts each of them.
 */
import type { LatencySamples } from './latency.js';

export const PAYLOAD_BYTES = 100;
const MARK = Buffer.from('~B~');
const TILDE = 0x7e;
const MARK_B = 0x42; // 'B'
const ZERO = 0x30;

/** Microseconds since the epoch, with sub-millisecond resolution; comparable across processes. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function makePayload(seq: number, sendUs: number, size = PAYLOAD_BYTES): string {
  const head = `~B~${seq}~${sendUs}~`;
  return head.length >= size ? head : head + 'x'.repeat(size - head.length);
}

/** Per-step delivery counters, shared by every subscriber of a load generator. */
export class DeliveryStats {
  /** Every delivery since the load generator started (never reset). */
  total = 0;
  /** Deliveries of messages published in this step. */
  received = 0;
  /** Frames (or events) that carried at least one payload: received ÷ frames is the batching. */
  frames = 0;
  /** Deliveries of messages from an earlier step (arrived after that step was counted). */
  late = 0;
  /** Deliveries whose sequence number was not above the previous one on that subscriber. */
  outOfOrder = 0;
  /** When the first and the last delivery of this step arrived (µs). */
  firstDeliveryUs = 0;
  lastDeliveryUs = 0;
  /** When the last late delivery arrived (µs): a step waits until those stop. */
  lastLateUs = 0;
  /** First sequence number of the current step. */
  private firstSeq = 0;

  constructor(readonly latencies: LatencySamples) {}

  startStep(firstSeq: number): void {
    this.firstSeq = firstSeq;
    this.received = 0;
    this.frames = 0;
    this.late = 0;
    this.outOfOrder = 0;
    this.firstDeliveryUs = 0;
    this.lastDeliveryUs = 0;
    this.latencies.reset();
  }

  deliver(seq: number, sendUs: number, atUs: number, scanner: PayloadScanner): void {
    this.total++;
    if (seq <= scanner.lastSeq) this.outOfOrder++;
    scanner.lastSeq = seq;
    if (seq < this.firstSeq) {
      this.late++;
      this.lastLateUs = atUs;
      return;
    }
    if (this.received++ === 0) this.firstDeliveryUs = atUs;
    this.latencies.add(atUs - sendUs, sendUs);
    if (atUs > this.lastDeliveryUs) this.lastDeliveryUs = atUs;
  }
}

/**
 * Where the next payload marker `~B~` starts at or after `from` (-1: none). A loop in
 * JS: `Buffer.indexOf` is a call into C++ per payload, and was the load generator's
 * biggest cost at a million deliveries per second (a third of its CPU). Horspool's
 * skip: the byte under the marker's last position says how far it can move (3 for a
 * byte not in the marker), so most bytes are never looked at.
 */
function nextMark(data: Buffer, from: number, len: number): number {
  const last = len - 3;
  let i = from;
  while (i <= last) {
    const c = data[i + 2];
    if (c === TILDE) {
      if (data[i] === TILDE && data[i + 1] === MARK_B) return i;
      i += 2;
    } else if (c === MARK_B) i += 1;
    else i += 3;
  }
  return -1;
}

/**
 * One subscriber's reader: finds every payload in what arrives. With `streaming`
 * (NATS, whose WebSocket frames may cut a message anywhere) an unfinished payload at
 * the end of a chunk is kept and completed by the next one.
 */
export class PayloadScanner {
  lastSeq = -1;
  private carry: Buffer | null = null;

  constructor(
    private readonly stats: DeliveryStats,
    private readonly streaming = false,
  ) {}

  /** Counts the payloads in `chunk`; returns how many it found. */
  scan(chunk: Buffer, atUs: number): number {
    let data = chunk;
    if (this.carry) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const len = data.length;
    let found = 0;
    let i = nextMark(data, 0, len);
    while (i !== -1) {
      let p = i + 3;
      let seq = 0;
      let c = 0;
      while (p < len && (c = data[p]!) !== TILDE) {
        seq = seq * 10 + (c - ZERO);
        p++;
      }
      p++;
      let sendUs = 0;
      while (p < len && (c = data[p]!) !== TILDE) {
        sendUs = sendUs * 10 + (c - ZERO);
        p++;
      }
      if (p >= len) {
        if (this.streaming) this.carry = Buffer.from(data.subarray(i));
        break;
      }
      this.stats.deliver(seq, sendUs, atUs, this);
      found++;
      i = nextMark(data, p + 1, len);
    }
    if (found) this.stats.frames++;
    if (this.streaming && !this.carry && len > 0) {
      // The marker itself may be cut: keep a trailing "~" or "~B".
      if (data[len - 1] === TILDE) this.carry = Buffer.from(data.subarray(len - 1));
      else if (len > 1 && data[len - 2] === TILDE && data[len - 1] === MARK[1]) this.carry = Buffer.from(data.subarray(len - 2));
    }
    return found;
  }

  /** The same for a payload that arrives as a string (socket.io hands events over decoded). */
  scanString(s: string, atUs: number): number {
    const i = s.indexOf('~B~');
    if (i === -1) return 0;
    const a = s.indexOf('~', i + 3);
    const b = a === -1 ? -1 : s.indexOf('~', a + 1);
    if (b === -1) return 0;
    this.stats.deliver(Number(s.slice(i + 3, a)), Number(s.slice(a + 1, b)), atUs, this);
    this.stats.frames++;
    return 1;
  }
}
