/**
 * A frame encoded once and sent to many connections: the whole WebSocket frame (RFC
 * 6455, server to client: unmasked, final, no extensions) in one buffer, with the payload
 * a view into it, so a broadcast to N connections costs one encode, one copy and N
 * socket writes of the same bytes. Pure.
 */
import type { Frame } from './codec.js';

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;

export class SharedFrame {
  /** The frame as it goes on the wire: header and payload, in one buffer. */
  readonly bytes: Buffer;
  /** The payload alone: a view into `bytes`, not a copy. */
  readonly payload: Buffer;
  readonly text: boolean;

  constructor(frame: Frame) {
    this.text = typeof frame === 'string';
    const n = typeof frame === 'string' ? Buffer.byteLength(frame, 'utf8') : frame.length;
    const h = headerLength(n);
    this.bytes = Buffer.allocUnsafe(h + n);
    writeHeader(this.bytes, n, this.text ? OPCODE_TEXT : OPCODE_BINARY);
    // Text is encoded straight into place: one allocation and one copy per frame.
    if (typeof frame === 'string') this.bytes.write(frame, h, 'utf8');
    else frame.copy(this.bytes, h);
    this.payload = this.bytes.subarray(h);
  }
}

function headerLength(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10;
}

function writeHeader(out: Buffer, n: number, opcode: number): void {
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = n;
  } else if (n < 0x10000) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
}
