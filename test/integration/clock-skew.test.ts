/**
 * Regions whose clocks disagree. A new interest's start is what the channel's master
 * published since shortly before the interest began, and the interest's time is the
 * interested region's clock: read against the origin's clock as it is, a subscriber's
 * region ahead by more than the margin (2 s) would get a start that stops short of its
 * attach, and lose what was published while word of its interest was on the way; one
 * behind would get messages from well before it attached. The globalmasters measure each
 * other's clocks over their link (src/bridge/link-clock.ts), and a start is read on the
 * origin's clock. One region's nodes run with their wall clock moved by libfaketime
 * (src/chaos/clocks.ts); monotonic clocks are left alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GLOBALMASTER_KEY } from '../../src/bridge/globalmaster.js';
import { clockOffsetEnv, regionClocksEnv } from '../../src/chaos/clocks.js';
import { Ring } from '../../src/cluster/ring.js';
import { allLinksUp, globalmaster, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

const SKEW_S = 6;

let d: TestDeployment;

/** Two regions of one node each; the nodes of `ahead` have their wall clock SKEW_S seconds on. */
function deployment(ahead: 'r1' | 'r2'): void {
  beforeAll(async () => {
    d = await startDeployment({
      regions: [
        { name: 'r1', nodes: 1 },
        { name: 'r2', nodes: 1 },
      ],
      regionEnv: regionClocksEnv({ [ahead]: `+${SKEW_S}s` }),
    });
    await regionLinksUp(d, ['r1', 'r2']);
    // Word of r1's interest takes a while to reach r2: what r2 publishes meanwhile reaches r1
    // only in the start.
    d.sup.regionProxies.get('r1|r2')!.set('both', { latencyMs: 300 });
  });
  afterAll(async () => {
    await d?.stop();
  });
}

/** What a subscriber in r1 missed of what was published after it attached, what came twice, and whether in order. */
function expectAllAfterAttach(r: { pub: SteadyPublisher; got: number[]; attachedAt: number }): void {
  const after = [...r.pub.acked].filter((s) => r.pub.sentAt[s]! > r.attachedAt).sort((a, b) => a - b);
  const missing = after.filter((s) => !r.got.includes(s));
  expect(missing, `published after the attach, never delivered in r1 (of ${after.length})`).toEqual([]);
  expect(new Set(r.got).size, 'duplicates').toBe(r.got.length);
  expect(r.got.every((s, i) => i === 0 || s > r.got[i - 1]!), 'in order').toBe(true);
}

/**
 * Publishes on a new channel in r2 every 20 ms, subscribes in r1 after 4 s of it,
 * publishes 2 s more, and returns the publisher (its send times, what was acked), what r1
 * got, and when the subscribe was called and when it had attached.
 */
async function subscribeWhilePublished(
  name: string,
  o: { channel?: string; subscriber?: string } = {},
): Promise<{ pub: SteadyPublisher; got: number[]; attachingAt: number; attachedAt: number }> {
  const pubClient = realtime(d.port('r2-n1'));
  const sub = realtime(d.port(o.subscriber ?? 'r1-n1'));
  const channel = o.channel ?? `${name}-${Date.now()}`;
  const rec = new Recorder();
  const pub = new SteadyPublisher('S', pubClient, channel, 20);
  try {
    await Promise.all([connected(pubClient), connected(sub)]);
    await pubClient.channels.get(channel).attach();
    pub.start();
    await waitFor(() => pub.sent >= 200, { what: '4 s of publishing before the attach' });
    const attachingAt = Date.now();
    await sub.channels.get(channel).subscribe(rec.handler);
    const attachedAt = Date.now();
    const n = pub.sent;
    await waitFor(() => pub.sent >= n + 100, { what: '2 s of publishing after the attach' });
    await pub.stop();
    const got = () => rec.byPublisher.get('S') ?? [];
    await waitFor(() => got().includes(pub.sent - 1), { what: 'the last message in r1', timeoutMs: 15_000 });
    return { pub, got: got(), attachingAt, attachedAt };
  } finally {
    await pub.stop();
    closeAll(pubClient, sub);
  }
}

/** The link's measure of the other region's clock, from r1's globalmaster. */
async function clockOffsetMs(): Promise<number | null> {
  const link = (await globalmaster(d, 'r1')).health.regionLinks.links.find((l: { region: string }) => l.region === 'r2');
  return link?.clock?.offsetMs ?? null;
}

describe("a subscriber's region whose clock is ahead of the publisher's", () => {
  deployment('r1');

  it('gets everything published after it attached (the start is read on the origin clock)', async () => {
    await waitFor(async () => (await clockOffsetMs()) !== null, { what: "r1's measure of r2's clock" });
    // r2 is behind r1 by the skew: its offset from r1 is about -6 s.
    expect(Math.abs((await clockOffsetMs())! + SKEW_S * 1000)).toBeLessThan(500);
    expectAllAfterAttach(await subscribeWhilePublished('ahead'));
  });

  it('gets everything published after it attached during a cut, once the link is back (the hellos measure the clocks as the link comes up)', async () => {
    const link = d.sup.regionProxies.get('r1|r2')!;
    const pub = realtime(d.port('r2-n1'));
    const sub = realtime(d.port('r1-n1'));
    const channel = `cut-${Date.now()}`;
    const got: number[] = [];
    try {
      await Promise.all([connected(pub), connected(sub)]);
      // A partition: bytes held, dials taken and held, until the heal.
      link.set('both', { blackhole: true });
      await waitFor(async () => !(await allLinksUp(d, 'r1')) && !(await allLinksUp(d, 'r2')), { what: 'the r1–r2 link down', timeoutMs: 20_000 });
      // r1's interest begins during the cut; r2 hears of it only after the heal, from the
      // snapshot that follows the hellos, and reads its start with the offset they measured
      // (a dialler's hello written when it began dialling, seconds before the link came up,
      // once made it look seconds later: the start then stopped short).
      await sub.channels.get(channel).subscribe((m) => got.push((m.data as { seq: number }).seq));
      const pch = pub.channels.get(channel);
      for (let seq = 0; seq < 40; seq++) {
        await pch.publish('seq', { seq });
        await sleep(50);
      }
      // The dialler's dial, and its stream, wait through the cut.
      await sleep(2000);
      link.heal();
      link.set('both', { latencyMs: 300 });
      await regionLinksUp(d, ['r1', 'r2']);
      // One more after the heal, live: once it is in, so is the start.
      await pch.publish('seq', { seq: 40 });
      await waitFor(() => got.includes(40), { what: 'the message after the heal in r1', timeoutMs: 20_000 });
      expect(got).toEqual(Array.from({ length: 41 }, (_, i) => i));
    } finally {
      closeAll(pub, sub);
    }
  });
});

describe("a subscriber's region whose clock is behind the publisher's", () => {
  deployment('r2');

  it('gets nothing published long before it attached (the start reaches back by its margin, not by the skew)', async () => {
    await waitFor(async () => (await clockOffsetMs()) !== null, { what: "r1's measure of r2's clock" });
    expect(Math.abs((await clockOffsetMs())! - SKEW_S * 1000)).toBeLessThan(500);
    const r = await subscribeWhilePublished('behind');
    // The start reaches back 2 s before the interest began, which is after the subscribe was
    // called (however long the attach then took); read on r2's clock as it was, 8 s.
    const old = r.got.filter((s) => r.pub.sentAt[s]! < r.attachingAt - 3000);
    expect(old, `delivered in r1 though published more than 3 s before the subscribe (first ${r.got[0]} sent ${r.attachingAt - r.pub.sentAt[r.got[0]!]!} ms before)`).toEqual([]);
    const missing = [...r.pub.acked].filter((s) => r.pub.sentAt[s]! > r.attachedAt && !r.got.includes(s));
    expect(missing, 'published after the attach, never delivered in r1').toEqual([]);
  });
});

describe("a channel's master whose clock is ahead of its region's globalmaster", () => {
  // r1 of three nodes: the globalmaster's clock is the machine's, and the node that masters
  // the channel there is SKEW_S seconds on. The master stamps when r1's interest began;
  // the globalmaster measured r2's clock against its own. Read with that offset, the time
  // was SKEW_S late (14 lost in chaos before the forty-second session); the region's
  // nodes now stamp the region's time, the furthest-on of their clocks (RegionClock).
  const R1 = ['r1-n1', 'r1-n2', 'r1-n3'];
  const gm = new Ring(R1).owner(GLOBALMASTER_KEY)!;
  const ahead = R1.find((n) => n !== gm)!;
  beforeAll(async () => {
    d = await startDeployment({
      regions: [
        { name: 'r1', nodes: 3 },
        { name: 'r2', nodes: 1 },
      ],
      nodeEnv: { [ahead]: clockOffsetEnv(`+${SKEW_S}s`) },
    });
    await regionLinksUp(d, ['r1', 'r2']);
    d.sup.regionProxies.get('r1|r2')!.set('both', { latencyMs: 300 });
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('gets everything published after its subscriber attached, and the region says it follows that clock', async () => {
    await waitFor(async () => (await Promise.all(R1.map((n) => d.health(n)))).every((h) => h.ring.length === 3), { what: 'a ring of three in r1' });
    const channel = channelMasteredBy(R1, ahead, 'node-ahead');
    const subscriber = R1.find((n) => n !== ahead && n !== gm)!;
    expectAllAfterAttach(await subscribeWhilePublished('node-ahead', { channel, subscriber }));
    const h = await d.health(gm);
    expect(Math.abs(h.regionTime.aheadMs - SKEW_S * 1000)).toBeLessThan(1000);
  });
});

