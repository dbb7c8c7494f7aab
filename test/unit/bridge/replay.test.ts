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
});
