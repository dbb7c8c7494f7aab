/**
 * A real Globalmaster whose region is one node (n1 in r1) and whose peer region r0's link
 * is a fake gRPC stream, for unit tests of the region link (bridge/).
 */
import { EventEmitter } from 'node:events';
import { fromPb, toPb, type LinkFrame } from '../../src/bridge/codec.js';
import { Globalmaster, type GlobalmasterDeps } from '../../src/bridge/globalmaster.js';
import type { ChannelRouter } from '../../src/channel/router.js';
import { Ring } from '../../src/cluster/ring.js';
import { silentLogger } from '../../src/log.js';
import type * as pb from '../../src/gen/region.pb.js';
import type { NodeMessage } from '../../src/transport/messages.js';
import { REGION_PROTOCOL } from '../../src/transport/protocol-version.js';
import { waitFor } from './wait.js';

const SECRET = 's3cret';

/**
 * A gRPC server-side duplex stream as Globalmaster uses it (no cancel(): a server stream
 * is closed with end()): frames written to it are kept, the peer's are emitted as 'data'.
 */
export class FakeCall extends EventEmitter {
  readonly written: unknown[] = [];
  closed = false;
  readonly metadata = { get: (k: string) => (k ? [SECRET] : []) };
  write(f: unknown): boolean {
    this.written.push(f);
    return true;
  }
  end(): void {
    this.closed = true;
  }
  getPeer(): string {
    return 'fake';
  }
  from(f: LinkFrame): void {
    this.emit('data', toPb(f));
  }
  /** The frames written to this stream, decoded. */
  frames(): LinkFrame[] {
    return this.written.map((f) => fromPb(f as pb.LinkFrame, 'r0'));
  }
  /** The batches forwarded over this stream, decoded. */
  forwards(): Extract<LinkFrame, { type: 'forward' }>[] {
    return this.frames().filter((f): f is Extract<LinkFrame, { type: 'forward' }> => f.type === 'forward');
  }
}

export const PEER_HELLO: LinkFrame = { type: 'hello', region: 'r0', deployment: 'dep', incarnation: 1, node: 'r0-n1', protocol: REGION_PROTOCOL, now: 0 };

/**
 * Every interest audit finds one master, n1, that knows of r0's interest in app:c.
 * `router` answers the master reads a replay makes; `deps` replaces others (say, a peer
 * that this node dials).
 */
export function testGlobalmaster(router: ChannelRouter = {} as never, deps: Partial<GlobalmasterDeps> = {}) {
  let quorum = true;
  const sent: { to: string; msg: NodeMessage }[] = [];
  const gm = new Globalmaster({
    self: 'n1',
    region: 'r1',
    deployment: 'dep',
    // r0 sorts first: it dials us, so this node dials nobody.
    peers: [{ region: 'r0', host: '127.0.0.1', port: 1 }],
    grpcHost: '127.0.0.1',
    grpcPort: 0,
    secret: SECRET,
    tls: null,
    ring: () => new Ring(['n1']),
    hasQuorum: () => quorum,
    incarnation: () => 1,
    rpc: { request: async () => ({ kind: 'interest', mastered: [{ channel: 'app:c', on: false, since: 0, remote: [{ region: 'r0', since: 5 }] }] }) } as never,
    send: (to, msg) => sent.push({ to, msg }),
    router,
    now: () => Date.now(),
    log: silentLogger(),
    ...deps,
  });
  const accept = (call: FakeCall) => (gm as unknown as { links: { accept(c: FakeCall): void } }).links.accept(call);
  const linksOpen = () => gm.status().linksOpen;
  /** Takes the role and waits until it takes region links (its first interest audit done). */
  const open = async (what = 'links open') => {
    gm.evaluate();
    await waitFor(linksOpen, { what });
  };
  return { gm, sent, accept, linksOpen, open, setQuorum: (q: boolean) => (quorum = q) };
}
