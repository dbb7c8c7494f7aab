/**
 * A region's interest in a channel that ends and begins again (a review of the bridge,
 * fifty-third session): the region asks for what the other published in between, so that
 * its copies of those messages (history, versions) are whole. (Taking the other region's
 * new start as the stream's beginning instead left a message's copy here without the
 * appends made meanwhile: README, "Interest that ends and begins again".)
 */
import { describe, expect, it } from 'vitest';
import { globalmaster, regionsDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Retention short enough that what r1 publishes while r2 has no interest can be gone from its history. */
const HISTORY_MS = 6000;

const deployment = regionsDeployment([{ name: 'r1', nodes: 1 }, { name: 'r2', nodes: 1 }], { retention: { historyMs: HISTORY_MS, dedupMs: HISTORY_MS } });

/** How many of r2's channels r1's globalmaster knows r2 wants. */
const r2Interest = async (): Promise<number> => (await globalmaster(deployment(), 'r1')).health.regionLinks.links.find((l: { region: string }) => l.region === 'r2').remoteInterest;

/**
 * r2 subscribes and gets a0–a2, lets go (r1 hears its interest end), r1 publishes b0–b4,
 * `quietMs` pass, and a new subscriber in r2 attaches before r1 publishes c0: what it was
 * given, and its channel's state changes with their reasons.
 */
async function interestAgain(channel: string, quietMs: number): Promise<{ got: string[]; events: { current: string; reason?: number }[]; history: string[] }> {
  const d = deployment();
  const clients: Realtime[] = [realtime(d.port('r1-n1')), realtime(d.port('r2-n1')), realtime(d.port('r2-n1'))];
  const [pub, first, second] = clients as [Realtime, Realtime, Realtime];
  try {
    await Promise.all(clients.map(connected));
    // (an earlier case's channel let go first)
    await waitFor(async () => (await r2Interest()) === 0, { what: 'no interest of r2 in r1', timeoutMs: 20_000 });
    const before = 0;
    const early: string[] = [];
    const c1 = first.channels.get(channel);
    await c1.subscribe((m) => void early.push(String(m.data)));
    await waitFor(async () => (await r2Interest()) > before, { what: "r2's interest in r1" });
    const p = pub.channels.get(channel);
    for (let i = 0; i < 3; i++) await p.publish('m', `a${i}`);
    await waitFor(() => early.length === 3, { what: 'a0-a2 in r2' });
    await c1.detach();
    await waitFor(async () => (await r2Interest()) === before, { what: "r2's interest gone from r1", timeoutMs: 20_000 });
    for (let i = 0; i < 5; i++) await p.publish('m', `b${i}`);
    // The time nobody in r2 wants the channel: past the new interest's 2 s reach back.
    await sleep(quietMs);
    const got: string[] = [];
    const events: { current: string; reason?: number }[] = [];
    const c2 = second.channels.get(channel);
    c2.on((e) => void events.push({ current: e.current, ...(e.reason ? { reason: e.reason.code } : {}) }));
    await c2.subscribe((m) => void got.push(String(m.data)));
    await waitFor(async () => (await r2Interest()) > before, { what: "r2's interest in r1 again" });
    await p.publish('m', 'c0');
    // Whatever else the stream gave comes before c0.
    await waitFor(() => got.includes('c0'), { what: 'c0 in r2', timeoutMs: 20_000 });
    const history = (await c2.history({ limit: 100, direction: 'forwards' })).items.map((m) => String(m.data));
    return { got, events: [...events], history };
  } finally {
    closeAll(...clients);
  }
}

describe("a region's interest that ends and begins again", () => {
  it("holds what the other region published while it had no interest, the origin's history still holding it: its copy of the channel is whole", { timeout: 60_000 }, async () => {
    const { got, events, history } = await interestAgain('again-held', 2500);
    expect(history).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'b3', 'b4', 'c0']);
    // (the new subscriber is given them too: README, "Known differences")
    expect(got).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'c0']);
    expect(events.filter((e) => e.reason !== undefined)).toEqual([]);
  });
});
