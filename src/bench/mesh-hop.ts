/**
 * Mesh hop benchmark: the cost of one node-to-node hop on the mesh transport, measured
 * between two processes on loopback.
 * - latency: request/reply round trips, one at a time; a hop is half a round trip;
 * - throughput: a stream of broadcasts (one ~100-byte message each) from one node to the
 *   other, with writes corked per event-loop turn and with one write per frame.
 * Usage: node dist/bench/mesh-hop.js [--messages N] [--rtts N] → one JSON line on stdout.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger, silentLogger } from '../log.js';
import { MeshTransport } from '../transport/mesh.js';
import type { NodeMessage } from '../transport/messages.js';
import { Rpc } from '../transport/rpc.js';
import { freePort, percentile } from './util.js';

const SECRET = 'bench-secret';

function transport(self: string, port: number, peer: string, peerPort: number, corkPerTurn: boolean): MeshTransport {
  const t = new MeshTransport({ self, region: 'bench', host: '127.0.0.1', meshPort: port, secret: SECRET, log: process.env.MESH_HOP_LOG ? createLogger('debug') : silentLogger(), corkPerTurn });
  t.addPeer(peer, { host: '127.0.0.1', port: 0, meshPort: peerPort });
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

/** The far node: answers requests, counts broadcasts, reports each finished stream. */
async function peer(): Promise<void> {
  const [myPort, otherPort, cork] = process.argv.slice(3).map(Number) as [number, number, number];
  const t = transport('b', myPort, 'a', otherPort, cork === 1);
  const rpc = new Rpc(t);
  let count = 0;
  let want = -1;
  t.onMessage((from, msg) => {
    if (msg.type === 'broadcast') {
      count++;
      if (count === want) process.send!({ done: count });
    } else if (msg.type === 'sub') rpc.reply(from, msg.rid, { kind: 'ok' });
  });
  process.on('message', (m: { expect?: number; reset?: boolean; report?: boolean }) => {
    if (m.report) process.send!({ count });
    if (m.reset) {
      count = 0;
      want = m.expect ?? -1;
      process.send!({ resetDone: true });
    }
  });
  await t.start();
  process.send!({ ready: true });
}

async function run(corkPerTurn: boolean, messages: number, rtts: number): Promise<{ cork: boolean; rttP50Us: number; rttP99Us: number; hopP50Us: number; msgsPerS: number }> {
  const [pa, pb] = [await freePort(), await freePort()];
  const child = fork(fileURLToPath(import.meta.url), ['peer', String(pb), String(pa), corkPerTurn ? '1' : '0'], { stdio: 'inherit' });
  const fromChild = (pred: (m: any) => boolean) => new Promise<any>((r) => child.on('message', (m) => pred(m) && r(m)));
  await fromChild((m) => m.ready);
  const a = transport('a', pa, 'b', pb, corkPerTurn);
  const rpc = new Rpc(a);
  a.onMessage((from, msg) => msg.type === 'reply' && rpc.onReply(from, msg));
  await a.start();
  try {
    // Warm up and wait for the link.
    for (let i = 0; i < 200; i++) await rpc.request('b', { type: 'sub', channel: 'x' }, 5000).catch(() => undefined);
    const times: number[] = [];
    for (let i = 0; i < rtts; i++) {
      const t0 = process.hrtime.bigint();
      await rpc.request('b', { type: 'sub', channel: 'x' }, 5000);
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    times.sort((x, y) => x - y);
    const reset = fromChild((m) => m.resetDone);
    child.send({ reset: true, expect: messages });
    await reset;
    const done = fromChild((m) => m.done === messages);
    const t0 = process.hrtime.bigint();
    // Sent in bursts of 100 per turn, as a busy master broadcasts.
    for (let i = 0; i < messages; i += 100) {
      for (let j = i; j < Math.min(i + 100, messages); j++) a.send('b', broadcast(j));
      await new Promise((r) => setImmediate(r));
    }
    const watchdog = setInterval(() => child.send({ report: true }), 5000);
    child.on('message', (m: any) => m.count !== undefined && console.error(`[mesh-hop] peer has ${m.count}/${messages}; link ${JSON.stringify(a.stats().links)}`));
    await done;
    clearInterval(watchdog);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      cork: corkPerTurn,
      rttP50Us: Math.round(percentile(times, 50)),
      rttP99Us: Math.round(percentile(times, 99)),
      hopP50Us: Math.round(percentile(times, 50) / 2),
      msgsPerS: Math.round(messages / seconds),
    };
  } finally {
    child.kill('SIGKILL');
    await a.stop();
  }
}

export async function meshHop(o: { messages: number; rtts: number }) {
  const corked = await run(true, o.messages, o.rtts);
  const uncorked = await run(false, o.messages, o.rtts);
  return { scenario: 'mesh-hop', corked, uncorked, throughputRatio: +(corked.msgsPerS / uncorked.msgsPerS).toFixed(2) };
}

if (process.argv[2] === 'peer') {
  void peer();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  void meshHop({ messages: arg('messages', 200_000), rtts: arg('rtts', 5000) }).then((r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  });
}
