/**
 * A replay for a peer region, read a page at a time from the channel's master
 * (`answerReplay`), goes over its session only while that session is the link's: a
 * session closed (replaced by a new link, or the role released) takes no more pages (one
 * whose stream ended: globalmaster-term.test.ts). The router is a fake that serves pages
 * without end; the session's stream a fake.
 */
import { describe, expect, it } from 'vitest';
import { Session } from '../../../src/bridge/link-session.js';
import { answerReplay } from '../../../src/bridge/replay.js';
import { silentLogger } from '../../../src/log.js';
import { FakeCall } from '../../helpers/fake-link.js';
import { pagingRouter } from '../../helpers/replay-router.js';
import { waitFor } from '../../helpers/wait.js';

describe('answerReplay', () => {
  it('sends no page after its session is closed (replaced, or the role released), and counts only what it sent', async () => {
    const stream = new FakeCall();
    const s = new Session('us', stream as never);
    s.ready = true;
    const { router, pages } = pagingRouter((n) => {
      if (n === 3) s.close();
    });
    await answerReplay({ region: 'eu', router, log: silentLogger() }, s, { id: 7, channel: 'app:c', epoch: 'ep', afterSeq: 0 });
    // Pages 1 and 2 went; the third was read as the session stopped, and neither it nor any after it went.
    expect(pages()).toBe(3);
    expect(stream.written).toHaveLength(2);
    expect(s.replayEntriesOut).toBe(4);
    expect(s.entriesOut).toBe(4);
  });

  it('sends its next page only once the link has room again (paced by the stream, not read and written all at once)', async () => {
    /** A stream whose buffer is always "full" after a write, until the test lets it drain. */
    class SlowCall extends FakeCall {
      writableNeedDrain = false;
      override write(f: unknown): boolean {
        super.write(f);
        this.writableNeedDrain = true;
        return false;
      }
      drain(): void {
        this.writableNeedDrain = false;
        this.emit('drain');
      }
    }
    const stream = new SlowCall();
    const s = new Session('us', stream as never);
    s.ready = true;
    const { router, pages } = pagingRouter((n) => {
      if (n === 4) s.close();
    });
    const done = answerReplay({ region: 'eu', router, log: silentLogger() }, s, { id: 7, channel: 'app:c', epoch: 'ep', afterSeq: 0 });
    await waitFor(() => stream.written.length === 1, { what: 'the first page' });
    // Nothing more goes until the stream drains.
    await new Promise((r) => setImmediate(r));
    expect([stream.written.length, pages()]).toEqual([1, 1]);
    stream.drain();
    await waitFor(() => stream.written.length === 2, { what: 'the second page, once drained' });
    stream.drain();
    await waitFor(() => stream.written.length === 3, { what: 'the third page' });
    stream.drain();
    await done;
    expect(pages()).toBe(4);
  });
});
