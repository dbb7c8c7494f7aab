/**
 * What message versions cost on a channel's master (src/channel/versions.ts), in one
 * process and one run, against the baseline of a plain publish measured alongside: the
 * state's `accept` of a create, of an append to one message (by how many versions it has
 * already: each must be about as cheap as the first), and of an update; a history read
 * of a message with many versions (first read, which joins them all, and again); and
 * `getMessage`'s look through history for a serial it does not hold. After a round not
 * counted (the code warm); an annotation's `accept` by 10 and by 1,000 clients, and
 * `getMessage` of the annotated message. Figures are medians over rounds, in µs. Besides: what a
 * message's serial adds to a MESSAGE frame of 43 messages of 100 bytes of data (the
 * fan-out benchmark's), in bytes per message, in each format.
 * Usage: node dist/bench/message-versions.js [--rounds R] [--appends N] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/message-versions-<date>.json.
 */
import type { LogEntry } from '../channel/entry.js';
import { ChannelState, type ChannelSettings } from '../channel/state.js';
import { entryFrames } from '../protocol/frames.js';
import { MessageAction, type Message } from '../protocol/message.js';
import { formatMessageSerial } from '../protocol/message-serial.js';
import { argOf, emitResult, median } from './util.js';

const SETTINGS: ChannelSettings = { region: 'eu', historyMs: 3_600_000, dedupMs: 3_600_000, maxMessages: 100_000, maxMessageSize: 1 << 20 };
/** Creates in the log besides the changed message (a busy channel's history to look through). */
const OTHERS = 10_000;

function us(from: number): number {
  return (performance.now() - from) * 1000;
}

function round(appends: number) {
  const st = ChannelState.fresh('app:mutable:bench', SETTINGS, Date.now(), 'ep');
  let n = 0;
  const create = (): Message => ({ id: `c:${n++}:0`, name: 'm', data: 'x'.repeat(100), timestamp: Date.now() });
  for (let i = 0; i < OTHERS; i++) st.accept([create()], Date.now());
  let t = performance.now();
  const [serial] = st.accept([create()], Date.now()).serials;
  const createUs = us(t);
  const appendUs: number[] = [];
  for (let i = 1; i <= appends; i++) {
    t = performance.now();
    st.accept([{ id: `a:${i}:0`, timestamp: Date.now(), serial, action: 5, data: ` token${i}` }], Date.now());
    appendUs.push(us(t));
  }
  t = performance.now();
  st.accept([{ id: 'u:1:0', timestamp: Date.now(), serial, action: 1, name: 'edited' }], Date.now());
  const updateUs = us(t);
  const plainUs: number[] = [];
  for (let i = 0; i < 200; i++) {
    t = performance.now();
    st.accept([create()], Date.now());
    plainUs.push(us(t));
  }
  const page = () => st.query({ direction: 'backwards', limit: 100, kind: 'message' });
  t = performance.now();
  page();
  const historyFirstUs = us(t);
  t = performance.now();
  page();
  const historyAgainUs = us(t);
  t = performance.now();
  st.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial!.replace('@eu:', '@us:') });
  const lookupMissUs = us(t);
  const tenth = Math.max(1, Math.floor(appends / 10));
  return {
    ...annotations(st, serial!),
    createUs,
    plainUs: median(plainUs),
    firstAppendsUs: median(appendUs.slice(0, tenth)),
    lastAppendsUs: median(appendUs.slice(-tenth)),
    updateUs,
    historyFirstUs,
    historyAgainUs,
    lookupMissUs,
  };
}

/**
 * Annotations (src/channel/annotations.ts) of one message: each `accept` of one
 * (distinct.v1, three names), by 10 clients and then by 1,000, its median over the last
 * tenth (the first ones by new clients); and getMessage with its summary.
 */
function annotations(st: ChannelState, serial: string) {
  const per = (clients: number, type: string) => {
    const took: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      st.accept([{ id: `${type}:${i}`, timestamp: Date.now(), serial, action: MessageAction.ANNOTATION, annotation: { action: 0, type }, name: ['up', 'down', 'heart'][i % 3]!, clientId: `client-${i % clients}` }], Date.now());
      took.push(us(t));
    }
    return median(took.slice(-200));
  };
  const annotation10Us = per(10, 'few:distinct.v1');
  const annotation1000Us = per(1000, 'many:distinct.v1');
  const t = performance.now();
  st.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial });
  return { annotation10Us, annotation1000Us, getMessageAnnotatedUs: us(t) };
}

/** Bytes per message of a frame of 43 such messages, without and with their serials. */
function frameBytes(format: 'json' | 'msgpack'): { without: number; with: number } {
  const at = Date.now();
  const entries = (serials: boolean): LogEntry[] =>
    Array.from({ length: 43 }, (_, i) => {
      const origin = { region: 'eu', epoch: 'k3j2h1a', seq: 100_000 + i };
      const message: Message = { id: `conn-abcdef:${i}:0`, name: 'm', connectionId: 'conn-abcdef', data: 'x'.repeat(100), timestamp: at };
      if (serials) message.serial = formatMessageSerial(at, origin);
      return { kind: 'message', serial: i + 1, channelSerial: `eu~k3j2h1a~${i}`, storedAt: at, origin, message };
    });
  const size = (serials: boolean) => entryFrames('fanout', entries(serials), format).reduce((a, f) => a + Buffer.byteLength(f as string | Buffer), 0) / 43;
  return { without: Number(size(false).toFixed(1)), with: Number(size(true).toFixed(1)) };
}

const rounds = Number(argOf('--rounds') ?? 7);
const appends = Number(argOf('--appends') ?? 5000);
round(Math.min(appends, 500)); // not counted: the code compiled and warm
const runs = Array.from({ length: rounds }, () => round(appends));
const med = (k: keyof (typeof runs)[number]) => Number(median(runs.map((r) => r[k])).toFixed(1));
const result = {
  date: new Date().toISOString(),
  rounds,
  appends,
  others: OTHERS,
  node: process.version,
  plainPublishUs: med('plainUs'),
  firstTenthAppendUs: med('firstAppendsUs'),
  lastTenthAppendUs: med('lastAppendsUs'),
  updateUs: med('updateUs'),
  historyFirstReadUs: med('historyFirstUs'),
  historyAgainUs: med('historyAgainUs'),
  lookupMissUs: med('lookupMissUs'),
  annotation10Us: med('annotation10Us'),
  annotation1000Us: med('annotation1000Us'),
  getMessageAnnotatedUs: med('getMessageAnnotatedUs'),
  frameBytesPerMessage: { json: frameBytes('json'), msgpack: frameBytes('msgpack') },
};
emitResult('message-versions', result, argOf('--out'));
