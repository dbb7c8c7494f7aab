/**
 * A node's wall clock stepped, as NTP steps a clock that was off: forward while the node
 * runs, or back between two of its lives (a node restarted after its fast clock was
 * corrected). Inside a node, silences and freezes are measured on the monotonic clock,
 * which no step moves; a node's incarnation (its life) comes from the wall clock, and one
 * that starts below the life its peers last knew takes a life above it. Each node runs
 * under libfaketime with a clock file of its own (src/chaos/clocks.ts); writing the file
 * steps the running node's clock within a second.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockFileEnv, setClockFile } from '../../src/chaos/clocks.js';
import { nodesLogLines, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { leaveAfterDrop } from '../helpers/presence-drop.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { removeTempDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

const NODES = ['r1-n1', 'r1-n2', 'r1-n3'];
/** Messages a second a connection, and a channel, may publish. */
const RATE = 40;
/** How long a member whose connection dropped stays. */
const LEAVE_DELAY_MS = 3000;
const dir = tempDir('clock-step');
const clockFile = (node: string) => join(dir, node);
let d: TestDeployment;

beforeAll(async () => {
  const nodeEnv: Record<string, Record<string, string>> = {};
  for (const n of NODES) {
    setClockFile(clockFile(n), '+0s');
    nodeEnv[n] = clockFileEnv(clockFile(n));
  }
  // Rates a publisher every 50 ms keeps under, with a second's burst to spare.
  d = await startDeployment({
    regions: [{ name: 'r1', nodes: 3 }],
    nodeEnv,
    limits: { maxInboundRate: RATE, maxChannelPublishRate: RATE, presenceLeaveDelayMs: LEAVE_DELAY_MS },
  });
  await waitFor(async () => (await Promise.all(NODES.map((n) => d.health(n)))).every((h) => h.ring.length === 3), { what: 'a ring of three' });
});
afterAll(async () => {
  await d?.stop();
  removeTempDir(dir);
});

/** How far a node's wall clock is from ours: its region time (REST /time) less how far that is ahead of its wall clock (/health). */
async function offsetOf(node: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${d.port(node)}/time`);
  const [t] = (await res.json()) as number[];
  const h = await d.health(node);
  return t! - Date.now() - h.regionTime.aheadMs;
}

const starts = (node: string) => nodesLogLines(d, [node], /starting a new incarnation/);

describe("a node's wall clock stepped", () => {
  it('10 s forward while it runs: the node keeps its life, and the channel it masters every message', async () => {
    const node = 'r1-n2';
    const channel = channelMasteredBy(NODES, node, 'step');
    const before = (await d.health(node)).incarnation;
    const pubClient = realtime(d.port(node));
    const sub = realtime(d.port('r1-n1'));
    const rec = new Recorder();
    const pub = new SteadyPublisher('P', pubClient, channel, 50);
    try {
      await Promise.all([connected(pubClient), connected(sub)]);
      await sub.channels.get(channel).subscribe(rec.handler);
      pub.start();
      await waitFor(() => pub.acked.size >= 20, { what: '20 acknowledged before the step' });
      setClockFile(clockFile(node), '+10s');
      await waitFor(async () => (await offsetOf(node)) > 9_000, { what: "the node's clock 10 s on" });
      // Four heartbeat ticks and more after the step (one found it a freeze, before).
      const n = pub.sent;
      await waitFor(() => pub.sent >= n + 40, { what: '2 s more of publishing' });
      await pub.stop();
      await waitFor(() => rec.count('P') >= pub.acked.size, { what: 'every acknowledged message delivered', timeoutMs: 10_000 });
      expect(rec.check(pub)).toEqual([]);
      expect(pub.nacked.size).toBe(0);
      expect(starts(node)).toEqual([]);
      expect((await d.health(node)).incarnation).toBe(before);
      expect(sub.channels.get(channel).state).toBe('attached');
    } finally {
      await pub.stop();
      closeAll(pubClient, sub);
    }
  });

  it('10 s back while it runs: its publishers, under the publish rates, are not refused', async () => {
    const node = 'r1-n1';
    const client = realtime(d.port(node));
    const pub = new SteadyPublisher('B', client, `step-back-${Date.now()}`, 50);
    try {
      await connected(client);
      pub.start();
      await waitFor(() => pub.acked.size >= 10, { what: '10 acknowledged before the step' });
      setClockFile(clockFile(node), '-10s');
      await waitFor(async () => (await offsetOf(node)) < -9_000, { what: "the node's clock 10 s back" });
      // 4 s at 20 a second: the burst of 40 spent twice over had the buckets stopped filling.
      const n = pub.sent;
      await waitFor(() => pub.sent >= n + 80, { what: '4 s more of publishing' });
      await pub.stop();
      expect([...pub.nacked.values()]).toEqual([]);
      expect(pub.acked.size).toBe(pub.sent);
    } finally {
      await pub.stop();
      closeAll(client);
    }
  });

  it("100 s behind its channel's master: a member whose connection drops there leaves after the grace period, not at once", async () => {
    // r1-n2's clock too far on for the region to follow (RegionClock's MAX_AHEAD_MS): its
    // time and the others' stay apart.
    setClockFile(clockFile('r1-n1'), '-10s');
    setClockFile(clockFile('r1-n2'), '+90s');
    await waitFor(async () => (await offsetOf('r1-n1')) < -9_000 && (await offsetOf('r1-n2')) > 89_000, { what: 'the two clocks 100 s apart' });
    await waitFor(async () => (await d.health('r1-n1')).regionTime.notFollowed.some((p: { node: string }) => p.node === 'r1-n2'), { what: 'r1-n2 not followed' });
    const channel = channelMasteredBy(NODES, 'r1-n2', 'step-leave');
    const left = await leaveAfterDrop({ memberPort: d.port('r1-n1'), watcherPort: d.port('r1-n3'), channel, clientId: 'm', timeoutMs: LEAVE_DELAY_MS + 5000 });
    // Said on r1-n1's time, the leave time was 77 s past for r1-n2: it left at once.
    expect(left.clientId).toBe('m');
    expect(left.afterMs).toBeGreaterThanOrEqual(LEAVE_DELAY_MS - 200);
    expect(left.setAfter).toEqual([]);
  });

  it('30 s back across a restart: the node takes a life above its last, and its region takes it back', async () => {
    const node = 'r1-n3';
    const before = (await d.health(node)).incarnation as number;
    await d.sup.kill(node);
    setClockFile(clockFile(node), '-30s');
    await d.sup.restart(node);
    expect(await offsetOf(node)).toBeLessThan(-29_000);
    // Below its last life at first: its peers held its heartbeats stale for good, before.
    await waitFor(async () => (await Promise.all(NODES.map((n) => d.health(n)))).every((h) => h.ring.includes(node)), {
      what: `${node} in every node's ring`,
      timeoutMs: 10_000,
    });
    expect((await d.health(node)).incarnation).toBeGreaterThan(before);
    // Its peers' times are 40 s and more on: both of them, a majority, so it goes on from the nearer.
    await waitFor(async () => (await d.health(node)).regionTime.aheadMs > 35_000, { what: `${node} on its region's time` });
    expect(starts(node).join('\n')).toMatch(/knows this node at incarnation \d+, above this life's/);
  });
});
