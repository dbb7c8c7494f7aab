/**
 * Region transports compared with one method: the mesh (direct TCP, writes corked per
 * turn) against NATS (one local nats-server; and a two-server cluster with sender and
 * receivers on different servers, so each message crosses a route). Node processes on
 * loopback:
 * - hop latency: request/reply round trips to one peer, one at a time; a hop is half of one;
 * - stream: single-message broadcasts (~100-byte message) to one peer, sent in bursts of
 *   100 per event-loop turn as a busy channel master sends them, until the peer has all;
 * - fan-out: the same, each message sent to every one of FANOUT peers (a master sends a
 *   broadcast once per subscribing node); deliveries/s counts each copy.
 * Usage: node dist/bench/transport-hop.js [--messages N] [--rtts N] [--fanout K] [--runs R] [--out DIR] [--mesh-only]
 *   (--mesh-only: the mesh corked per turn against one write per frame, one run.)
 *        → one JSON line on stdout (each figure the median of R runs); with --out, also
 *        DIR/transport-hop-<date>.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../log.js';
import { MeshTransport } from '../transport/mesh.js';
import type { NodeMessage } from '../transport/messages.js';
import { NatsTransport } from '../transport/nats.js';
import { Rpc } from '../transport/rpc.js';
import type { RegionTransport } from '../transport/transport.js';
import { NatsServers } from '../nats-server.js';
import { freePort, median, percentile } from './util.js';

const SECRET = 'bench-secret';
/** A peer that has not reported in this long has stalled: the run fails instead of hanging. */
const STALL_TIMEOUT_MS = 60_000;

/** `mesh-uncorked`: the mesh writing each frame at once, to show what corking per turn buys. */
type Kind = 'mesh' | 'mesh-uncorked' | 'nats' | 'nats-cluster';

interface NodeSpec {
  id: string;
  meshPort: number;
  /** NATS servers this node dials (first its own). */
  servers: string[];
}

interface Setup {
  kind: Kind;
  nodes: NodeSpec[];
}

function makeTransport(setup: Setup, self: string): RegionTransport {
  const me = setup.nodes.find((n) => n.id === self)!;
  if (setup.kind === 'mesh' || setup.kind === 'mesh-uncorked') {
    const corkPerTurn = setup.kind === 'mesh';
    const t = new MeshTransport({ self, region: 'bench', host: '127.0.0.1', meshPort: me.meshPort, secret: SECRET, log: silentLogger(), corkPerTurn });
    for (const n of setup.nodes) if (n.id !== self) t.addPeer(n.id, { host: '127.0.0.1', port: 0, meshPort: n.meshPort });
    return t;
  }
  const t = new NatsTransport({ self, deployment: 'bench', region: 'bench', servers: me.servers, log: silentLogger() });
  for (const n of setup.nodes) if (n.id !== self) t.addPeer(n.id, { host: '127.0.0.1', port: 0, meshPort: 0 });
  return t;
}

function broadcast(i: number): NodeMessage {
  return {
    type: 'broadcast',
    channel: 'app:bench',
    epoch: 'e',
    entries: [
      {
        kind: 'message',
        serial: i,
        channelSerial: `bench~e~${i.toString(36)}`,
        storedAt: Date.now(),
        origin: { region: 'bench', epoch: 'e', seq: i },
        message: { id: `conn:${i}:0`, name: 'm', data: 'x'.repeat(100), timestamp: Date.now(), connectionId: 'conn' },
      },
    ],
  };
}

/** A far node: answers requests, counts broadcasts, reports when it has the expected number. */
async function peer(): Promise<void> {
  const self = process.argv[3]!;
  const setup = JSON.parse(process.argv[4]!) as Setup;
  const t = makeTransport(setup, self);
  const rpc = new Rpc(t);
  let count = 0;
  let want = -1;
  t.onMessage((from, msg) => {
    if (msg.type === 'broadcast') {
      count++;
      if (count === want) process.send!({ done: count });
    } else if (msg.type === 'sub') rpc.reply(from, msg.rid, { kind: 'ok' });
  });
  process.on('message', (m: { expect?: number; reset?: boolean }) => {
    if (m.reset) {
      count = 0;
      want = m.expect ?? -1;
      process.send!({ resetDone: true });
    }
  });
  await t.start();
  process.send!({ ready: true });
}

function fromChild<T>(child: ChildProcess, pred: (m: any) => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench peer stalled')), STALL_TIMEOUT_MS);
    const on = (m: any) => {
      if (!pred(m)) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
  });
}

export interface HopResult {
  transport: Kind;
  rttP50Us: number;
  rttP99Us: number;
  hopP50Us: number;
  /** Stream to one peer: messages per second. */
  streamMsgsPerS: number;
  /** Fan-out: messages per second at the sender, each sent to `fanout` peers. */
  fanoutMsgsPerS: number;
  /** Fan-out: copies delivered per second over all peers. */
  fanoutDeliveriesPerS: number;
  fanout: number;
}

async function streamTo(a: RegionTransport, children: ChildProcess[], ids: string[], messages: number): Promise<number> {
  await Promise.all(
    children.map((c) => {
      const done = fromChild(c, (m) => m.resetDone);
      c.send({ reset: true, expect: messages });
      return done;
    }),
  );
  const done = Promise.all(children.map((c) => fromChild(c, (m) => m.done === messages)));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages; i += 100) {
    for (let j = i; j < Math.min(i + 100, messages); j++) {
      // One message object per broadcast, sent to every subscribing node (encoded once).
      const msg = broadcast(j);
      for (const id of ids) a.send(id, msg);
    }
    await new Promise((r) => setImmediate(r));
  }
  await done;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function runOnce(kind: Kind, o: { messages: number; rtts: number; fanout: number }): Promise<HopResult> {
  const ids = Array.from({ length: Math.max(1, o.fanout) }, (_, i) => `b${i + 1}`);
  let nats: NatsServers | null = null;
  const children: ChildProcess[] = [];
  let a: RegionTransport | null = null;
  try {
    let servers: string[][];
    if (kind === 'mesh' || kind === 'mesh-uncorked') servers = [[], ...ids.map(() => [])];
    else {
      nats = await NatsServers.start({ count: kind === 'nats-cluster' ? 2 : 1 });
      // In the cluster, the sender is on server 1 and every receiver on server 2.
      servers = [[nats.url(0)], ...ids.map(() => [nats!.url(nats!.count - 1)])];
    }
    const nodes: NodeSpec[] = [];
    const all = ['a', ...ids];
    for (let i = 0; i < all.length; i++) nodes.push({ id: all[i]!, meshPort: await freePort(), servers: servers[i]! });
    const setup: Setup = { kind, nodes };
    for (const id of ids) {
      const c = fork(fileURLToPath(import.meta.url), ['peer', id, JSON.stringify(setup)], { stdio: 'inherit' });
      children.push(c);
    }
    await Promise.all(children.map((c) => fromChild(c, (m) => m.ready)));
    a = makeTransport(setup, 'a');
    const rpc = new Rpc(a);
    a.onMessage((from, msg) => msg.type === 'reply' && rpc.onReply(from, msg));
    await a.start();
    // Warm up, and wait until every peer answers.
    for (const id of ids) for (let i = 0; i < 200; i++) await rpc.request(id, { type: 'sub', channel: 'x' }, 5000).catch(() => undefined);
    const times: number[] = [];
    for (let i = 0; i < o.rtts; i++) {
      const t0 = process.hrtime.bigint();
      await rpc.request('b1', { type: 'sub', channel: 'x' }, 5000);
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    times.sort((x, y) => x - y);
    const streamS = await streamTo(a, [children[0]!], ['b1'], o.messages);
    // A fan-out to one peer is the stream itself.
    const fanoutMessages = o.fanout > 1 ? Math.round(o.messages / o.fanout) : o.messages;
    const fanoutS = o.fanout > 1 ? await streamTo(a, children, ids, fanoutMessages) : streamS;
    return {
      transport: kind,
      rttP50Us: Math.round(percentile(times, 50)),
      rttP99Us: Math.round(percentile(times, 99)),
      hopP50Us: Math.round(percentile(times, 50) / 2),
      streamMsgsPerS: Math.round(o.messages / streamS),
      fanoutMsgsPerS: Math.round(fanoutMessages / fanoutS),
      fanoutDeliveriesPerS: Math.round((fanoutMessages * ids.length) / fanoutS),
      fanout: ids.length,
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
    await a?.stop().catch(() => undefined);
    await nats?.stop();
  }
}

function medianResult(runs: HopResult[]): HopResult {
  const m = (f: (r: HopResult) => number) => Math.round(median(runs.map(f)));
  const r0 = runs[0]!;
  return {
    transport: r0.transport,
    rttP50Us: m((r) => r.rttP50Us),
    rttP99Us: m((r) => r.rttP99Us),
    hopP50Us: m((r) => r.hopP50Us),
    streamMsgsPerS: m((r) => r.streamMsgsPerS),
    fanoutMsgsPerS: m((r) => r.fanoutMsgsPerS),
    fanoutDeliveriesPerS: m((r) => r.fanoutDeliveriesPerS),
    fanout: r0.fanout,
  };
}

export async function transportHop(o: { messages: number; rtts: number; fanout: number; runs: number; kinds?: Kind[] }) {
  const kinds = o.kinds ?? (['mesh', 'nats', 'nats-cluster'] as Kind[]);
  const byKind = new Map<Kind, HopResult[]>(kinds.map((k) => [k, []]));
  // Interleaved, so that a noisy neighbour hurts every transport alike.
  for (let r = 0; r < o.runs; r++) for (const k of kinds) byKind.get(k)!.push(await runOnce(k, o));
  return {
    scenario: 'transport-hop',
    messages: o.messages,
    rtts: o.rtts,
    runs: o.runs,
    results: kinds.map((k) => medianResult(byKind.get(k)!)),
  };
}

/** The mesh alone, corked per turn and writing each frame at once (README: framing and batching). */
export async function meshHop(o: { messages: number; rtts: number }) {
  const r = await transportHop({ ...o, fanout: 1, runs: 1, kinds: ['mesh', 'mesh-uncorked'] });
  const [corked, uncorked] = r.results as [HopResult, HopResult];
  return { scenario: 'mesh-hop', corked, uncorked, throughputRatio: +(corked.streamMsgsPerS / uncorked.streamMsgsPerS).toFixed(2) };
}

if (process.argv[2] === 'peer') {
  void peer();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const o = process.argv.indexOf('--out');
  const out = o > 0 ? resolve(process.argv[o + 1]!) : null;
  const run = process.argv.includes('--mesh-only')
    ? meshHop({ messages: arg('messages', 200_000), rtts: arg('rtts', 5000) })
    : transportHop({ messages: arg('messages', 100_000), rtts: arg('rtts', 3000), fanout: arg('fanout', 2), runs: arg('runs', 3) });
  run.then(
    (r) => {
      const line = JSON.stringify({ ...r, date: new Date().toISOString() });
      if (out) {
        mkdirSync(out, { recursive: true });
        writeFileSync(join(out, `transport-hop-${new Date().toISOString().slice(0, 10)}.json`), `${line}\n`);
      }
      console.log(line);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
