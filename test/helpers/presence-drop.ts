import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { closeAll, realtime } from './sdk.js';
import { waitFor } from './wait.js';

/**
 * A member (clientId `clientId`) enters `channel` through a fault proxy in front of
 * `memberPort`, and a watcher on `watcherPort` sees it; then the member's connection is
 * cut at once (the proxy resets both ways, and the SDK does not come back within a
 * minute). Waits up to `timeoutMs` for the watcher's leave event, and returns whose it was,
 * how long after the cut it came, and the watcher's set then.
 */
export async function leaveAfterDrop(o: {
  memberPort: number;
  watcherPort: number;
  channel: string;
  clientId: string;
  timeoutMs: number;
}): Promise<{ clientId: string; afterMs: number; setAfter: unknown[] }> {
  const proxy = new FaultProxy({ host: '127.0.0.1', port: o.memberPort });
  await proxy.listen();
  const member = realtime(proxy.port, { clientId: o.clientId, disconnectedRetryTimeout: 60_000 });
  const watcher = realtime(o.watcherPort);
  try {
    await member.channels.get(o.channel).presence.enter('here');
    const leaves: { clientId: string; at: number }[] = [];
    const presence = watcher.channels.get(o.channel).presence;
    await presence.subscribe('leave', (m) => void leaves.push({ clientId: m.clientId!, at: Date.now() }));
    await waitFor(async () => (await presence.get()).length === 1, { what: 'the member seen' });
    const cutAt = Date.now();
    proxy.set('both', { reset: true });
    await waitFor(() => leaves.length === 1, { what: 'the leave', timeoutMs: o.timeoutMs });
    return { clientId: leaves[0]!.clientId, afterMs: leaves[0]!.at - cutAt, setAfter: await presence.get() };
  } finally {
    closeAll(member, watcher);
    await proxy.close();
  }
}
