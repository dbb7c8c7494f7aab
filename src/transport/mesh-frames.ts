/**
 * How the mesh writes its frames: a 4-byte length, then a MeshFrame (proto/node.proto),
 * an Envelope's bytes by reference (chunked-writer.ts) where it carries one, its length
 * and head in one write (mesh-paths.ts reads it back).
 */
import type net from 'node:net';
import * as pb from '../gen/node.pb.js';
import { frameHeader } from './framing.js';
import { envelopeFrameHead } from './mesh-paths.js';

/** An encoded message as the pieces to write (large byte fields by reference: chunked-writer.ts). */
export interface Encoded {
  chunks: Uint8Array[];
  length: number;
  /** The frame's own head (length prefix and MeshFrame fields) written before the chunks, if any. */
  head?: Uint8Array;
}

export function writeFrame(sock: net.Socket, payload: Encoded | Uint8Array): number {
  if (payload instanceof Uint8Array) payload = { chunks: [payload], length: payload.byteLength };
  if (payload.head) sock.write(payload.head);
  else sock.write(frameHeader(payload.length));
  for (const c of payload.chunks) sock.write(c);
  return payload.length + 4;
}

/** A MeshFrame carrying an encoded Envelope, its bytes by reference: one write for the length and the MeshFrame's head. */
export function envelopeFrame(seq: number, payload: Encoded): Encoded {
  const fields = envelopeFrameHead(seq, payload.length);
  const length = fields.byteLength + payload.length;
  const head = Buffer.allocUnsafe(4 + fields.byteLength);
  head.writeUInt32BE(length, 0);
  head.set(fields, 4);
  return { chunks: payload.chunks, length, head };
}

export function meshFrame(f: pb.MeshFrame): Encoded {
  const bytes = pb.MeshFrame.encode(f).finish();
  return { chunks: [bytes], length: bytes.byteLength };
}

/** An Encoded's bytes in one piece (a relayed frame carries them as a field). */
export function joined(e: Encoded): Uint8Array {
  return e.chunks.length === 1 ? e.chunks[0]! : Buffer.concat(e.chunks);
}
