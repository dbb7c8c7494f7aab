/**
 * A node's side of the region's token revocations (src/node/revocation-sync.ts): what it
 * sends on, to whom, and when it sends a peer everything.
 */
import { describe, expect, it } from 'vitest';
import type { Revocation } from '../../../src/auth/revocations.js';
import { RevocationSync } from '../../../src/node/revocation-sync.js';
import type { NodeMessage } from '../../../src/transport/messages.js';
import { silentLogger } from '../../../src/log.js';
import { waitFor } from '../../helpers/wait.js';

const T0 = Date.now();
const rev = (target: string, origin = 'r1'): Revocation => ({ origin, keyName: 'app.rev', target, issuedBefore: T0, appliesAt: T0, originIssuedBefore: T0, times: {}, guesses: {} });

function node() {
  let mono = 0;
  const sent: { to: string; msg: NodeMessage }[] = [];
  const broadcast: NodeMessage[] = [];
  const toRegions: Revocation[][] = [];
  const changed: string[][] = [];
  const sync = new RevocationSync({
    now: () => T0,
    monotonic: () => mono,
    log: silentLogger(),
    send: (to, msg) => sent.push({ to, msg }),
    broadcast: (msg) => broadcast.push(msg),
    toRegions: (entries) => toRegions.push(entries),
    changed: (keys) => changed.push([...keys]),
  });
  return { sync, sent, broadcast, toRegions, changed, tick: (ms: number) => (mono += ms) };
}

describe("a node's token revocations", () => {
  it('sends on only what is new to it, to the region and to the other regions, wherever it was made', () => {
    const n = node();
    n.sync.take([rev('clientId:a'), rev('clientId:b', 'r2')]);
    n.sync.take([rev('clientId:a'), rev('clientId:b', 'r2')]); // again: nothing new, nothing sent
    expect(n.broadcast).toEqual([{ type: 'revocations', entries: [rev('clientId:a'), rev('clientId:b', 'r2')] }]);
    expect(n.toRegions).toEqual([[rev('clientId:a'), rev('clientId:b', 'r2')]]);
    expect(n.sync.all()).toEqual([rev('clientId:a'), rev('clientId:b', 'r2')]);
  });

  it('has its connections look once per turn, for the keys concerned', async () => {
    const n = node();
    n.sync.take([rev('clientId:a')]);
    n.sync.take([rev('clientId:b'), { ...rev('clientId:a'), keyName: 'app.other' }]);
    expect(n.changed).toEqual([]);
    await waitFor(() => n.changed.length > 0, { what: 'the connections told' });
    expect(n.changed).toEqual([['app.rev', 'app.other']]);
  });

  it('sends a peer all it holds when the peer names another digest in two heartbeats running, at most once a second', () => {
    const n = node();
    n.sync.take([rev('clientId:a')]);
    const ours = n.sync.digest();
    n.sync.heard('n2', 12345); // once: a revocation may just be on its way
    expect(n.sent).toEqual([]);
    n.sync.heard('n2', 12345);
    expect(n.sent).toEqual([{ to: 'n2', msg: { type: 'revocations', entries: [rev('clientId:a')] } }]);
    n.sync.heard('n2', 12345);
    expect(n.sent).toHaveLength(1); // within the second
    n.tick(1000);
    n.sync.heard('n2', 12345);
    expect(n.sent).toHaveLength(2);
    n.sync.heard('n2', ours); // the same now: the count starts again
    n.tick(1000);
    n.sync.heard('n2', 12345);
    expect(n.sent).toHaveLength(2);
    n.sync.heard('n2', undefined); // an older build says nothing
    expect(n.sent).toHaveLength(2);
    // A node holding nothing sends nothing (its peer, holding more, sends to it).
    const empty = node();
    empty.sync.heard('n2', 12345);
    empty.sync.heard('n2', 12345);
    expect(empty.sent).toEqual([]);
  });
});
