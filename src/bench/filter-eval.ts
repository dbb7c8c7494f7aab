/**
 * What a subscription filter costs (src/channel/filter.ts), in one process and one run:
 * each expression tested against a stream of messages like the fan-out benchmark's
 * (about 100 bytes of data, three headers), against the baseline of encoding the same
 * message's MESSAGE frame (what a delivery costs anyway, once per format and batch), after
 * a round of each not counted (the code warm). A node tests each message once per filter
 * among its subscribers (the frames of a batch are shared per filter). Figures are
 * medians over rounds: ns per test, ns per frame, and the share of messages that passed.
 * Usage: node dist/bench/filter-eval.js [--rounds R] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/filter-eval-<date>.json.
 */
import type { LogEntry } from '../channel/entry.js';
import { compileFilter } from '../channel/filter.js';
import type { Message } from '../protocol/message.js';
import { entryFrames } from '../protocol/frames.js';
import { argOf, emitResult, median } from './util.js';

const MESSAGES = 20_000;

const EXPRESSIONS = [
  { label: 'name equals', expression: "name == 'ice-cream'" },
  { label: "Ably's documented example", expression: 'name == `"ice-cream"` && headers.flavor == `"strawberry"` && headers.cost < `50`' },
  { label: 'functions and or', expression: "starts_with(headers.flavor, 'straw') || (contains(name, 'sorbet') && !(headers.cost > `30`))" },
];

function message(i: number): Message {
  const flavors = ['strawberry', 'chocolate', 'vanilla', 'mint'];
  return {
    id: `conn:${i}:0`,
    name: i % 3 === 0 ? 'sorbet' : 'ice-cream',
    connectionId: 'conn',
    data: `${'x'.repeat(90)}${String(i).padStart(10, '0')}`,
    extras: { headers: { flavor: flavors[i % 4]!, cost: (i * 7) % 80, temp: 3 } },
    timestamp: 1_700_000_000_000 + i,
  };
}

function entry(i: number, m: Message): LogEntry {
  return { kind: 'message', serial: i + 1, channelSerial: `r1@e:${i + 1}`, storedAt: i, origin: { region: 'r1', epoch: 'e', seq: i + 1 }, message: m };
}

function measure(rounds: number) {
  const msgs = Array.from({ length: MESSAGES }, (_, i) => message(i));
  const entries = msgs.map((m, i) => entry(i, m));
  const filters = EXPRESSIONS.map((e) => ({ ...e, filter: compileFilter(e.expression) }));
  const frameNs: number[] = [];
  const testNs = filters.map(() => [] as number[]);
  const passed = filters.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    for (const e of entries) entryFrames('ch', [e], 'json');
    frameNs.push(((performance.now() - t) * 1e6) / MESSAGES);
    filters.forEach((f, k) => {
      let n = 0;
      t = performance.now();
      for (const m of msgs) if (f.filter.matches(m)) n++;
      testNs[k]!.push(((performance.now() - t) * 1e6) / MESSAGES);
      passed[k] = n / MESSAGES;
    });
  }
  const frame = median(frameNs);
  return {
    jsonFrameNs: Math.round(frame),
    filters: filters.map((f, k) => ({
      label: f.label,
      expression: f.expression,
      testNs: Math.round(median(testNs[k]!)),
      testOverFrame: Number((median(testNs[k]!) / frame).toFixed(3)),
      passed: Number(passed[k]!.toFixed(3)),
    })),
  };
}

const rounds = Number(argOf('--rounds') ?? 9);
measure(1); // not counted: the code compiled and warm
const result = { date: new Date().toISOString(), rounds, messages: MESSAGES, node: process.version, ...measure(rounds) };
emitResult('filter-eval', result, argOf('--out'));
