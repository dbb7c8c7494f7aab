/**
 * A client that moves to another region with a channelSerial whose origin vector names
 * no position for some region: the stream it left had carried none of that region's
 * messages yet (the link was cut, or they had not arrived). It saw none of them, so the
 * new region's history must give it those it would have had where it was: the new
 * region's own messages since the old region's interest began (as the start of that
 * stream would have brought them, src/channel/master.ts, INTEREST_START_MARGIN_MS). Where
 * the new region does not know when that interest began, it cannot tell which of them
 * the client missed, and says so: ATTACHED without RESUMED, with 90005. Before, those
 * messages were skipped and the client was told it had resumed.
 */
import type { InboundMessage } from 'ably';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regionClocksEnv } from '../../src/chaos/clocks.js';
import { allLinksUp, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

const REGIONS = [
  { name: 'r1', nodes: 1 },
  { name: 'r2', nodes: 1 },
];

// A start that has not arrived yet (the link was cut after the interest word, before the
// start): ABLY_NG_DEBUG_SKIP_START holds every start back, as if lost on the way.
let deployment: TestDeployment | undefined;
const get = () => deployment!;

/** The describe's deployment; `clocks`: regions whose nodes' wall clocks are off (libfaketime). */
function regions(clocks: Record<string, string> = {}): void {
  beforeAll(async () => {
    deployment = await startDeployment({
      regions: REGIONS,
      env: { ABLY_NG_DEBUG_SKIP_START: '1' },
      regionEnv: regionClocksEnv(clocks),
    });
    await regionLinksUp(deployment, ['r1', 'r2']);
  });
  afterAll(async () => {
    await deployment?.stop();
    deployment = undefined;
  });
}

interface Followed {
  got: string[];
  attached: { resumed: boolean; code?: number }[];
}

/** Subscribes `client` to `channel` (resuming after `serial`), recording each message and each ATTACHED. */
async function follow(client: Realtime, channel: string, serial?: string): Promise<Followed> {
  const f: Followed = { got: [], attached: [] };
  const ch = client.channels.get(channel);
  if (serial) (ch as any).properties.channelSerial = serial;
  ch.on('attached', (sc) => void f.attached.push({ resumed: sc.resumed, ...(sc.reason ? { code: sc.reason.code } : {}) }));
  await ch.subscribe((m: InboundMessage) => void f.got.push(String(m.data)));
  return f;
}

const serialOf = (client: Realtime, channel: string) => (client.channels.get(channel) as any).properties.channelSerial as string;

/** The channel's status as r2's node serves it (GET /channels/{name}). */
async function statusInR2(channel: string): Promise<Record<string, any>> {
  const d = get();
  const res = await fetch(`http://127.0.0.1:${d.port('r2-n1')}/channels/${encodeURIComponent(channel)}`, {
    headers: { authorization: `Basic ${Buffer.from(KEY).toString('base64')}` },
  });
  return (await res.json()) as Record<string, any>;
}

/**
 * A subscriber in r1 sees a1, a2 during a cut while r2 publishes b1–b3, then moves to r2
 * with its serial, and r2 publishes b4. `known`: r2 has a subscriber of its own and has
 * heard of r1's interest before the cut (else r1's interest begins during it).
 */
async function moveAcrossCut(channel: string, known: boolean): Promise<{ moved: Followed; there: Followed | null }> {
  const d = get();
  const link = d.sup.regionProxies.get('r1|r2')!;
  const inR1 = realtime(d.port('r1-n1'));
  const pubR1 = realtime(d.port('r1-n1'));
  const pubR2 = realtime(d.port('r2-n1'));
  let moved: Realtime | undefined;
  try {
    await Promise.all([connected(inR1), connected(pubR1), connected(pubR2)]);
    let there: Followed | null = null;
    let a: Followed | null = null;
    if (known) {
      // A subscriber in r2 makes the channel's master there, which the interest word reaches.
      there = await follow(pubR2, channel);
      a = await follow(inR1, channel);
      await waitFor(async () => ((await statusInR2(channel)).remoteInterest ?? []).some((r: any) => r.region === 'r1'), {
        what: "r1's interest known in r2",
        timeoutMs: 20_000,
      });
    }
    link.set('both', { reset: true });
    await waitFor(async () => !(await allLinksUp(d, 'r1')) && !(await allLinksUp(d, 'r2')), { what: 'the r1–r2 link down' });
    a ??= await follow(inR1, channel);
    for (const n of [1, 2]) await pubR1.channels.get(channel).publish('m', `a${n}`);
    for (const n of [1, 2, 3]) await pubR2.channels.get(channel).publish('m', `b${n}`);
    await waitFor(() => a.got.length === 2, { what: 'a1, a2 in r1' });
    const serial = serialOf(inR1, channel);
    expect(serial, "r1's stream carried nothing of r2's").not.toContain('|r2~');
    closeAll(inR1);
    moved = realtime(d.port('r2-n1'));
    const m = await follow(moved, channel, serial);
    await pubR2.channels.get(channel).publish('m', 'b4');
    await waitFor(() => m.got.includes('b4'), { what: 'b4 to the moved client' });
    return { moved: m, there };
  } finally {
    link.heal();
    closeAll(inR1, pubR1, pubR2, moved);
    await waitFor(async () => (await allLinksUp(d, 'r1')) && (await allLinksUp(d, 'r2')), { what: 'the r1–r2 link up', timeoutMs: 20_000 });
  }
}

describe('a client that moves region with no position for the new region in its serial', () => {
  regions();

  it("gets the new region's messages published since its old region's interest began", async () => {
    const { moved, there } = await moveAcrossCut('unseen-known-interest', true);
    expect([moved.got, moved.attached]).toEqual([['b1', 'b2', 'b3', 'b4'], [{ resumed: true }]]);
    expect(there?.got).toEqual(['b1', 'b2', 'b3', 'b4']);
  });

  it('is told it did not resume where the new region does not know when that interest began', async () => {
    const { moved } = await moveAcrossCut('unseen-unknown-interest', false);
    expect([moved.got, moved.attached]).toEqual([['b4'], [{ resumed: false, code: 90005 }]]);
  });
});

describe("the same, where the client's old region's clock is 6 s ahead of the new one's", () => {
  regions({ r1: '+6s' });

  it("gets the new region's messages since the old region's interest began, read on the new region's clock", async () => {
    // r1's interest began at a time of r1's clock: read on r2's as it was, b1–b3 (published
    // within a second of it) looked 5 s older than it, and were skipped with the resume
    // said whole.
    const { moved, there } = await moveAcrossCut('unseen-clock-ahead', true);
    expect([moved.got, moved.attached]).toEqual([['b1', 'b2', 'b3', 'b4'], [{ resumed: true }]]);
    expect(there?.got).toEqual(['b1', 'b2', 'b3', 'b4']);
  });
});
