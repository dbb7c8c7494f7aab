/**
 * The chaos record: what a workload saw, one JSON object per line (JSONL). The workload
 * writes it with `RecordWriter`; the checker reads it with `readRecord`.
 *
 * Every line has `t` (ms since the epoch, the local clock of the process that wrote it)
 * and `type`. Lines need not be sorted by `t` (a publish is written when its outcome is
 * known, so usually after its deliveries), with one exception the checker relies on:
 * the `deliver` lines of one subscriber client on one channel appear in the order that
 * client received the messages. That order, not `t` (ms resolution ties), is the one
 * checked for per-publisher order and for region order.
 *
 * What the checker makes of the lines (details in `checker.ts`):
 * - a subscriber is one `client` on one `channel`; it expects every ACKed publish on that
 *   channel, from any region, whose `t` is at or after its first `subscribe`, unless it
 *   `unsubscribe`s before `end`;
 * - `end` separates the run from teardown: `continuity` lines after it excuse nothing and
 *   `unsubscribe` lines after it do not exempt the subscriber; so write `end` before
 *   closing clients. Without an `end` line the last event's `t` stands in for it;
 * - several publish lines for one (channel, publisher, seq) are retries of one message:
 *   it is acknowledged if any was ACKed and was published at the earliest `t`;
 * - a publisher's region is the `region` of its first publish line (for in-region latency);
 * - fault windows pair `start` and `end` lines with the same `action` and `target`, in order.
 */
import { lifecycleRecordProblem, type LifecycleRecordEvent } from './lifecycle-check.js';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import type { SeqFilter } from './filter-check.js';
import type { AppendEvent, StandingEvent } from './record-probes.js';

export type { AppendEvent, StandingEvent } from './record-probes.js';

/** An Ably error as the client saw it (`ErrorInfo.code`, `ErrorInfo.message`). */
export interface RecordError {
  code: number;
  message: string;
}

export const PUBLISH_OUTCOMES = ['ack', 'nack', 'unknown'] as const;
/** `unknown`: no ACK or NACK came before the workload ended or the client died. */
export type PublishOutcome = (typeof PUBLISH_OUTCOMES)[number];

/** One publish attempt, written once its outcome is known. */
export interface PublishEvent {
  type: 'publish';
  /** When it was sent. */
  t: number;
  region: string;
  client: string;
  channel: string;
  /** Stable id of the publishing client. */
  publisher: string;
  /** Per-publisher, per-channel sequence number: 1, 2, 3… */
  seq: number;
  outcome: PublishOutcome;
  /** When the ACK or NACK came. */
  doneAt?: number;
  /** The message's serial, as the ACK gave it. */
  serial?: string;
  error?: RecordError;
}

/** Subscriber `client` in `region` received (publisher, seq), which was sent at `sentAt`. */
export interface DeliverEvent {
  type: 'deliver';
  t: number;
  region: string;
  client: string;
  channel: string;
  publisher: string;
  seq: number;
  sentAt: number;
  channelSerial?: string;
  /** The message's serial, as the subscriber was sent it (serial-check.ts). */
  serial?: string;
}

/** The subscriber's channel became attached for the first time: from `t` on, it expects every acknowledged message. */
export interface SubscribeEvent {
  type: 'subscribe';
  t: number;
  region: string;
  client: string;
  channel: string;
  /** A subscription filter: it expects only the messages this lets through (filter-check.ts). */
  filter?: SeqFilter;
}

/** The subscriber stopped listening on purpose: nothing is expected of it after. */
export interface UnsubscribeEvent {
  type: 'unsubscribe';
  t: number;
  region: string;
  client: string;
  channel: string;
}

/** A signalled gap: ATTACHED/UPDATE without RESUMED, or the channel failed or was suspended. */
export interface ContinuityEvent {
  type: 'continuity';
  t: number;
  region: string;
  client: string;
  channel: string;
  resumed: false;
  error?: RecordError;
}

/**
 * A publisher's SDK connected under a new connectionId after it had one: its resume
 * failed (the service no longer had the connection's state), and it sends its
 * unacknowledged messages again under new ids (RTN19a), which a master cannot tell from
 * new messages. `error`: the reason the SDK gave.
 */
export interface ConnectionEvent {
  type: 'connection';
  t: number;
  region: string;
  client: string;
  connectionId: string;
  previous: string;
  error?: RecordError;
}

/**
 * A publisher's SDK connection changed state (connected, disconnected, connecting…),
 * with the reason it gave: how long a publisher was away, and why, in a run. Not checked;
 * read to trace a stall.
 */
export interface StateEvent {
  type: 'state';
  t: number;
  region: string;
  client: string;
  state: string;
  error?: RecordError;
}

/** One edge of a fault window: `partition` `r1-r2`, `kill` `n3`, `latency` `r1-r2`… */
export interface FaultEvent {
  type: 'fault';
  t: number;
  action: string;
  target: string;
  phase: 'start' | 'end';
}

/**
 * The presence check after the drain: one line per view of one channel's presence set in
 * one region, as it stood when the check ended. `observer`: `rest` (the set the region's
 * REST endpoint answers with, its master's) or a subscriber's id (its SDK's set, built
 * from the attach's SYNC and the events after it). Members are `clientId connectionId`:
 * `expected`, every member client as it was connected then; `seen`, what the view showed.
 * `convergedAfterMs`: from the check's start until the view showed `expected` and kept
 * showing it (null: not within the check's time).
 */
export interface PresenceEvent {
  type: 'presence';
  t: number;
  region: string;
  observer: string;
  channel: string;
  expected: string[];
  seen: string[];
  convergedAfterMs: number | null;
}

/**
 * The occupancy check after the presence check: one line per view of one channel's
 * occupancy as it stood when the check ended. `observer`: `rest` (a region's `GET
 * /channels/{name}`, that region's attachments) or a member's id (its last
 * `[meta]occupancy` event, every region's). `expected`: the metrics of the clients
 * attached then; `seen`: what the view showed (null: nothing yet, or not read).
 * `convergedAfterMs` as for presence.
 */
export interface OccupancyEvent {
  type: 'occupancy';
  t: number;
  region: string;
  observer: string;
  channel: string;
  expected: Record<string, number>;
  seen: Record<string, number> | null;
  convergedAfterMs: number | null;
}

/**
 * The history check after the drain: one line per channel and region, the channel's
 * stored history as that region's REST endpoint answers it (`GET
 * /channels/{name}/messages`, oldest first, every page). `items`: each message as
 * `publisher#seq`, in the history's order (messages the workload did not publish are
 * left out); `error`: why it could not be read (after retries). `historyMs` and
 * `maxMessages`: the deployment's retention, so that what it may have let go is not
 * expected.
 */
export interface HistoryEvent {
  type: 'history';
  t: number;
  region: string;
  channel: string;
  items: string[];
  /** Each item's serial (same length as `items`; '' where it had none). */
  serials?: string[];
  historyMs: number;
  maxMessages: number;
  error?: string;
}

export const TOKEN_USES = ['request', 'replay'] as const;
export const TOKEN_OUTCOMES = ['issued', 'refused', 'failed'] as const;

/**
 * A signed TokenRequest sent to a region's `requestToken` (workloads with token auth).
 * `use`: `request`, a client's own (its SDK's authCallback made it, for a new token);
 * `replay`, the same request sent again at once after it was issued, which must be refused
 * (40105). `outcome`: `issued` (a token came back), `refused` (an Ably error, in `error`)
 * or `failed` (no answer: `error.code` 0 and why).
 */
export interface TokenEvent {
  type: 'token';
  t: number;
  region: string;
  client: string;
  use: (typeof TOKEN_USES)[number];
  outcome: (typeof TOKEN_OUTCOMES)[number];
  error?: RecordError;
}

/**
 * A revocation probe revoked clientId `clientId`'s tokens through `region`'s endpoint
 * (workload-revocations.ts); each of `nodes` (every node of every region) must refuse its
 * token from then on.
 */
export interface RevocationEvent {
  type: 'revocation';
  t: number;
  region: string;
  clientId: string;
  nodes: string[];
}

/** Node `node` of `region` first refused the token of revocation probe `clientId` as revoked. */
export interface RevokedEvent {
  type: 'revoked';
  t: number;
  region: string;
  node: string;
  clientId: string;
}

/**
 * What a subscriber in delta mode (every third: the `delta: 'vcdiff'` channel param)
 * decoded over the run, written when publishing stops: `received`, the workload's
 * messages it was given (deltas or whole); `decoded`, deltas applied;
 * `reattached`, attaches again after a delta it could not apply (40018), each then sent
 * the next message whole. A delta decoded wrong shows as a message lost or never
 * published, as any other delivery would.
 */
export interface DeltaEvent {
  type: 'deltas';
  t: number;
  region: string;
  client: string;
  received: number;
  decoded: number;
  reattached: number;
}

/** The workload stopped publishing and has waited for the stragglers. */
export interface EndEvent {
  type: 'end';
  t: number;
}

export type RecordEvent =
  | PublishEvent
  | DeliverEvent
  | SubscribeEvent
  | UnsubscribeEvent
  | ContinuityEvent
  | ConnectionEvent
  | StateEvent
  | FaultEvent
  | PresenceEvent
  | OccupancyEvent
  | DeltaEvent
  | HistoryEvent
  | TokenEvent
  | RevocationEvent
  | RevokedEvent
  | AppendEvent
  | StandingEvent
  | LifecycleRecordEvent
  | EndEvent;

export type RecordEventType = RecordEvent['type'];

/** A line that is not a valid record event; `line` is 1-based. */
export class RecordFormatError extends Error {
  constructor(
    readonly line: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`record line ${line}: ${message}`, options);
    this.name = 'RecordFormatError';
  }
}

type Obj = Record<string, unknown>;

function need(o: Obj, key: string, kind: 'string' | 'number', line: number): void {
  const v = o[key];
  if (typeof v !== kind || (kind === 'number' && !Number.isFinite(v))) {
    throw new RecordFormatError(line, `${String(o.type)}.${key} must be a ${kind}`);
  }
}

function needFilter(f: unknown, line: number): void {
  const o = f as Obj;
  const ok =
    typeof f === 'object' && f !== null && Number.isInteger(o.mod) && (o.mod as number) > 0 && Array.isArray(o.keep) && o.keep.every((k) => Number.isInteger(k));
  if (!ok) throw new RecordFormatError(line, 'subscribe.filter must be {mod: a positive integer, keep: integers}');
}

function needError(o: Obj, line: number): void {
  const e = o.error;
  if (e === undefined) return;
  if (typeof e !== 'object' || e === null || typeof (e as Obj).code !== 'number' || typeof (e as Obj).message !== 'string') {
    throw new RecordFormatError(line, `${String(o.type)}.error must be {code: number, message: string}`);
  }
}

const CLIENT_FIELDS = ['region', 'client', 'channel'] as const;

/** Checks one decoded line and returns it typed; extra fields are kept and ignored. */
export function validateRecordEvent(o: unknown, line: number): RecordEvent {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RecordFormatError(line, 'not a JSON object');
  const r = o as Obj;
  need(r, 't', 'number', line);
  switch (r.type) {
    case 'publish':
      for (const k of CLIENT_FIELDS) need(r, k, 'string', line);
      need(r, 'publisher', 'string', line);
      need(r, 'seq', 'number', line);
      if (!PUBLISH_OUTCOMES.includes(r.outcome as PublishOutcome)) {
        throw new RecordFormatError(line, `publish.outcome must be one of ${PUBLISH_OUTCOMES.join(', ')}`);
      }
      if (r.doneAt !== undefined) need(r, 'doneAt', 'number', line);
      if (r.serial !== undefined) need(r, 'serial', 'string', line);
      needError(r, line);
      break;
    case 'deliver':
      for (const k of CLIENT_FIELDS) need(r, k, 'string', line);
      need(r, 'publisher', 'string', line);
      need(r, 'seq', 'number', line);
      need(r, 'sentAt', 'number', line);
      if (r.channelSerial !== undefined) need(r, 'channelSerial', 'string', line);
      if (r.serial !== undefined) need(r, 'serial', 'string', line);
      break;
    case 'subscribe':
    case 'unsubscribe':
      for (const k of CLIENT_FIELDS) need(r, k, 'string', line);
      if (r.type === 'subscribe' && r.filter !== undefined) needFilter(r.filter, line);
      break;
    case 'continuity':
      for (const k of CLIENT_FIELDS) need(r, k, 'string', line);
      if (r.resumed !== false) throw new RecordFormatError(line, 'continuity.resumed must be false');
      needError(r, line);
      break;
    case 'connection':
      for (const k of ['region', 'client', 'connectionId', 'previous'] as const) need(r, k, 'string', line);
      needError(r, line);
      break;
    case 'state':
      for (const k of ['region', 'client', 'state'] as const) need(r, k, 'string', line);
      needError(r, line);
      break;
    case 'fault':
      need(r, 'action', 'string', line);
      need(r, 'target', 'string', line);
      if (r.phase !== 'start' && r.phase !== 'end') throw new RecordFormatError(line, 'fault.phase must be start or end');
      break;
    case 'presence':
      for (const k of ['region', 'observer', 'channel'] as const) need(r, k, 'string', line);
      for (const k of ['expected', 'seen'] as const) {
        const v = r[k];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new RecordFormatError(line, `presence.${k} must be an array of strings`);
      }
      if (r.convergedAfterMs !== null) need(r, 'convergedAfterMs', 'number', line);
      break;
    case 'occupancy': {
      for (const k of ['region', 'observer', 'channel'] as const) need(r, k, 'string', line);
      const counts = (v: unknown) => typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'number');
      if (!counts(r.expected)) throw new RecordFormatError(line, 'occupancy.expected must be an object of numbers');
      if (r.seen !== null && !counts(r.seen)) throw new RecordFormatError(line, 'occupancy.seen must be null or an object of numbers');
      if (r.convergedAfterMs !== null) need(r, 'convergedAfterMs', 'number', line);
      break;
    }
    case 'deltas':
      for (const k of ['region', 'client'] as const) need(r, k, 'string', line);
      for (const k of ['received', 'decoded', 'reattached'] as const) need(r, k, 'number', line);
      break;
    case 'history': {
      for (const k of ['region', 'channel'] as const) need(r, k, 'string', line);
      for (const k of ['historyMs', 'maxMessages'] as const) need(r, k, 'number', line);
      const v = r.items;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new RecordFormatError(line, 'history.items must be an array of strings');
      const ss = r.serials;
      if (ss !== undefined && (!Array.isArray(ss) || ss.length !== v.length || !ss.every((x) => typeof x === 'string'))) {
        throw new RecordFormatError(line, 'history.serials must be an array of strings, one per item');
      }
      if (r.error !== undefined) need(r, 'error', 'string', line);
      break;
    }
    case 'token':
      for (const k of ['region', 'client'] as const) need(r, k, 'string', line);
      if (!TOKEN_USES.includes(r.use as TokenEvent['use'])) throw new RecordFormatError(line, `token.use must be one of ${TOKEN_USES.join(', ')}`);
      if (!TOKEN_OUTCOMES.includes(r.outcome as TokenEvent['outcome'])) throw new RecordFormatError(line, `token.outcome must be one of ${TOKEN_OUTCOMES.join(', ')}`);
      needError(r, line);
      break;
    case 'revocation': {
      for (const k of ['region', 'clientId'] as const) need(r, k, 'string', line);
      const v = r.nodes;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new RecordFormatError(line, 'revocation.nodes must be an array of strings');
      break;
    }
    case 'revoked':
      for (const k of ['region', 'node', 'clientId'] as const) need(r, k, 'string', line);
      break;
    case 'append':
      for (const k of ['region', 'serial', 'fragment'] as const) need(r, k, 'string', line);
      if (r.doneAt !== undefined) need(r, 'doneAt', 'number', line);
      if (!PUBLISH_OUTCOMES.includes(r.outcome as PublishOutcome)) throw new RecordFormatError(line, `append.outcome must be one of ${PUBLISH_OUTCOMES.join(', ')}`);
      if (r.versionSerial !== undefined) need(r, 'versionSerial', 'string', line);
      if (r.annotation !== undefined && r.annotation !== true) throw new RecordFormatError(line, 'append.annotation must be true where present');
      needError(r, line);
      break;
    case 'standing':
      for (const k of ['region', 'serial'] as const) need(r, k, 'string', line);
      if (r.data !== null) need(r, 'data', 'string', line);
      for (const k of ['error', 'summary'] as const) if (r[k] !== undefined) need(r, k, 'string', line);
      break;
    case 'lifecycle': {
      const problem = lifecycleRecordProblem(r);
      if (problem) throw new RecordFormatError(line, problem);
      break;
    }
    case 'end':
      break;
    default:
      throw new RecordFormatError(line, `unknown type ${JSON.stringify(r.type)}`);
  }
  return r as unknown as RecordEvent;
}

/** Decodes and checks one line of the record. */
export function parseRecordLine(text: string, line: number): RecordEvent {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new RecordFormatError(line, 'not valid JSON', { cause: err });
  }
  return validateRecordEvent(o, line);
}

/** The line the writer emits for one event (with its newline). */
export function formatRecordLine(e: RecordEvent): string {
  return `${JSON.stringify(e)}\n`;
}

export interface ReadResult {
  /** Events handed to the callback. */
  events: number;
  /**
   * The last line had no newline and did not parse: the writer was killed mid-line.
   * It is skipped; any other bad line throws `RecordFormatError`.
   */
  truncatedTail: boolean;
}

/** 1 MiB reads: a million-event record is ~150 MB, read in ~150 chunks. */
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Streams a record file (or any byte stream) line by line into `onEvent`, without
 * holding the file in memory. Blank lines and `\r` before the newline are ignored.
 */
export async function readRecord(source: string | Readable, onEvent: (e: RecordEvent) => void): Promise<ReadResult> {
  const stream = typeof source === 'string' ? createReadStream(source, { highWaterMark: READ_CHUNK_BYTES }) : source;
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  let events = 0;
  const handle = (raw: string): void => {
    line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    onEvent(parseRecordLine(text, line));
    events++;
  };
  for await (const chunk of stream) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      handle(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  let truncatedTail = false;
  if (rest.trim() !== '') {
    try {
      handle(rest);
    } catch (err) {
      if (!(err instanceof RecordFormatError)) throw err;
      truncatedTail = true;
    }
  }
  return { events, truncatedTail };
}

/** Reads a whole record into memory (tests and small records; the checker CLI streams). */
export async function readRecordEvents(source: string | Readable): Promise<RecordEvent[]> {
  const out: RecordEvent[] = [];
  await readRecord(source, (e) => out.push(e));
  return out;
}

/** Lines are handed to the stream in batches of about this size. */
const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * Appends events to a record, one line each, in the order `write` is called. Lines are
 * batched (64 KiB) before they reach the stream; `flush` pushes a partial batch and
 * `close` flushes, ends the stream and waits until it is written.
 */
export class RecordWriter {
  private batch: string[] = [];
  private batchChars = 0;
  private closed = false;
  private failure: Error | null = null;

  private readonly out: Writable;

  /** `target`: a file path (created or truncated) or a writable stream. */
  constructor(target: string | Writable) {
    this.out = typeof target === 'string' ? createWriteStream(target, { flags: 'w' }) : target;
    this.out.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  write(e: RecordEvent): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('RecordWriter: write after close');
    const line = formatRecordLine(e);
    this.batch.push(line);
    this.batchChars += line.length;
    if (this.batchChars >= WRITE_BATCH_BYTES) this.flush();
  }

  flush(): void {
    if (this.batch.length === 0) return;
    this.out.write(this.batch.join(''));
    this.batch = [];
    this.batchChars = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    const done = once(this.out, 'finish');
    this.out.end();
    await done;
    if (this.failure) throw this.failure;
  }
}
