/**
 * Random input, seeded: connections to both nodes of region r1 send ProtocolMessages
 * whose fields may have any type or value (test/helpers/fuzz.ts), in JSON and in
 * msgpack, connections are opened with random query parameters, and random REST
 * requests go to every node; subscribers on r1's second node and in region r2 make r1
 * forward the fuzzed channels over the mesh and the region link. Whatever comes back is either what a client would get for good input or an
 * Ably-style error ({code, statusCode, message}, never a 5xx); what was accepted reaches
 * both subscribers alike, in the same order, once (and each connection's final good
 * publish, where it was ACKed, is among it); no node logs an error or stops, the
 * region link stays up, and a bystander's messages still cross both.
 * ABLY_NG_FUZZ_SEED repeats a run; ABLY_NG_FUZZ_CONNECTIONS makes it longer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Action } from '../../src/protocol/actions.js';
import { decodeFrame } from '../../src/protocol/codec.js';
import { packMsgpack } from '../../src/protocol/codec.js';
import type { ProtocolMessage } from '../../src/protocol/types.js';
import { seeded, type Seeded as Rng } from '../../src/rng.js';
import { allLinksUp, nodeLogLines, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { anyValue, randomMessage, randomProtocolMessage } from '../helpers/fuzz.js';
import { RawClient } from '../helpers/raw.js';
import { closeAll, realtime } from '../helpers/sdk.js';
import { KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

const SEED = Number(process.env.ABLY_NG_FUZZ_SEED ?? Date.now() % 1_000_000);
const CONNECTIONS = Number(process.env.ABLY_NG_FUZZ_CONNECTIONS ?? 120);
const FRAMES_PER_CONNECTION = 15;
const IN_FLIGHT = 8;

let d: TestDeployment;
/** r1's nodes, where the fuzz goes. */
let nodes: string[];
/** The channels the fuzz publishes on most. */
const CHANNELS = ['fuzz', 'fuzz-2', 'other'];
/** Bare subscribers to them (they decode nothing): on r1's second node, and in r2. */
let local: RawClient;
let remote: RawClient;

async function collector(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  await client.next((m) => m.action === Action.CONNECTED);
  for (const channel of CHANNELS) {
    client.send({ action: Action.ATTACH, channel });
    await client.next((m) => m.action === Action.ATTACHED && m.channel === channel);
  }
  return client;
}

/** Ids of the messages a collector received, per channel, in order. */
function received(c: RawClient): Map<string, string[]> {
  const ids = new Map<string, string[]>(CHANNELS.map((ch) => [ch, []]));
  for (const m of c.received) if (m.action === Action.MESSAGE) ids.get(m.channel!)?.push(...(m.messages ?? []).map((x) => x.id!));
  return ids;
}

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }, { name: 'r2', nodes: 1 }], limits: { maxMessageSize: 2048, maxFrameSize: 16384 } });
  nodes = d.nodes('r1');
  await regionLinksUp(d, ['r1', 'r2']);
  local = await collector(d.port(nodes[1]!));
  remote = await collector(d.port(d.nodes('r2')[0]!));
  // The other region's interest has reached r1 (its forwarding has begun) when a probe arrives.
  const probe = realtime(d.port(nodes[0]!));
  try {
    await waitFor(async () => {
      for (const ch of CHANNELS) await probe.channels.get(ch).publish('probe', 'p');
      return CHANNELS.every((ch) => received(remote).get(ch)!.length > 0);
    }, { what: 'r2 receiving what is published in r1' });
  } finally {
    closeAll(probe);
  }
}, 60_000);

afterAll(async () => {
  local?.close();
  remote?.close();
  await d?.stop();
});

/** What is wrong with an error a node sent, or null. */
function badError(e: unknown): string | null {
  if (e === undefined) return null;
  const x = e as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof x.code !== 'number' || typeof x.statusCode !== 'number' || typeof x.message !== 'string' || !x.message) return `not an Ably error: ${JSON.stringify(e)}`;
  if (x.statusCode >= 500) return `a server error for client input: ${JSON.stringify(e)}`;
  return null;
}

/**
 * A good publish each fuzzed connection ends with, on CHANNELS[0], with a msgSerial no
 * random frame has (so that its ACK or NACK is its own): its id where it was ACKed.
 */
const MARKER_SERIAL = 1_000_000_000;
const accepted: string[] = [];

/** One connection's random frames; what was wrong with the answers. */
async function fuzzConnection(r: Rng, port: number, n: number): Promise<string[]> {
  const binary = n % 2 === 1;
  const c = await RawClient.connect(port, r.chance(0.3) ? { clientId: 'bob' } : {}, binary ? 'msgpack' : 'json');
  const sent: unknown[] = [];
  try {
    await c.next((m) => m.action === Action.CONNECTED || m.action === Action.ERROR);
    for (let i = 0; i < FRAMES_PER_CONNECTION && !c.closed; i++) {
      const pm = randomProtocolMessage(r, binary);
      sent.push(pm);
      if (binary) c.sendRaw(packMsgpack(pm), true);
      else c.sendRaw(JSON.stringify(pm));
    }
    // Frames are handled in order: an attach after them answers once they all were
    // (unless one of them ended the connection, which closes it).
    const last = `fuzz-end-${n}`;
    const markerSerial = MARKER_SERIAL + n;
    const markerId = `marker-${SEED}-${n}`;
    if (!c.closed) {
      c.send({ action: Action.MESSAGE, channel: CHANNELS[0], msgSerial: markerSerial, messages: [{ id: markerId, data: 'end' }] });
      c.send({ action: Action.ATTACH, channel: last });
    }
    const answered = (action: number) => c.received.find((m) => m.action === action && m.msgSerial === markerSerial);
    await waitFor(() => c.closed || (c.received.some((m) => m.channel === last) && (answered(Action.ACK) || answered(Action.NACK))), {
      what: `connection ${n} answered`,
    });
    if (answered(Action.ACK)) accepted.push(markerId);
  } finally {
    c.close();
  }
  const problems: string[] = [];
  for (const m of c.received as (ProtocolMessage & { error?: unknown })[]) {
    const why = badError(m.error);
    if (why) problems.push(`connection ${n}, action ${m.action}: ${why}; sent ${JSON.stringify(sent).slice(0, 1500)}`);
  }
  return problems;
}

/** One connection attempt with random query parameters; what was wrong with the answer, or null. */
async function fuzzConnect(r: Rng, port: number): Promise<string | null> {
  const params: Record<string, string> = {};
  const maybe = (k: string, values: string[]) => {
    if (r.chance(0.5)) params[k] = r.pick(values);
  };
  maybe('key', [KEY, KEY, 'app.root:wrong', 'app.nope:x', 'nokey', '', 'a.b:c:d', '🙂.🙂:🙂']);
  maybe('accessToken', ['x', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9.e30.x', '', 'x'.repeat(5000)]);
  maybe('format', ['json', 'msgpack', 'xml', '']);
  maybe('v', ['6', '5', '1', '99', 'x', '']);
  maybe('heartbeats', ['true', 'false', 'maybe']);
  maybe('echo', ['true', 'false', '']);
  maybe('clientId', ['bob', '*', '', 'x'.repeat(300), 'a\u0000b']);
  maybe('resume', ['garbage', 'abc-1', '!', 'x'.repeat(300)]);
  maybe('recover', ['garbage', 'abc-1', '{}']);
  maybe('connectionSerial', ['-1', '0', 'x']);
  maybe('remainPresentFor', ['1000', '-1', 'x']);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?${new URLSearchParams(params)}`);
  const format = params.format === 'msgpack' ? 'msgpack' : 'json';
  const what = `connect ?${new URLSearchParams(params).toString().slice(0, 300)}`;
  try {
    return await new Promise<string | null>((resolve) => {
      const t = setTimeout(() => resolve(`${what}: no answer in 5 s`), 5000);
      const done = (v: string | null) => {
        clearTimeout(t);
        resolve(v);
      };
      ws.on('unexpected-response', (_req, res) => done(res.statusCode && res.statusCode >= 500 ? `${what} → HTTP ${res.statusCode}` : null));
      ws.on('error', (e) => done(`${what}: ${e.message}`));
      ws.on('message', (data: Buffer, binary: boolean) => {
        let m: ProtocolMessage & { error?: unknown };
        try {
          m = decodeFrame(binary ? data : data.toString('utf8'), format);
        } catch (e) {
          return done(`${what}: an answer that is not a ProtocolMessage: ${(e as Error).message}`);
        }
        const why = badError(m.error);
        done(why ? `${what} → action ${m.action}: ${why}` : m.action === Action.CONNECTED || m.error ? null : `${what} → action ${m.action}, neither CONNECTED nor an error`);
      });
    });
  } finally {
    ws.terminate();
  }
}

/**
 * One random REST request; what was wrong with the answer, or null. `own`: the channels it
 * publishes on most (in r2, others than CHANNELS: messages accepted in two regions at once
 * have no one order, each region orders them as they come, and the collectors compare
 * the order of r1's).
 */
async function fuzzRest(r: Rng, port: number, own: readonly string[] = CHANNELS): Promise<string | null> {
  const channel = encodeURIComponent(String(r.pick([own[0], own[1], '', ':x', 'a'.repeat(300), '[?rewind=1]x'])));
  const auth = `Basic ${Buffer.from(KEY).toString('base64')}`;
  const path = r.pick([
    `/channels/${channel}/messages`,
    `/channels/${channel}/messages?limit=${r.pick(['0', '1', '1001', '-1', 'x', ''])}&direction=${r.pick(['forwards', 'backwards', 'sideways'])}&start=${r.pick(['0', '-5', 'x', String(2 ** 60)])}`,
    `/channels/${channel}/presence`,
    `/channels/${channel}`,
    `/stats?unit=${r.pick(['minute', 'hour', 'year', 'x'])}`,
    '/time',
    `/${r.pick(['keys', 'channels', 'x'])}/${channel}`,
    // Open: no credentials needed.
    `/keys/${r.pick(['app.root', 'nosuch.key', '', '🙂'])}/requestToken`,
  ]);
  const method = (path.includes('/messages') && r.chance(0.6)) || path.endsWith('/requestToken') ? 'POST' : 'GET';
  // Now and then a body that is not JSON, whose parse error quotes what it found: half
  // an emoji (a lone surrogate) stopped a node that way in the fifty-fifth session.
  const body = r.chance(0.2)
    ? r.pick(['😀', '[😀', '{"a":😀', '{"clientId":"🙂', '{', '[1,', 'x'])
    : r.chance(0.5)
      ? JSON.stringify(r.chance(0.5) ? randomMessage(r, false) : Array.from({ length: r.int(4) }, () => randomMessage(r, false)))
      : JSON.stringify(anyValue(r, 2));
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(r.chance(0.85) ? { authorization: auth } : {}), 'content-type': 'application/json' },
    ...(method === 'POST' ? { body } : {}),
  });
  const text = await res.text();
  if (res.status >= 500) return `${method} ${path} → ${res.status} ${text.slice(0, 300)}; body ${body.slice(0, 500)}`;
  if (res.status >= 400) {
    try {
      const why = badError((JSON.parse(text) as { error?: unknown }).error);
      if (why) return `${method} ${path} → ${res.status}: ${why}`;
    } catch {
      return `${method} ${path} → ${res.status}, not JSON: ${text.slice(0, 200)}`;
    }
  }
  return null;
}

describe(`random input (seed ${SEED})`, () => {
  it('gets Ably errors or good answers over the realtime protocol, in JSON and msgpack', async () => {
    const problems: string[] = [];
    let next = 0;
    const worker = async (w: number) => {
      const r = seeded(SEED * 1000 + w);
      for (let n = next++; n < CONNECTIONS; n = next++) problems.push(...(await fuzzConnection(r, d.port(nodes[n % nodes.length]!), n)));
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)));
    expect(problems, `seed ${SEED}`).toEqual([]);
  }, 120_000);

  it('answers connections with random parameters with CONNECTED or an Ably error', async () => {
    const r = seeded(SEED + 7);
    const problems: string[] = [];
    for (let i = 0; i < 200; i++) {
      const why = await fuzzConnect(r, d.port(nodes[i % nodes.length]!));
      if (why) problems.push(why);
    }
    expect(problems, `seed ${SEED}`).toEqual([]);
  }, 60_000);

  it('gets Ably errors or good answers over REST', async () => {
    const r = seeded(SEED);
    const problems: string[] = [];
    const r2 = new Set(d.nodes('r2'));
    for (let i = 0; i < 300; i++) {
      const all = d.nodes();
      const node = all[i % all.length]!;
      const why = await fuzzRest(r, d.port(node), r2.has(node) ? ['fuzz-r2', 'fuzz-2-r2'] : CHANNELS);
      if (why) problems.push(why);
    }
    expect(problems, `seed ${SEED}`).toEqual([]);
  }, 60_000);

  it('delivers what it accepted alike in both regions, each message once', async () => {
    await waitFor(
      () => {
        const here = received(local);
        const there = received(remote);
        return CHANNELS.every((ch) => JSON.stringify(here.get(ch)) === JSON.stringify(there.get(ch)));
      },
      { what: 'the same messages, in the same order, in r1 and in r2' },
    );
    for (const [ch, ids] of received(local)) expect(ids.filter((id, i) => ids.indexOf(id) !== i), `ids twice on ${ch}`).toEqual([]);
    // Every connection's final publish that was ACKed is among them (so in both regions).
    expect(accepted.length).toBeGreaterThan(CONNECTIONS / 5);
    const got = new Set(received(local).get(CHANNELS[0]));
    expect(accepted.filter((id) => !got.has(id)), 'ACKed and never delivered').toEqual([]);
  }, 30_000);

  it('leaves every node up, with no error logged, the region link up, and messages still crossing the region and reaching the other', async () => {
    for (const node of d.nodes()) expect((await d.health(node)).quorum, node).toBe(true);
    expect(await allLinksUp(d, 'r1')).toBe(true);
    const a = realtime(d.port(nodes[0]!));
    const b = realtime(d.port(nodes[1]!));
    const c = realtime(d.port(d.nodes('r2')[0]!));
    try {
      const here: string[] = [];
      const there: string[] = [];
      await b.channels.get('fuzz-bystander').subscribe((m) => void here.push(m.data as string));
      await c.channels.get('fuzz-bystander').subscribe((m) => void there.push(m.data as string));
      await waitFor(
        async () => {
          await a.channels.get('fuzz-bystander').publish('x', 'still here');
          return here.includes('still here') && there.includes('still here');
        },
        { what: 'the bystander deliveries, in r1 and in r2' },
      );
    } finally {
      closeAll(a, b, c);
    }
    for (const node of d.nodes()) expect(nodeLogLines(d, node, /"level":(50|60)|Error:|uncaught/i), node).toEqual([]);
  }, 30_000);
});
