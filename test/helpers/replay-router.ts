/** A channel router for replays of another region's (answerReplay, bridge/replay.ts) that never runs out of pages. */
import type { LogEntry } from '../../src/channel/entry.js';
import type { ChannelRouter } from '../../src/channel/router.js';
import { ForwardedEntries } from '../../src/transport/entry-lists.js';

/** A message entry of eu's, origin seq `seq`. */
export const replayEntry = (seq: number): LogEntry => ({ kind: 'message', serial: seq, channelSerial: '', storedAt: 1, origin: { region: 'eu', epoch: 'ep', seq }, message: { id: `m${seq}`, timestamp: 0 } });

/** A router whose every `replayLocal` answers a page of two entries after the asked seq; `onPage(n)` runs as page n is read. */
export function pagingRouter(onPage: (n: number) => void) {
  let pages = 0;
  const router = {
    call: async (_key: string, req: { afterSeq: number }) => {
      onPage(++pages);
      return { from: 'n1', body: { kind: 'local', epoch: 'ep', startSeq: req.afterSeq, gap: false, entries: ForwardedEntries.of([replayEntry(req.afterSeq + 1), replayEntry(req.afterSeq + 2)]) } };
    },
  } as unknown as ChannelRouter;
  return { router, pages: () => pages };
}

