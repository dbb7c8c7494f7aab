/**
 * The globalmaster's full audits tell again the owner of a channel other regions want,
 * homed in this region (its lifecycle's home: src/channel/lifecycle.ts), that no master
 * here listed: the word that was to make it take the channel did not.
 */
import { describe, expect, it } from 'vitest';
import { FakeCall, PEER_HELLO as hello, testGlobalmaster } from '../../helpers/fake-link.js';
import { waitFor } from '../../helpers/wait.js';

describe('Globalmaster audits and home channels', () => {
  it('tells the owners of home channels no master holds, and only those', async () => {
    const g = testGlobalmaster({} as never, { interestAuditMs: 20, homeHere: (c) => c === 'app:home' || c === 'app:c' });
    await g.open();
    const call = new FakeCall();
    g.accept(call);
    call.from(hello);
    call.from({
      type: 'snapshot',
      version: 1,
      channels: [
        { channel: 'app:c', since: 5 },
        { channel: 'app:home', since: 6 },
        { channel: 'app:other', since: 7 },
      ],
    });
    g.sent.length = 0;
    // Every sixth audit is a full one.
    await waitFor(() => g.sent.some((s) => s.msg.type === 'remoteInterest'), { what: 'a full audit', timeoutMs: 5_000 });
    const told = g.sent.filter((s) => s.msg.type === 'remoteInterest').map((s) => s.msg);
    // app:c is held (the masters' list has it); app:other is homed elsewhere.
    expect(told.map((m) => (m as { channel: string }).channel)).toEqual(['app:home']);
    expect(told[0]).toMatchObject({ regions: [{ region: 'r0', since: 6 }] });
    await g.gm.stop();
  });
});
