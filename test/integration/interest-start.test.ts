/**
 * A region that begins to want a channel while another already does: the channel's
 * master sends it a start (what was published since shortly before the interest began),
 * while live batches keep going to the region that had it. The globalmaster holds the
 * new region's live batches until the start has gone (src/bridge/interest-start.ts).
 * Delays on the links make the race likely (four of seven runs without the hold lost
 * messages): the new interest crosses a slow region link, so batches committed
 * meanwhile go to the old region only, and the master hears of the interest over a slow
 * mesh link, so live batches reach the globalmaster before the start does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalmaster, nodesLogLines, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { Ring } from '../../src/cluster/ring.js';
import { channelMasteredBy, channelsMasteredBy, replicaOf } from '../helpers/ring.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

let d: TestDeployment;

const gm = (region: string) => globalmaster(d, region);

/**
 * The describe's deployment in `d`: by default three regions, r1 of `r1Nodes`, with a
 * fault proxy on every mesh link; or the `regions` given, without.
 */
function deployment(o: { r1Nodes?: number; regions?: { name: string; nodes: number }[]; env?: Record<string, string> } = {}): void {
  const regions = o.regions ?? [
    { name: 'r1', nodes: o.r1Nodes ?? 2 },
    { name: 'r2', nodes: 1 },
    { name: 'r3', nodes: 1 },
  ];
  beforeAll(async () => {
    d = await startDeployment({ ...(o.env ? { env: o.env } : {}), regions, meshProxies: !o.regions });
    await regionLinksUp(d, regions.map((r) => r.name));
  });
  afterAll(async () => {
    await d?.stop();
  });
}

/** r1's globalmaster's link to `region`, from its /health. */
async function linkTo(region: string): Promise<{ up: boolean; since: number | null; remoteInterest: number; entriesOut: number; startEntriesOut: number; replayEntriesOut: number }> {
  return (await gm('r1')).health.regionLinks.links.find((l: { region: string }) => l.region === region);
}

/** Everything acked from `from` on reached r3 once and in order; r2 got it all. */
function expectDelivered(publisher: SteadyPublisher, from: number, recB: Recorder, recC: Recorder): void {
  const got = recC.byPublisher.get('S')!;
  const missing = [...publisher.acked].filter((s) => s >= from && !got.includes(s)).sort((x, y) => x - y);
  expect(missing, `acked after the attach, never delivered in r3 (of ${publisher.sent - from})`).toEqual([]);
  expect(new Set(got).size, 'duplicates in r3').toBe(got.length);
  expect(got.every((s, i) => i === 0 || s > got[i - 1]!), 'r3 in order').toBe(true);
  expect(recB.check(publisher)).toEqual([]);
}

async function lastEverywhere(publisher: SteadyPublisher, recs: Recorder[]): Promise<void> {
  const last = Math.max(...publisher.acked);
  for (const rec of recs) {
    await waitFor(() => (rec.byPublisher.get('S') ?? []).includes(last), { what: 'the last message everywhere', timeoutMs: 20_000 });
  }
}

/** r2's subscriber on `ch`, and a steady publisher, once r2 has 20 of its messages (within `warmupMs`). */
async function publishingToR2(pub: Realtime, subB: Realtime, ch: string, warmupMs = 10_000): Promise<{ publisher: SteadyPublisher; recB: Recorder }> {
  const recB = new Recorder();
  await subB.channels.get(ch).subscribe(recB.handler);
  await connected(pub);
  const publisher = new SteadyPublisher('S', pub, ch, 2);
  publisher.start();
  await waitFor(() => recB.count('S') >= 20, { what: 'r2 to receive the channel', timeoutMs: warmupMs });
  return { publisher, recB };
}

/**
 * r3's subscriber attaches while r1's link to r3 is cut, and r1 publishes `during`
 * messages meanwhile (more than the master's page of 1,000 makes a start in pages);
 * `quiet`: nothing is published after the heal, so no live batch follows the start;
 * `startComes`: false where masters send none; `whileCut`: done once the link is down,
 * before the subscriber attaches. The channel's master is an r1 node other than the
 * globalmaster (the first such).
 */
async function attachDuringCut(o: { prefix: string; during?: number; quiet?: boolean; startComes?: boolean; whileCut?: () => Promise<void> }): Promise<void> {
  const { during = 100, quiet = false, startComes = true } = o;
  const r1 = d.nodes('r1');
  const gmNode = (await gm('r1')).node;
  const masterNode = r1.find((n) => n !== gmNode)!;
  // Its replica is not the globalmaster's node where there is a choice (a test may kill that node).
  const ch = channelsMasteredBy(r1, masterNode, o.prefix).find((c) => replicaOf(r1, c) !== gmNode) ?? channelMasteredBy(r1, masterNode, o.prefix);
  const pub = realtime(d.port(masterNode));
  const subB = realtime(d.port('r2-n1'));
  const subC = realtime(d.port('r3-n1'));
  const link = d.sup.regionProxies.get('r1|r3')!;
  try {
    // Where masters send no start (ABLY_NG_DEBUG_SKIP_START), r2's own first batches wait
    // for one too, up to START_WAIT_MS (8 s) at r1's globalmaster: 10 s was short for that
    // under a loaded make test.
    const { publisher, recB } = await publishingToR2(pub, subB, ch, startComes ? 10_000 : 20_000);
    const recC = new Recorder();
    link.set('both', { reset: true });
    await waitFor(async () => !(await linkTo('r3')).up, { what: "r1's link to r3 down" });
    await o.whileCut?.();
    // The counts of the globalmaster that will send the start (whileCut may move the role).
    const sentBefore = await linkTo('r3');
    const waitedBefore = (await gm('r1')).health.regionLinks.interestStarts.waited;
    await subC.channels.get(ch).subscribe(recC.handler);
    // Every publish from here on began after r3's subscriber was attached; r1 hears of
    // the interest only from r3's snapshot once the link is back.
    const from = publisher.sent;
    await waitFor(() => publisher.sent >= from + during, { timeoutMs: 20_000 });
    if (quiet) await publisher.stop();
    for (const p of d.sup.meshProxies.values()) p.set('both', { latencyMs: 10 });
    link.heal();
    await waitFor(async () => (await linkTo('r3')).up, { what: "r1's link to r3 up again", timeoutMs: 20_000 });
    if (!quiet) {
      const after = publisher.sent;
      await waitFor(() => publisher.sent >= after + 100);
      await publisher.stop();
    }
    for (const p of d.sup.meshProxies.values()) p.heal();
    await lastEverywhere(publisher, [recB, recC]);
    expectDelivered(publisher, from, recB, recC);
    const starts = (await gm('r1')).health.regionLinks.interestStarts;
    expect(starts.waited).toBeGreaterThan(waitedBefore);
    // What the start carried (all published during the cut and more), counted apart on the
    // link: as a start, or, where no start came, as r3's master asked for it (a replay).
    const sent = await linkTo('r3');
    if (startComes) {
      const logged = nodesLogLines(d, d.nodes('r1'), /without their start|interest audit|globalmaster|ring changed|peer down|peer suspect/);
      expect(starts, `r1's nodes logged:\n${logged.join('\n')}`).toMatchObject({ timedOut: 0, full: 0, pending: 0 });
      expect(sent.startEntriesOut - sentBefore.startEntriesOut).toBeGreaterThanOrEqual(during);
      // And not again as a replay (a start sent twice: see globalmaster-term.test.ts).
      expect(sent.replayEntriesOut - sentBefore.replayEntriesOut).toBeLessThan(during);
    } else {
      // The live batches waited for it in vain, and went without it.
      expect(starts.timedOut).toBeGreaterThanOrEqual(1);
      expect(sent.startEntriesOut - sentBefore.startEntriesOut).toBe(0);
      expect(sent.replayEntriesOut - sentBefore.replayEntriesOut).toBeGreaterThanOrEqual(during);
    }
  } finally {
    link.heal();
    closeAll(pub, subB, subC);
  }
}

describe('a new interest while another region has the channel', () => {
  deployment();

  it('delivers everything published after the new region\'s subscriber attached, once and in order', async () => {
    const gmNode = (await gm('r1')).node;
    const masterNode = gmNode === 'r1-n1' ? 'r1-n2' : 'r1-n1';
    const ch = channelMasteredBy(['r1-n1', 'r1-n2'], masterNode, 'start');
    const pub = realtime(d.port(masterNode));
    const subB = realtime(d.port('r2-n1'));
    const subC = realtime(d.port('r3-n1'));
    try {
      const { publisher, recB } = await publishingToR2(pub, subB, ch);
      const recC = new Recorder();
      for (const p of d.sup.meshProxies.values()) p.set('both', { latencyMs: 10 });
      d.sup.regionProxies.get('r1|r3')!.set('both', { latencyMs: 50 });
      await subC.channels.get(ch).subscribe(recC.handler);
      // Every publish from here on began after r3's subscriber was attached.
      const from = publisher.sent;
      await waitFor(() => publisher.sent >= from + 200);
      await publisher.stop();
      for (const p of [...d.sup.meshProxies.values(), ...d.sup.regionProxies.values()]) p.heal();
      await lastEverywhere(publisher, [recB, recC]);
      expectDelivered(publisher, from, recB, recC);
      // The new interest's live batches waited for its start, and the start came.
      const starts = (await gm('r1')).health.regionLinks.interestStarts;
      expect(starts.waited).toBeGreaterThanOrEqual(1);
      expect(starts).toMatchObject({ timedOut: 0, full: 0, pending: 0 });
    } finally {
      closeAll(pub, subB, subC);
    }
  });

  it('interest that began while the link was down waits for its start too (learned from the snapshot after the link)', async () => {
    await attachDuringCut({ prefix: 'cut' });
  });

  it('a start longer than a page (1,200 messages published while the link was down) arrives whole, live batches after it', async () => {
    await attachDuringCut({ prefix: 'long-cut', during: 1200 });
  });

  it('the same on a channel that goes quiet before the heal (no live batch follows the start)', async () => {
    await attachDuringCut({ prefix: 'quiet-cut', during: 1200, quiet: true });
  });
});

describe('a new interest while the globalmaster role moves', () => {
  deployment({ r1Nodes: 3 });

  it("waits for its start where the new role's audit found the master did not know of it", async () => {
    // r3 is kept from the new role until its subscriber has attached, so r1 hears of that
    // interest only in r3's snapshot: the new role's first from r3. r2's, which the master
    // knew, must not wait in vain (a wait for a start that never comes ends in a timeout).
    const oldGm = (await gm('r1')).node;
    await attachDuringCut({
      prefix: 'moved',
      whileCut: async () => {
        await d.sup.kill(oldGm);
        await waitFor(async () => (await gm('r1')).node !== oldGm && (await linkTo('r2')).up, { what: 'a new globalmaster linked to r2', timeoutMs: 20_000 });
      },
    });
  });
});

describe('the masters across a globalmaster move', () => {
  deployment({ r1Nodes: 3 });

  it("keep the other regions' interest until the new role has heard from them: no start is sent again", async () => {
    const r1 = ['r1-n1', 'r1-n2', 'r1-n3'];
    const oldGm = (await gm('r1')).node;
    const masterNode = r1.find((n) => n !== oldGm)!;
    // Its replica, which sends batches on to r2, is not the node killed.
    const ch = channelsMasteredBy(r1, masterNode, 'kept').find((c) => replicaOf(r1, c) !== oldGm)!;
    const pub = realtime(d.port(masterNode));
    const subB = realtime(d.port('r2-n1'));
    try {
      const recB = new Recorder();
      await subB.channels.get(ch).subscribe(recB.handler);
      await connected(pub);
      const publisher = new SteadyPublisher('S', pub, ch, 2);
      publisher.start();
      await waitFor(() => recB.count('S') >= 300, { what: 'r2 to receive 300' });
      await publisher.stop();
      // Everything acked is in r2 before the kill: none of it comes again as a replay.
      await waitFor(() => recB.count('S') >= publisher.acked.size, { what: 'r2 to have every acked message' });
      await d.sup.kill(oldGm);
      await waitFor(async () => (await gm('r1')).node !== oldGm && (await linkTo('r2')).remoteInterest > 0, {
        what: "a new globalmaster that has r2's interest",
        timeoutMs: 20_000,
      });
      await pub.channels.get(ch).publish('seq', { p: 'S', seq: publisher.sent });
      await waitFor(() => (recB.byPublisher.get('S') ?? []).includes(publisher.sent), { what: 'the message after the move in r2' });
      // Only what was published after the move crossed the new role's link to r2, not a
      // start of everything since r2's interest began (300 and more). Seen twice under the
      // whole suite's load (a master that took the channel over re-sends a start to an
      // interest younger than 30 s, by design): the message says what r1's nodes saw.
      const seen = nodesLogLines(d, r1, /peer suspect|peer down|ring changed|quorum|frozen|new incarnation/);
      const link = await linkTo('r2');
      expect(link.entriesOut, `r1's globalmaster's link to r2: ${JSON.stringify(link)}; r1's nodes logged:\n${seen.join('\n')}`).toBeLessThan(50);
      expect(recB.check(publisher)).toEqual([]);
    } finally {
      closeAll(pub, subB);
    }
  });
});

/** How young another region's interest counts as for a master that took a channel over (30 s unless shortened, as here). */
const INHERITED_MS = 4000;

describe('a master killed while another region has long had the channel', () => {
  deployment({ r1Nodes: 3, env: { ABLY_NG_DEBUG_INHERITED_INTEREST_MS: String(INHERITED_MS) } });

  it('its replica, promoted, does not send that region its start again (it knew that interest by replication)', async () => {
    const r1 = d.nodes('r1');
    const gmNode = (await gm('r1')).node;
    const masterNode = r1.find((n) => n !== gmNode)!;
    const ch = channelsMasteredBy(r1, masterNode, 'promoted').find((c) => replicaOf(r1, c) !== gmNode)!;
    const pub = realtime(d.port(gmNode));
    const subB = realtime(d.port('r2-n1'));
    try {
      const recB = new Recorder();
      await subB.channels.get(ch).subscribe(recB.handler);
      const attachedAt = Date.now();
      await connected(pub);
      const publisher = new SteadyPublisher('S', pub, ch, 50);
      publisher.start();
      // Older than the age under which a master that takes over sends a start again (it
      // may not have arrived), so the promoted replica must not send one.
      await waitFor(() => Date.now() - attachedAt > INHERITED_MS + 1000 && recB.count('S') >= 200, { what: `r2's interest ${INHERITED_MS + 1000} ms old`, timeoutMs: 60_000 });
      await publisher.stop();
      await waitFor(() => recB.count('S') >= publisher.acked.size, { what: 'r2 to have every acked message' });
      const before = (await linkTo('r2')).entriesOut;
      await d.sup.kill(masterNode);
      const after = publisher.sent;
      publisher.start();
      await waitFor(() => (recB.byPublisher.get('S') ?? []).some((s) => s >= after + 20), { what: 'messages after the kill in r2', timeoutMs: 30_000 });
      await publisher.stop();
      await waitFor(() => recB.count('S') >= publisher.acked.size, { what: 'r2 to have every acked message' });
      // Only what was published after the kill (and the few the replica had not yet sent
      // on) crossed the link to r2, not a start of all since r2's interest began (300 and more).
      expect((await linkTo('r2')).entriesOut - before).toBeLessThan(publisher.sent - after + 50);
      expect(recB.check(publisher)).toEqual([]);
    } finally {
      closeAll(pub, subB);
    }
  });
});

describe('a start that never comes', () => {
  // Masters send no start for a new interest (as if each were lost on the way).
  deployment({ env: { ABLY_NG_DEBUG_SKIP_START: '1' } });

  it('the new region asks for it when the first live batch comes without it, and misses nothing', async () => {
    await attachDuringCut({ prefix: 'lost-start', startComes: false });
  });
});

describe('a globalmaster that has just taken the role', () => {
  deployment({
    regions: [
      { name: 'r1', nodes: 1 },
      { name: 'r2', nodes: 5 },
    ],
  });

  it('takes no link before its first interest audit, so no peer is told this region wants nothing', async () => {
    const r2 = d.nodes('r2');
    const oldGm = (await gm('r2')).node;
    const survivors = r2.filter((n) => n !== oldGm);
    const nextGm = new Ring(survivors).owner('__globalmaster')!;
    // A node the new globalmaster's audit will wait for: paused, still in the ring for a while.
    const slow = survivors.find((n) => n !== nextGm)!;
    const subNode = survivors.find((n) => n !== nextGm && n !== slow)!;
    // The channel stays where it is throughout: mastered by the subscriber's node before
    // and after the kill, its replica neither the killed node nor the paused one. (Had its
    // master died with the old role, its interest would be unknown until the channel was
    // taken over, and the paused node, as the new replica, holds that up for seconds.)
    const ch = channelsMasteredBy(r2, subNode, 'audit-first').find((c) => {
      const replicas = [replicaOf(r2, c), replicaOf(survivors, c)];
      return new Ring(survivors).owner(`app:${c}`) === subNode && !replicas.includes(oldGm) && !replicas.includes(slow);
    })!;
    const sub = realtime(d.port(subNode));
    try {
      const got: string[] = [];
      await sub.channels.get(ch).subscribe((m) => void got.push(m.data as string));
      const before = await waitFor(async () => {
        const l = await linkTo('r2');
        return l.remoteInterest > 0 ? l : null;
      }, { what: "r1 to hear of r2's interest" });
      d.sup.pause(slow);
      await d.sup.kill(oldGm);
      // The new role's first audit waits for the paused node (10 s). Meanwhile it takes no
      // link: r1 must not have a new session up while nextGm says its links are shut.
      const seen: { up: boolean; since: number | null; remoteInterest: number; shut: boolean }[] = [];
      // r1's link is read first: links shut when nextGm is read were shut then too.
      const watch = async () => {
        const l = await linkTo('r2');
        const h = await d.health(nextGm).catch(() => null);
        const shut = h?.globalmaster === true && h.regionLinks.linksOpen === false;
        seen.push({ up: l.up, since: l.since, remoteInterest: l.remoteInterest, shut });
        return { h, l, shut };
      };
      await waitFor(async () => (await watch()).shut, { what: 'the new role auditing', timeoutMs: 20_000 });
      // (nextGm's own /health: the paused node would not answer globalmaster()'s.)
      await waitFor(
        async () => {
          const { h, l } = await watch();
          return l.up && l.since !== before.since && l.remoteInterest > 0 && h?.globalmaster === true;
        },
        { what: "a new session with the new role, with r2's interest", timeoutMs: 30_000 },
      );
      const fresh = (l: { up: boolean; since: number | null }) => l.up && l.since !== before.since;
      expect(seen.filter((l) => l.shut).length, 'samples while the audit ran').toBeGreaterThan(3);
      expect(seen.filter((l) => l.shut && fresh(l)), 'r1 had a new session while the new role took no links').toEqual([]);
      // And once links were taken, r2's interest came with the first snapshot.
      expect(seen.filter((l) => fresh(l) && l.remoteInterest === 0), 'r1 saw a new session up with no interest from r2').toEqual([]);
    } finally {
      d.sup.resume(slow);
      closeAll(sub);
    }
  });
});
