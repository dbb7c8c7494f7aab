/**
 * A restarted peer is reachable at once: our link to it, waiting out a redial backoff of
 * up to a second, dials again as soon as the peer shows it is back (it dialled us).
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshTransport } from '../../src/transport/mesh.js';
import type { NodeMessage } from '../../src/transport/messages.js';
import type { TransportEvent } from '../../src/transport/transport.js';
import { freePorts } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function transport(name: string, port: number): MeshTransport {
  const t = new MeshTransport({ self: name, region: 'r', host: '127.0.0.1', meshPort: port, secret: 's', log: pino({ level: 'silent' }) });
  cleanup.push(() => t.stop());
  return t;
}

describe('mesh link to a restarted peer', () => {
  it('comes up as soon as the peer dials us, not after our backoff, and delivers what was queued in order', async () => {
    const [p1, p2] = await freePorts(2);
    const n1 = transport('n1', p1!);
    const events: { at: number; e: TransportEvent }[] = [];
    n1.onEvent((e) => events.push({ at: Date.now(), e }));
    n1.addPeer('n2', { host: '127.0.0.1', port: 0, meshPort: p2! });
    await n1.start();
    n1.send('n2', { type: 'broadcast', channel: 'app:c', epoch: 'e1', entries: [] });
    n1.send('n2', { type: 'broadcast', channel: 'app:c', epoch: 'e2', entries: [] });

    // n2 is not there: n1's dials are refused and its backoff grows (50, 100, … ms) to its
    // 1 s cap, reached after the sixth refusal.
    const refusals = () => events.filter((x) => x.e.type === 'peerGone').length;
    await waitFor(() => refusals() >= 6, { what: 'six refused dials', timeoutMs: 5000, intervalMs: 1 });

    // A heartbeat sent as the link comes up must not overtake what waited (the peer takes
    // frames in order only, and would drop those).
    n1.onEvent((e) => e.type === 'linkUp' && n1.send('n2', { type: 'broadcast', channel: 'app:c', epoch: 'on-link-up', entries: [] }));
    // n1's next dial of its own is 1 s after the sixth refusal: the link must be up well
    // before that, by n1 dialling back at once when n2 dials it (not by a bound on how
    // quickly n2 starts, which a loaded machine may stretch).
    const sixthRefusal = events.filter((x) => x.e.type === 'peerGone')[5]!.at;
    const n2 = transport('n2', p2!);
    const got: NodeMessage[] = [];
    n2.onMessage((from, m) => from === 'n1' && got.push(m));
    n2.addPeer('n1', { host: '127.0.0.1', port: 0, meshPort: p1! });
    await n2.start();
    const up = await waitFor(() => events.find((x) => x.e.type === 'linkUp' && x.e.peer === 'n2'), { what: "n1's link to n2", timeoutMs: 3000, intervalMs: 1 });
    expect(up.at - sixthRefusal).toBeLessThan(900);
    await waitFor(() => got.length === 3, { what: 'the queued messages, then the one sent on linkUp' });
    expect(got.map((m) => (m as { epoch: string }).epoch)).toEqual(['e1', 'e2', 'on-link-up']);
    expect(n2.stats().relay?.notTaken).toBe(0);
  });
});
