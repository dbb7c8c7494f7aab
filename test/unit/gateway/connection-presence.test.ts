/**
 * What a node tells channels' masters of one connection's presence members
 * (src/gateway/connection-presence.ts): they are back after a resume, they leave after the
 * grace period when the transport goes (a delay: the master reads it on its own clock),
 * they leave now on CLOSE or DETACH.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionPresence } from '../../../src/gateway/connection-presence.js';
import type { GatewayServices } from '../../../src/gateway/services.js';
import { silentLogger } from '../../../src/log.js';
import { PresenceAction } from '../../../src/protocol/actions.js';

function setup(resumed: boolean) {
  const holds: { channel: string; leaveInMs: number | null; since: number; atOnce: boolean }[] = [];
  const services = {
    limits: { presenceLeaveDelayMs: 15_000 },
    log: silentLogger(),
    hold: async (channel: string, _connectionId: string, leaveInMs: number | null, since: number, atOnce?: boolean) => {
      holds.push({ channel, leaveInMs, since, atOnce: atOnce ?? false });
    },
  } as unknown as GatewayServices;
  const p = new ConnectionPresence('conn', resumed, services);
  p.since = 500;
  return { p, holds };
}

const enter = { id: 'conn:0:0', action: PresenceAction.ENTER, clientId: 'm', connectionId: 'conn', timestamp: 1 };

describe('ConnectionPresence', () => {
  it('says a new connection\'s members leave after the grace period when its transport goes, at its version here', () => {
    const { p, holds } = setup(false);
    p.attached('app:a');
    p.applied('app:a', [enter]);
    p.attached('app:b');
    p.transportClosed(false, false);
    expect(holds).toEqual([{ channel: 'app:a', leaveInMs: 15_000, since: 500, atOnce: false }]);
  });

  it('after a resume, says the members are back on each channel attached, and that they leave when the transport goes, also where the SDK did not enter them again here', () => {
    const { p, holds } = setup(true);
    p.attached('app:a');
    p.attached('app:a');
    p.attached('app:b');
    p.applied('app:b', [enter]);
    expect(holds).toEqual([
      { channel: 'app:a', leaveInMs: null, since: 500, atOnce: false },
      { channel: 'app:b', leaveInMs: null, since: 500, atOnce: false },
    ]);
    holds.length = 0;
    p.transportClosed(false, false);
    expect(holds.map((h) => [h.channel, h.leaveInMs]).sort()).toEqual([
      ['app:a', 15_000],
      ['app:b', 15_000],
    ]);
  });

  it('after a resume, a detach says the members leave now; a connection another node took over says nothing', () => {
    const { p, holds } = setup(true);
    p.attached('app:a');
    p.attached('app:b');
    holds.length = 0;
    p.detached('app:a');
    expect(holds).toEqual([{ channel: 'app:a', leaveInMs: 0, since: 500, atOnce: true }]);
    holds.length = 0;
    p.transportClosed(false, true);
    expect(holds).toEqual([]);
  });
});
