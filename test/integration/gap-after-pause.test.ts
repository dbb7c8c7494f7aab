/**
 * A subscriber whose node was paused through the moment its region learnt that another
 * region's messages were lost (chaos seed 1158 with `--pairs`). The channel's master in
 * r2 told the subscribing nodes in its next broadcast (90003), but the paused node got
 * none; it comes back as a new incarnation, its clients resume from history, where r2's
 * serials run on without a hole. Before, they were told they had resumed and never
 * learnt of the loss; now the point where the loss was signalled is kept with the
 * channel's history (src/channel/gaps.ts) and a resume across it is not RESUMED.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalmaster, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelsMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }, { name: 'r2', nodes: 3 }] });
  await regionLinksUp(d, ['r1', 'r2']);
});
afterAll(async () => {
  await d?.stop();
});

describe("a subscriber's node paused while another region's messages were lost", () => {
  it('is told of the loss when its client resumes (no RESUMED, 90003), and gets what followed', { timeout: 120_000 }, async () => {
    const r2 = d.nodes('r2');
    const gm = (await globalmaster(d, 'r2')).node;
    // The channel's master in r2 is neither the globalmaster nor the subscriber's node.
    const master = r2.find((n) => n !== gm)!;
    const x = r2.find((n) => n !== gm && n !== master)!;
    const ch = channelsMasteredBy(r2, master, 'gap-after-pause')[0]!;
    const pub = realtime(d.port('r1-n1'), { disconnectedRetryTimeout: 200 });
    const sub = realtime(d.port(x), { disconnectedRetryTimeout: 200, suspendedRetryTimeout: 200 });
    // Another subscriber in r2, on a node that stays up: r2 keeps its interest in the channel.
    const other = realtime(d.port(gm));
    try {
      const otherEvents: (number | undefined)[] = [];
      const otherChannel = other.channels.get(ch);
      otherChannel.on('update', (c) => void otherEvents.push(c.reason?.code));
      await otherChannel.subscribe(() => undefined);
      const got: string[] = [];
      const events: { at: number; kind: string; resumed: boolean; code?: number; message?: string }[] = [];
      const channel = sub.channels.get(ch);
      for (const kind of ['attached', 'update'] as const) {
        channel.on(kind, (c) => void events.push({ at: got.length, kind, resumed: c.resumed, code: c.reason?.code, message: c.reason?.message }));
      }
      await channel.subscribe((m) => void got.push(m.data as string));
      await connected(pub);
      const send = (data: string) => pub.channels.get(ch).publish('x', data);
      await waitFor(async () => {
        await send('probe');
        return got.includes('probe');
      }, { what: 'the channel flowing from r1 to r2' });
      for (let i = 0; i < 3; i++) await send(`before${i}`);
      await waitFor(() => got.includes('before2'), { what: 'before2 in r2' });
      const attachedEvents = events.length;

      d.sup.pause(x);
      // Declared down in r2 (so its master stops broadcasting to it), as in the chaos run.
      await waitFor(async () => !(await d.health(master)).ring.includes(x), { what: `${x} out of r2's ring`, timeoutMs: 15_000 });
      const proxy = d.sup.regionProxies.get('r1|r2')!;
      proxy.set('both', { blackhole: true });
      await waitFor(async () => !(await globalmaster(d, 'r1')).health.regionLinks.links[0].up, { what: 'the region link down', timeoutMs: 15_000 });
      // Accepted in r1, never seen in r2; then r1 loses the channel's state (its only node killed).
      for (let i = 0; i < 5; i++) await send(`during${i}`);
      await d.sup.kill('r1-n1');
      await d.sup.restart('r1-n1');
      proxy.heal();
      // (Asked of r1 only: a status read of the paused node would wait until it resumes.)
      await waitFor(async () => (await globalmaster(d, 'r1')).health.regionLinks.links[0].up, { what: 'the region link up again', timeoutMs: 15_000 });
      await connected(pub);
      // r2's master learns that r1's stream went on without those: it says so (90003)
      // to the subscribing nodes, x not among them while it is paused.
      for (let i = 0; i < 5; i++) await send(`after${i}`);
      await waitFor(
        async () => {
          const page = await rest(d.port(master)).channels.get(ch).history({ limit: 10 });
          return page.items.some((m) => m.data === 'after4');
        },
        { what: "after4 in r2's history", timeoutMs: 15_000 },
      );

      // The subscriber that stayed up was told by the broadcast.
      await waitFor(() => otherEvents.includes(90003), { what: 'the 90003 at the subscriber on a node that stayed up' });
      d.sup.resume(x);
      await waitFor(() => got.includes('after4'), { what: 'after4 at the subscriber on the resumed node', timeoutMs: 30_000 });
      const since = events.slice(attachedEvents);
      // The loss's own word (not a resume that history could not serve, which is 90003 too).
      const told = since.some((e) => e.code === 90003 && !e.resumed && /messages from region r1 were lost/.test(e.message ?? ''));
      expect(told, `continuity events after the pause: ${JSON.stringify(since)}`).toBe(true);
      expect(got.filter((x) => x.startsWith('during'))).toEqual([]);
      expect(got.filter((x) => x.startsWith('after'))).toEqual(['after0', 'after1', 'after2', 'after3', 'after4']);
    } finally {
      closeAll(pub, sub, other);
    }
  });
});
