/**
 * Length-prefixed framing for node-to-node streams: a 4-byte big-endian length, then
 * that many bytes of protobuf. A pure parser: feed it chunks, it yields whole frames.
 */

/** Frames past this are a broken or hostile peer, not a big message (snapshots included). */
export const MAX_NODE_FRAME_BYTES = 256 * 1024 * 1024; // 256 MiB

export class FrameTooLarge extends Error {
  constructor(readonly size: number) {
    super(`frame of ${size} bytes exceeds ${MAX_NODE_FRAME_BYTES}`);
    this.name = 'FrameTooLarge';
  }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  /** Adds a chunk; returns the frames it completed, in order. Throws FrameTooLarge. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const head = this.take(4);
        this.need = head.readUInt32BE(0);
        if (this.need > MAX_NODE_FRAME_BYTES) throw new FrameTooLarge(this.need);
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    // Spread over chunks: copy just these n bytes, and keep the rest of the last chunk
    // as it is (not everything buffered, which may be most of the next frame).
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

/** The 4-byte header for a frame of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(4);
  h.writeUInt32BE(length, 0);
  return h;
}
