/**
 * One protobuf writer for every message this process encodes with the generated codec
 * (node envelopes, region-link frames), instead of a new one per message.
 *
 * A new `BinaryWriter` starts with an empty buffer and doubles it as it writes, each
 * time allocating a zeroed buffer and copying what it has: a batch of 200 KB went
 * through eight such buffers (512 KB zeroed, 256 KB copied) before the final copy out.
 * The writer kept here keeps its buffer, so a message costs one write and the copy
 * `finish()` returns. In a CPU profile of the heal catch-up the writer's growth and
 * copies were 13–20 % of every node's time.
 *
 * The buffer is let go after a message over `KEEP_BYTES` (a full copy of a long
 * history), and after an encode that threw, which may have left the writer mid-message.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ChunkedWriter } from './chunked-writer.js';

/** A writer whose buffer grew past this for one message is not kept. */
const KEEP_BYTES = 8 * 1024 * 1024;

let writer = new BinaryWriter();

/** `encode(message, writer).finish()` with the shared writer: the bytes, in an array of their own. */
export function encodeWithSharedWriter<T>(encode: (message: T, w: BinaryWriter) => BinaryWriter, message: T): Uint8Array {
  let out: Uint8Array;
  try {
    out = encode(message, writer).finish();
  } catch (err) {
    writer = new BinaryWriter();
    throw err;
  }
  if (out.length > KEEP_BYTES) writer = new BinaryWriter();
  return out;
}

let chunked = new ChunkedWriter();

/**
 * The same with large `bytes` fields referenced, not copied (chunked-writer.ts): the
 * message as pieces to write in order. For a stream that writes them at once (the mesh).
 */
export function encodeChunksWithSharedWriter<T>(encode: (message: T, w: BinaryWriter) => BinaryWriter, message: T): Uint8Array[] {
  let out: Uint8Array[];
  try {
    encode(message, chunked);
    out = chunked.finishChunks();
  } catch (err) {
    chunked = new ChunkedWriter();
    throw err;
  }
  // Many small entries (a range's reply) are the writer's own bytes: let a large buffer go.
  if (chunked.capacity > KEEP_BYTES) chunked = new ChunkedWriter();
  return out;
}
