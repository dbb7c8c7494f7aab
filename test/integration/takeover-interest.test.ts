/**
 * A channel master that takes a channel over, by failover or handoff, while its region's
 * interest in the channel has no stream from another region yet (the interest began
 * while the region link was cut, so no start has come). It must ask that region for its
 * stream from when interest here really began, which it knows from its predecessor
 * (src/channel/channel-interest.ts):
 * - not from its own takeover: what was published between the attach and the takeover
 *   would be skipped, silently (failover);
 * - not from the beginning of the other region's history: messages published long
 *   before anyone here attached would be delivered (handoff).
 */
import type { InboundMessage } from 'ably';
import { describe, expect, it } from 'vitest';
import { allLinksUp as linkUp, globalmaster, regionsDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelsMasteredBy } from '../helpers/ring.js';
import { closeAll, realtime } from '../helpers/sdk.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** More than the 2 s by which a start reaches back before the interest began (master.ts). */
const PAST_MARGIN_MS = 3000;

const deployment = () =>
  regionsDeployment([
    { name: 'r1', nodes: 1 },
    { name: 'r2', nodes: 3 },
  ]);

/**
 * r1 publishes `old-*`; later, with the r1–r2 link cut, a subscriber attaches in r2 and
 * r1 publishes `during-*`; then `takeOver` moves the channel's master in r2 (its node is
 * given: r2's globalmaster's node with `masterOnGm`, another without), the link heals and
 * r1 publishes `after-*`. The subscriber must get during-*
 * and after-*, once and in order, and no old-*.
 */
async function attachCutTakeOver(
  d: TestDeployment,
  o: { prefix: string; masterOnGm: boolean; takeOver: (master: string) => Promise<void> },
): Promise<void> {
  const r2 = d.nodes('r2');
  const gmNode = (await globalmaster(d, 'r2')).node;
  const master = o.masterOnGm ? gmNode : r2.find((n) => n !== gmNode)!;
  const ch = channelsMasteredBy(r2, master, o.prefix, 1)[0]!;
  // The subscriber's node stays up.
  const subNode = r2.find((n) => n !== master)!;
  const pub = realtime(d.port('r1-n1'));
  const sub = realtime(d.port(subNode));
  const local = realtime(d.port(subNode));
  const link = d.sup.regionProxies.get('r1|r2')!;
  const got: string[] = [];
  try {
    const pubCh = pub.channels.get(ch);
    for (const n of [1, 2, 3]) await pubCh.publish('m', `old-${n}`);
    await sleep(PAST_MARGIN_MS);
    link.set('both', { reset: true });
    await waitFor(async () => !(await linkUp(d, 'r1')) && !(await linkUp(d, 'r2')), { what: 'the r1–r2 link down' });
    await sub.channels.get(ch).subscribe((m: InboundMessage) => got.push(String(m.data)));
    for (const n of [1, 2, 3]) await pubCh.publish('m', `during-${n}`);
    // The takeover comes well after those publishes, so a start from its own time misses them.
    await sleep(PAST_MARGIN_MS);
    await o.takeOver(master);
    // The subscription is live on the new master: a message published in r2 reaches it.
    await local.channels.get(ch).publish('m', 'r2-marker');
    await waitFor(() => got.includes('r2-marker'), { what: "r2's own message after the takeover", timeoutMs: 20_000 });
    link.heal();
    await waitFor(async () => (await linkUp(d, 'r1')) && (await linkUp(d, 'r2')), { what: 'the r1–r2 link up', timeoutMs: 20_000 });
    for (const n of [1, 2, 3]) await pubCh.publish('m', `after-${n}`);
    await waitFor(() => got.includes('after-3'), { what: 'after-3 in r2', timeoutMs: 20_000 });
    const fromR1 = got.filter((x) => x !== 'r2-marker');
    expect(fromR1).toEqual(['during-1', 'during-2', 'during-3', 'after-1', 'after-2', 'after-3']);
  } finally {
    link.heal();
    closeAll(pub, sub, local);
  }
}

describe('a master that took the channel over by failover', () => {
  const d = deployment();

  it('asks the other region for its stream from when interest began, not from the failover: nothing published between is lost', async () => {
    await attachCutTakeOver(d(), { prefix: 'failover', masterOnGm: false, takeOver: (master) => d().sup.kill(master) });
  });
});

describe('a master that took the channel over by handoff', () => {
  const d = deployment();

  // The master's node also holds the globalmaster role, which moves with it: the new
  // role learns the interest, and since when, from the masters.
  it("asks the other region for its stream from when interest began, not from its history's beginning: nothing older is delivered", async () => {
    await attachCutTakeOver(d(), { prefix: 'handoff', masterOnGm: true, takeOver: (master) => d().sup.terminate(master) });
  });
});
