/**
 * A request that waited in a paused node's socket while the region went on without it
 * (chaos seed 1151 with `--pairs`): a channel's replica R is paused; its master M is
 * stopped and hands the channel to R, which cannot answer; R is declared down, and
 * another node claims the channel and starts it again in a new epoch, where publishing
 * goes on. When R resumes it starts a new incarnation (it may have been declared down),
 * and only then reads M's handoff. Before requests named the life they were for, R took
 * that handoff as the channel's master with M's old state, then ignored the new master's
 * handoff ("already master"), and every message acknowledged in the new epoch was gone
 * from the channel (in the chaos run, lost by subscribers that had stayed on the old
 * epoch). Now R's new life refuses a request sent to its old one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelStatus } from '../helpers/region.js';
import { channelMasteredBy, replicaOf } from '../helpers/ring.js';
import { closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

let d: TestDeployment;

beforeAll(async () => {
  // Four nodes: with the master gone and the replica down, the other two keep quorum.
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 4 }] });
});
afterAll(async () => {
  await d?.stop();
});

/** The epoch in a channel serial (`region~epoch~n|…`). */
const epochOf = (channelSerial: string) => channelSerial.split('|')[0]!.split('~')[1]!;

describe('a handoff that waited in a paused node past its down timeout', () => {
  it("is refused by the node's new life: the channel keeps the epoch the region went on in, with every message acknowledged there", async () => {
    const nodes = d.nodes('r1');
    const [m, ...others] = nodes;
    const ch = channelMasteredBy(nodes, m!, 'stale-handoff');
    const r = replicaOf(nodes, ch)!;
    const [n, o] = others.filter((x) => x !== r) as [string, string];
    const pub = realtime(d.port(n));
    const sub = realtime(d.port(n));
    try {
      const rec = new Recorder();
      await sub.channels.get(ch).subscribe(rec.handler);
      await connected(pub);
      const publisher = new SteadyPublisher('P', pub, ch, 40);
      publisher.start();
      await waitFor(() => rec.count('P') >= 20, { what: '20 messages delivered' });
      const before = epochOf((await channelStatus(d, ch, n)).channelSerial);

      // How often the subscriber is told the channel restarted (UPDATE without RESUMED).
      let restarts = 0;
      sub.channels.get(ch).on('update', (c) => {
        if (!c.resumed) restarts++;
      });
      d.sup.pause(r);
      // M leaves while R is still in every view: its handoff goes to R and waits there.
      await d.sup.terminate(m!);
      // R declared down: the channel goes on elsewhere. In the epoch it was in, where M, still
      // leaving, pushed its unanswered handoff again to the owner after R (handoff.ts pushAgain);
      // or in a new epoch, where M had gone first (M's last batches never reached R).
      const during = await waitFor(
        async () => {
          const h = await d.health(n);
          if (h.ring.includes(r) || !h.quorum) return null;
          const s = await channelStatus(d, ch, n).catch(() => null);
          return s && s.master !== r && s.master !== m ? s : null;
        },
        { what: `${r} down and ${ch} mastered again without it`, timeoutMs: 20_000 },
      );
      const restarted = epochOf(during.channelSerial) !== before;
      // What was published before may have gone with both copies (M stopped, R paused),
      // which the subscriber is told of; from here on nothing acknowledged may go, also
      // where n's channel client joins the new epoch only after the master has published
      // there, not knowing n subscribed (it lost the state): n is given that epoch from its
      // first message (client-restart.test.ts). Before that, once in about 50 runs under load, the
      // first message counted here was skipped so, in the master's first batch.
      const from = publisher.sent;
      if (restarted) await waitFor(() => restarts > 0, { what: 'the subscriber told that the channel restarted' });
      const since = () => [...publisher.acked].filter((s) => s >= from);
      await waitFor(() => since().length >= 20, { what: '20 messages acknowledged in the new epoch' });

      d.sup.resume(r);
      // R is the channel's owner again once the others see its new life: the channel comes back to it.
      await waitFor(
        async () => {
          const s = await channelStatus(d, ch, n).catch(() => null);
          return s?.master === r ? s : null;
        },
        { what: `${ch} back on ${r}`, timeoutMs: 20_000 },
      );
      const atResume = since().length;
      await waitFor(() => since().length >= atResume + 20, { what: '20 more messages acknowledged after the resume' });
      await publisher.stop();
      const acked = since().sort((x, y) => x - y);

      // The region went on in the epoch it was in while R was down, not in M's old state.
      const after = await channelStatus(d, ch, o);
      expect(epochOf(after.channelSerial), `the epoch before the pause was ${before}`).toBe(epochOf(during.channelSerial));
      // Every message acknowledged since is in the channel's history (read at R, the master)...
      const history = new Map<number, string>();
      let page = await rest(d.port(r)).channels.get(ch).history({ limit: 1000, direction: 'forwards' });
      for (;;) {
        for (const item of page.items) history.set((item.data as { seq: number }).seq, item.id);
        if (!page.hasNext()) break;
        page = (await page.next())!;
      }
      expect(acked.filter((s) => !history.has(s)), 'acknowledged in the new epoch, missing from history').toEqual([]);
      // ... and reached the subscriber once, in order.
      const got = () => (rec.byPublisher.get('P') ?? []).filter((s) => s >= from);
      await waitFor(() => acked.every((s) => got().includes(s)), { what: 'the subscriber to have every message acknowledged in the new epoch', timeoutMs: 10_000 }).catch(() => undefined);
      const seen = got();
      const missing = acked.filter((s) => !seen.includes(s));
      expect(missing, `acknowledged in the new epoch, never delivered (ids ${missing.map((s) => history.get(s)).join(', ')}; from ${from}, delivered ${seen.join(',')})`).toEqual([]);
      expect(seen.every((s, i) => i === 0 || s > seen[i - 1]!), `in order, once: ${seen.join(',')}`).toBe(true);
    } finally {
      closeAll(pub, sub);
    }
  });
});
