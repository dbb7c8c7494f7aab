/**
 * The record's events of the version probes (workload-versions.ts, versions-check.ts);
 * the rest of the record's events, and how every line is read, are in record.ts.
 */
import type { PublishOutcome, RecordError } from './record.js';

/**
 * A version probe's append (workload-versions.ts) to a message of `mutable:versions`,
 * written once its outcome is known: its fragment (`|eu:7`), and the version serial its
 * ACK gave. With `annotation`, an annotation of the message instead (a count under the
 * region's name: workload-versions.ts, PROBE_ANNOTATION_TYPE), `fragment` its id.
 */
export interface AppendEvent {
  type: 'append';
  t: number;
  region: string;
  /** The serial of the message appended to. */
  serial: string;
  fragment: string;
  outcome: PublishOutcome;
  /** When the ACK or NACK came. */
  doneAt?: number;
  versionSerial?: string;
  annotation?: true;
  error?: RecordError;
}

/**
 * A region's `getMessage` of the version probes' message after the drain: its data (null:
 * it could not be read, `error` says why), and its summary of the probes' annotations (JSON).
 */
export interface StandingEvent {
  type: 'standing';
  t: number;
  region: string;
  serial: string;
  data: string | null;
  summary?: string;
  error?: string;
}
