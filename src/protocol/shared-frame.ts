/**
 * A frame encoded once and sent to many connections: its payload as bytes, and the whole
 * WebSocket frame (RFC 6455, server to client: unmasked, final, no extensions) built on
 * first use, so a broadcast to N connections costs one encode, one copy and N socket
 * writes of the same bytes. Pure.
 */
import type { Frame } from './codec.js';

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;

export class SharedFrame {
  readonly payload: Buffer;
  readonly text: boolean;
  private wire: Buffer | null = null;

  constructor(frame: Frame) {
    this.text = typeof frame === 'string';
    this.payload = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
  }

  /** The frame as it goes on the wire: header and payload. */
  get bytes(): Buffer {
    return (this.wire ??= wsFrameBytes(this.payload, this.text ? OPCODE_TEXT : OPCODE_BINARY));
  }
}

/** One unmasked, final WebSocket frame carrying `payload`. */
export function wsFrameBytes(payload: Buffer, opcode: number): Buffer {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + n);
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
  payload.copy(out, headerLength);
  return out;
}
