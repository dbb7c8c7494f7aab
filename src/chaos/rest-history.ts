/**
 * A channel's whole stored history through a REST client, oldest first, every page; a read
 * that fails is tried again (the service may still be settling after a run's faults). Used
 * by the checks that read history after a run (workload.ts, workload-lifecycle.ts).
 */
import type Ably from 'ably';

type Rest = InstanceType<typeof Ably.Rest>;
type HistoryMessage = Awaited<ReturnType<ReturnType<Rest['channels']['get']>['history']>>['items'][number];

/** A page holds this many; a read that fails is tried this many times, this long apart. */
const PAGE = 1000;
const ATTEMPTS = 5;
const RETRY_MS = 1000;

export async function wholeHistory(rest: Rest, channel: string): Promise<{ items: HistoryMessage[]; error?: undefined } | { items: []; error: string }> {
  let error = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, RETRY_MS));
    try {
      const items: HistoryMessage[] = [];
      let page = await rest.channels.get(channel).history({ direction: 'forwards', limit: PAGE });
      for (;;) {
        items.push(...page.items);
        if (!page.hasNext()) break;
        const next = await page.next();
        if (!next) break;
        page = next;
      }
      return { items };
    } catch (err) {
      error = (err as Error).message;
    }
  }
  return { items: [], error };
}
