/**
 * A message's AnnotationFields and summary (`proto/node.proto`) in the hand-written entry
 * codec (entry-codec.ts): what an annotation is, and its message's summary with it.
 */
import type { AnnotationFields, Summary } from '../protocol/message.js';
import { Reader, WIRE_LEN, WIRE_VARINT, Writer } from './wire.js';

/** AnnotationFields' tags; `field` and `summary` their own tags in Message. */
export const ANNOTATION_TAG = {
  field: (14 << 3) | WIRE_LEN,
  summary: (15 << 3) | WIRE_LEN,
  action: (1 << 3) | WIRE_VARINT,
  type: (2 << 3) | WIRE_LEN,
  count: (3 << 3) | WIRE_VARINT,
  serial: (4 << 3) | WIRE_LEN,
} as const;

const TAG = ANNOTATION_TAG;

/** Writes `a` as Message's `annotation` field. */
export function writeAnnotation(w: Writer, a: AnnotationFields): void {
  const at = w.begin(TAG.field);
  if (a.action !== 0) {
    w.byte(TAG.action);
    w.varint(a.action);
  }
  w.string(TAG.type, a.type);
  if (a.count !== undefined) {
    w.byte(TAG.count);
    w.varint(a.count);
  }
  if (a.serial !== undefined) w.string(TAG.serial, a.serial);
  w.end(at);
}

/** Writes `s` as Message's `summary_json` field. */
export function writeSummary(w: Writer, s: Summary): void {
  w.string(TAG.summary, JSON.stringify(s));
}

/** Reads AnnotationFields from here to `r.end`. */
export function readAnnotation(r: Reader): AnnotationFields {
  const a: AnnotationFields = { action: 0, type: '' };
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.action: a.action = r.uint(); break;
      case TAG.type: a.type = r.string(); break;
      case TAG.count: a.count = r.uint(); break;
      case TAG.serial: a.serial = r.string(); break;
      default: r.skip(tag & 7);
    }
  }
  return a;
}

export function readSummary(text: string): Summary {
  return JSON.parse(text) as Summary;
}
