/**
 * What one region RPC costs a node in JavaScript, without the wire: `Rpc.request` over a
 * transport that only keeps the message, answered at once by `onReply`, for publish
 * requests as the publisher builds them (with `after` while one is ahead in flight).
 * And the request object alone, built as now (a literal of one shape, the id copied
 * onto `{ rid }`) and, in the same run, as it used to be (the publisher's
 * `{ ...req, ...(after ? { after } : {}) }`, then Rpc's `{ ...req, rid }`): in Node 20
 * an object made by a spread followed by more properties gets a hidden class of its
 * own, so every request made a new one. Rounds alternate; medians are reported.
 * Usage: node dist/bench/rpc-request.js [--rounds R] [--requests N] [--out DIR]
 *        → one JSON line on stdout; with --out, also DIR/rpc-request-<date>.json.
 */
import type { NodeId, NodeMessage, ReplyBody } from '../transport/messages.js';
import { Rpc, type RequestBody } from '../transport/rpc.js';
import type { RegionTransport } from '../transport/transport.js';
import { argOf, emitResult, median } from './util.js';

const REPLY: ReplyBody = { kind: 'published', serials: ['e:1'], epoch: 'e' };

/** Keeps the last message sent; nothing else. */
function nullTransport(): { t: RegionTransport; last: () => NodeMessage } {
  let last: NodeMessage | null = null;
  const t = { send: (_to: NodeId, msg: NodeMessage) => void (last = msg) } as unknown as RegionTransport;
  return { t, last: () => last! };
}

type Build = (channel: string, messages: unknown[], after: string | undefined) => RequestBody;

/** As the publisher builds it now: one literal shape, `after` possibly undefined. */
const literal: Build = (channel, messages, after) => ({ type: 'publish', channel, messages, after }) as RequestBody;

/** As it was built before: a spread followed by another spread (and Rpc's own spread). */
const spread: Build = (channel, messages, after) => {
  const req = { type: 'publish' as const, channel, messages };
  return { ...req, ...(after !== undefined ? { after } : {}) } as RequestBody;
};

/** The request object as it goes to the transport: Rpc adds the id (now onto `{ rid }`, before by a spread). */
function objects(n: number, build: Build, old: boolean): number {
  const messages = [{ id: 'c:1:0', name: 'n', data: 'x'.repeat(100), timestamp: 1 }];
  const keep: unknown[] = new Array(64);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const req = build('app:bench', messages, i > 0 ? `c:${i - 1}:0` : undefined);
    keep[i & 63] = old ? { ...req, rid: i } : Object.assign({ rid: i }, req);
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

/** A whole request and its reply through Rpc, as the code is now. */
async function round(n: number): Promise<number> {
  const { t, last } = nullTransport();
  const rpc = new Rpc(t);
  const messages = [{ id: 'c:1:0', name: 'n', data: 'x'.repeat(100), timestamp: 1 }];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const p = rpc.request('b', literal('app:bench', messages, i > 0 ? `c:${i - 1}:0` : undefined), 5000);
    const m = last() as NodeMessage & { rid: number };
    rpc.onReply('b', { type: 'reply', rid: m.rid, body: REPLY });
    await p;
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

async function main(): Promise<void> {
  const rounds = Number(argOf('--rounds') ?? 7);
  const n = Number(argOf('--requests') ?? 200_000);
  const now: number[] = [];
  const before: number[] = [];
  const whole: number[] = [];
  objects(n / 4, literal, false);
  objects(n / 4, spread, true);
  await round(n / 4);
  for (let r = 0; r < rounds; r++) {
    now.push(objects(n, literal, false));
    before.push(objects(n, spread, true));
    whole.push(await round(n));
  }
  const result = {
      date: new Date().toISOString(),
      node: process.version,
      requests: n,
      rounds,
      requestObjectNs: Math.round(median(now)),
      requestObjectNsBefore: Math.round(median(before)),
      ratio: Number((median(before) / median(now)).toFixed(1)),
      rpcRoundTripNs: Math.round(median(whole)),
  };
  emitResult('rpc-request', result, argOf('--out'));
}

void main();
