/**
 * The benchmark payload and how deliveries are recognised in whatever a protocol puts
 * around it. A payload is `~^!*|#$~<seq>~<sendTimeUs>~` padded with `x` to its size; the
 * same bytes travel inside an Ably MESSAGE (JSON string), a socket.io event, a NATS
 * MSG, an MQTT PUBLISH or a bare WebSocket frame. Subscribers find payloads by that
 * marker instead of decoding each protocol, so every peer is measured with the same,
 * cheap, receive path, and a frame that holds several messages counts each of them.
 */
import type { LatencySamples } from './latency.js';

export const PAYLOAD_BYTES = 100;
/**
 * What every payload starts with: eight bytes, the first and last the same, none other
 * twice, none of them letters, digits or what JSON, NATS or socket.io frames are made of
 * (so the scan rarely stops short in an envelope).
 */
export const MARK_TEXT = '~^!*|#$~';
const MARK = Buffer.from(MARK_TEXT);
const M = MARK.length;
const MARK_LAST = MARK[M - 1]!;
/** Horspool's shifts: how far the marker may move when its last position is over a byte. */
const SHIFT = new Uint8Array(256).fill(M);
for (let j = 0; j < M - 1; j++) SHIFT[MARK[j]!] = M - 1 - j;
const TILDE = 0x7e;
const ZERO = 0x30;

/** Microseconds since the epoch, with sub-millisecond resolution; comparable across processes. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function makePayload(seq: number, sendUs: number, size = PAYLOAD_BYTES): string {
  const head = `${MARK_TEXT}${seq}~${sendUs}~`;
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
 * Where the next payload marker starts at or after `from` (-1: none). A loop in JS:
 * `Buffer.indexOf` is a call into C++ per payload, and was the load generator's biggest
 * cost at a million deliveries per second (a third of its CPU). Horspool's skip: the
 * byte under the marker's last position says how far it can move (the marker's length
 * for a byte not in it), so most bytes are never looked at. The marker was `~B~` (a
 * skip of 3 at most) until the forty-ninth session: the scan then took ~150 ns a
 * delivery in a frame of 28 Ably messages with serials, a third of the load generator's
 * core at 2.2 M deliveries/s.
 */
function nextMark(data: Buffer, from: number, len: number): number {
  const end = len - M;
  let i = from;
  while (i <= end) {
    const c = data[i + M - 1]!;
    const shift = SHIFT[c]!;
    // Written so: the usual case is one predicted branch, and the next step does not
    // wait on the two loads (a plain i += SHIFT[c] did, at ~3.7 ns a step against ~1.8).
    if (shift === M) {
      i += M;
      continue;
    }
    if (c === MARK_LAST && markAt(data, i)) return i;
    i += shift;
  }
  return -1;
}

/** Whether the marker's first M − 1 bytes are at `i` (its last is known to be). */
function markAt(data: Buffer, i: number): boolean {
  for (let j = 0; j < M - 1; j++) if (data[i + j] !== MARK[j]) return false;
  return true;
}

/** How many of the marker's first bytes `data` ends with (a marker cut by the chunk's end), at most M − 1. */
function cutMark(data: Buffer, len: number): number {
  for (let k = Math.min(M - 1, len); k > 0; k--) {
    let j = 0;
    while (j < k && data[len - k + j] === MARK[j]) j++;
    if (j === k) return k;
  }
  return 0;
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
    /** The payloads' size (makePayload's): the scan skips what is left of one once its head is read. */
    private readonly payloadBytes = PAYLOAD_BYTES,
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
      let p = i + M;
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
      // The rest of the payload is its "x" padding: no marker starts in it.
      i = nextMark(data, Math.max(p + 1, i + this.payloadBytes), len);
    }
    if (found) this.stats.frames++;
    if (this.streaming && !this.carry && len > 0) {
      // The marker itself may be cut: keep the start of it the chunk ends with.
      const k = cutMark(data, len);
      if (k > 0) this.carry = Buffer.from(data.subarray(len - k));
    }
    return found;
  }

  /** The same for a payload that arrives as a string (socket.io hands events over decoded). */
  scanString(s: string, atUs: number): number {
    const i = s.indexOf(MARK_TEXT);
    if (i === -1) return 0;
    const a = s.indexOf('~', i + M);
    const b = a === -1 ? -1 : s.indexOf('~', a + 1);
    if (b === -1) return 0;
    this.stats.deliver(Number(s.slice(i + M, a)), Number(s.slice(a + 1, b)), atUs, this);
    this.stats.frames++;
    return 1;
  }
}
