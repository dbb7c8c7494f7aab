/**
 * Keepalive and liveness: a client that only listens is never cut for being quiet, as
 * long as its WebSocket answers pings; one that answers nothing is cut after
 * 3 × maxIdleInterval. (ably-js in a browser asks for `heartbeats=true` and then sends
 * nothing at all while it only subscribes.)
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame } from '../../src/protocol/codec.js';
import { Action } from '../../src/protocol/actions.js';
import type { ProtocolMessage } from '../../src/protocol/types.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

// Long enough that a loaded machine's stall (of the test's worker, which answers the
// pings, or of the node) does not pass for silence: the cut comes after 3 s.
const IDLE_MS = 1000;
let d: TestDeployment;
let port: number;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }], limits: { maxIdleIntervalMs: IDLE_MS } });
  port = d.port('r1-n1');
});

afterAll(async () => {
  await d?.stop();
});

/** A client that never sends a frame; `autoPong: false` makes it deaf to pings too. */
async function silentClient(heartbeats: boolean, autoPong: boolean) {
  const q = new URLSearchParams({ key: KEY, format: 'json', v: '6', heartbeats: String(heartbeats) });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?${q}`, { autoPong });
  const seen = { heartbeats: 0, pings: 0, closed: false, connected: false };
  ws.on('message', (data: Buffer) => {
    const m = decodeFrame(data.toString('utf8'), 'json') as ProtocolMessage;
    if (m.action === Action.HEARTBEAT) seen.heartbeats++;
    if (m.action === Action.CONNECTED) seen.connected = true;
  });
  ws.on('ping', () => seen.pings++);
  ws.on('close', () => (seen.closed = true));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, seen };
}

describe('keepalive', () => {
  it('keeps a silent heartbeats=true subscriber that answers pings, well past 3 × maxIdleInterval', async () => {
    const { ws, seen } = await silentClient(true, true);
    // A HEARTBEAT goes out every maxIdleInterval / 2 of quiet: eight of them span
    // over 3 × maxIdleInterval of silence from the client.
    await waitFor(() => seen.heartbeats >= 8 || seen.closed, { timeoutMs: 15_000 });
    expect(seen.connected).toBe(true);
    expect(seen.closed).toBe(false);
    expect(seen.pings).toBeGreaterThan(0);
    ws.terminate();
  });

  it('keeps a silent heartbeats=false client that answers pings', async () => {
    const { ws, seen } = await silentClient(false, true);
    await waitFor(() => seen.pings >= 8 || seen.closed, { timeoutMs: 15_000 });
    expect(seen.closed).toBe(false);
    ws.terminate();
  });

  it('cuts a client that answers neither frames nor pings', async () => {
    const { seen } = await silentClient(true, false);
    await waitFor(() => seen.closed, { timeoutMs: 10_000 });
    expect(seen.pings).toBeGreaterThan(0);
  });
});
