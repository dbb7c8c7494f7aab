/**
 * A message's MessageVersion (`proto/node.proto`) in the hand-written entry codec
 * (entry-codec.ts): who changed a message, when and why, and the change's own serial.
 */
import type { MessageVersion } from '../protocol/message.js';
import { Reader, WIRE_I64, WIRE_LEN, Writer } from './wire.js';

/** MessageVersion's field tags; `field` its own tag in Message. */
const TAG = {
  field: (12 << 3) | WIRE_LEN,
  serial: (1 << 3) | WIRE_LEN,
  timestamp: (2 << 3) | WIRE_I64,
  clientId: (3 << 3) | WIRE_LEN,
  description: (4 << 3) | WIRE_LEN,
  metadata: (5 << 3) | WIRE_LEN,
} as const;

/** Writes `v` as Message's `version` field. */
export function writeVersion(w: Writer, v: MessageVersion): void {
  const at = w.begin(TAG.field);
  if (v.serial !== undefined) w.string(TAG.serial, v.serial);
  if (v.timestamp !== undefined) w.double(TAG.timestamp, v.timestamp);
  if (v.clientId !== undefined) w.string(TAG.clientId, v.clientId);
  if (v.description !== undefined) w.string(TAG.description, v.description);
  if (v.metadata !== undefined) w.string(TAG.metadata, JSON.stringify(v.metadata));
  w.end(at);
}

/** Reads a MessageVersion from here to `r.end`. */
export function readVersion(r: Reader): MessageVersion {
  const v: MessageVersion = {};
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.serial: v.serial = r.string(); break;
      case TAG.timestamp: v.timestamp = r.double(); break;
      case TAG.clientId: v.clientId = r.string(); break;
      case TAG.description: v.description = r.string(); break;
      case TAG.metadata: v.metadata = JSON.parse(r.string()) as Record<string, string>; break;
      default: r.skip(tag & 7);
    }
  }
  return v;
}
