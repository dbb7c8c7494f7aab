/**
 * What a node tells channels' masters of one connection's presence members
 * (src/gateway/connection-presence.ts): they are back after a resume, they leave after the
 * grace period when the transport goes (a delay: the master reads it on its own clock),
 * they leave now on CLOSE or DETACH; members of operations not yet answered count once
 * they are, and an operation after a hold waits for the hold's answer.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionPresence } from '../../../src/gateway/connection-presence.js';
import type { GatewayServices } from '../../../src/gateway/services.js';
import { silentLogger } from '../../../src/log.js';
import { PresenceAction } from '../../../src/protocol/actions.js';

interface Hold {
  channel: string;
  leaveInMs: number | null;
  since: number;
  atOnce: boolean;
}

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** `answer`: when the master answers a hold (at once unless given). */
function setup(resumed: boolean, answer?: () => Promise<void>) {
  const holds: Hold[] = [];
  const services = {
    limits: { presenceLeaveDelayMs: 15_000 },
    log: silentLogger(),
    hold: async (channel: string, _connectionId: string, leaveInMs: number | null, since: number, atOnce?: boolean) => {
      holds.push({ channel, leaveInMs, since, atOnce: atOnce ?? false });
      await answer?.();
    },
  } as unknown as GatewayServices;
  const p = new ConnectionPresence('conn', resumed, services);
  p.since = 500;
  return { p, holds };
}

/** Lets every promise chain that needs nothing outside this process run to its end. */
const settle = () => new Promise<void>((r) => setImmediate(r));

const enter = { id: 'conn:0:0', action: PresenceAction.ENTER, clientId: 'm', connectionId: 'conn', timestamp: 1 };
const entered = (p: ConnectionPresence, key: string) => p.op(key, [enter], async () => undefined);

describe('ConnectionPresence', () => {
  it("says a new connection's members leave after the grace period when its transport goes, at its version here", async () => {
    const { p, holds } = setup(false);
    p.attached('app:a');
    await entered(p, 'app:a');
    p.attached('app:b');
    p.transportClosed(false);
    await settle();
    expect(holds).toEqual([{ channel: 'app:a', leaveInMs: 15_000, since: 500, atOnce: false }]);
  });

  it('after a resume, says the members are back on each channel attached, and that they leave when the transport goes, also where the SDK did not enter them again here', async () => {
    const { p, holds } = setup(true);
    p.attached('app:a');
    p.attached('app:a');
    p.attached('app:b');
    await entered(p, 'app:b');
    await settle();
    expect(holds).toEqual([
      { channel: 'app:a', leaveInMs: null, since: 500, atOnce: false },
      { channel: 'app:b', leaveInMs: null, since: 500, atOnce: false },
    ]);
    expect(p.channels().sort()).toEqual(['app:a', 'app:b']);
    holds.length = 0;
    p.transportClosed(false);
    await settle();
    expect(holds.map((h) => [h.channel, h.leaveInMs]).sort()).toEqual([
      ['app:a', 15_000],
      ['app:b', 15_000],
    ]);
  });

  it('lists the channels it is back on after a resume among those it has members on (a ring change tells their masters again)', () => {
    const { p } = setup(true);
    p.attached('app:a');
    expect(p.channels()).toEqual(['app:a']);
  });

  it('after a resume, a detach says the members leave now', async () => {
    const { p, holds } = setup(true);
    p.attached('app:a');
    p.attached('app:b');
    await settle();
    holds.length = 0;
    p.detached('app:a');
    await settle();
    expect(holds).toEqual([{ channel: 'app:a', leaveInMs: 0, since: 500, atOnce: true }]);
  });

  it('sends an operation at once where no hold waits (in order with the publishes read in the same turn)', () => {
    const { p } = setup(false);
    let sent = false;
    void p.op('app:a', [enter], async () => {
      sent = true;
    });
    expect(sent).toBe(true);
  });

  it('a detach while an enter is unanswered says the members leave once the enter is answered', async () => {
    const { p, holds } = setup(false);
    const answer = deferred();
    const op = p.op('app:a', [enter], () => answer.promise);
    p.detached('app:a');
    await settle();
    expect(holds).toEqual([]);
    answer.resolve();
    await op;
    await settle();
    expect(holds).toEqual([{ channel: 'app:a', leaveInMs: 0, since: 500, atOnce: true }]);
  });

  it('a transport gone while an enter is unanswered says the members leave after the grace period once it is answered; nothing where it was refused', async () => {
    const { p, holds } = setup(false);
    const a = deferred();
    const b = deferred();
    const ops = [p.op('app:a', [enter], () => a.promise), p.op('app:b', [enter], () => b.promise)];
    p.transportClosed(false);
    a.resolve();
    b.reject(new Error('refused'));
    await Promise.allSettled(ops);
    await settle();
    expect(holds).toEqual([{ channel: 'app:a', leaveInMs: 15_000, since: 500, atOnce: false }]);
  });

  it("an enter after a detach's leave goes once the leave is answered, so it is not taken away by it", async () => {
    const answer = deferred();
    const { p, holds } = setup(false, () => answer.promise);
    await entered(p, 'app:a');
    p.detached('app:a');
    await settle();
    expect(holds).toHaveLength(1);
    let sent = false;
    const again = p.op('app:a', [enter], async () => {
      sent = true;
    });
    await settle();
    expect(sent).toBe(false);
    answer.resolve();
    await again;
    expect(sent).toBe(true);
    expect(p.channels()).toEqual(['app:a']);
  });
});
