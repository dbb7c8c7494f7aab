/**
 * Frame codec: one ProtocolMessage per WebSocket frame, JSON text or MessagePack
 * binary. Decoding only checks that the frame is a map with a numeric action; field
 * validation is `validate.ts`'s job.
 */
import { Packr, Unpackr } from 'msgpackr';
import { AblyError } from '../errors.js';
import type { ProtocolMessage, WireFormat } from './types.js';

// No records extension (the SDKs' msgpack would not understand it), undefined fields
// left out rather than sent as msgpack's undefined extension.
// (`skipValues` exists in msgpackr ≥ 1.10 but is missing from its type definitions.)
const packr = new Packr({ useRecords: false, variableMapSize: true, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function packMsgpack(value: unknown): Buffer {
  return packr.pack(value);
}

export function unpackMsgpack(buf: Uint8Array): unknown {
  return unpackr.unpack(buf);
}

/** An encoded frame, ready for `ws.send`. */
export type Frame = string | Buffer;

/**
 * `noBytes`: the caller knows no Uint8Array is left in `msg` (JSON only: the guard
 * below then is not needed, and JSON.stringify without a replacer is about twice as fast).
 */
export function encodeFrame(msg: ProtocolMessage, format: WireFormat, noBytes = false): Frame {
  if (format === 'msgpack') return packr.pack(msg);
  return noBytes ? JSON.stringify(msg) : JSON.stringify(msg, jsonReplacer);
}

/**
 * Bytes in JSON must never reach a client; they are base64 by then. Guard anyway. (The
 * raw value is read from the holder: JSON.stringify has already turned a Buffer into
 * `{type:'Buffer',data:[…]}` by the time `value` gets here.)
 */
function jsonReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

export function decodeFrame(data: Buffer | string, format: WireFormat): ProtocolMessage {
  let value: unknown;
  try {
    if (format === 'json') {
      value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
    } else {
      value = unpackr.unpack(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    }
  } catch (e) {
    throw AblyError.of('badRequest', `malformed ${format} frame: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw AblyError.of('badRequest', 'malformed frame: a ProtocolMessage must be a map');
  }
  const action = (value as { action?: unknown }).action;
  if (typeof action !== 'number' || !Number.isInteger(action)) {
    throw AblyError.of('badRequest', 'malformed frame: ProtocolMessage.action must be an integer');
  }
  return value as ProtocolMessage;
}

/** Encodes a REST response body. */
export function encodeBody(value: unknown, format: WireFormat): Buffer {
  return format === 'json' ? Buffer.from(JSON.stringify(value, jsonReplacer), 'utf8') : packr.pack(value);
}

/** Decodes a REST request body; throws 40001 on malformed input. */
export function decodeBody(buf: Buffer, format: WireFormat): unknown {
  try {
    return format === 'json' ? JSON.parse(buf.toString('utf8')) : unpackr.unpack(buf);
  } catch (e) {
    throw AblyError.of('invalidRequestBody', `malformed ${format} body: ${(e as Error).message}`);
  }
}
