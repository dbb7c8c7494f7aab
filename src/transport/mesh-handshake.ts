/**
 * The mesh link's handshake (`mesh.ts`): the frames both sides write and the proofs they
 * check, with the region's cluster secret.
 *
 * 1. The listener sends a challenge: a fresh nonce, its name and node protocol.
 * 2. The dialer answers with a hello: its name, region, protocol, session (its transport's
 *    life), a nonce of its own, and an HMAC over the listener's nonce, its name and region.
 * 3. The listener checks that MAC and answers with a welcome: an HMAC over the dialer's
 *    nonce, its own name and the region. The dialer checks it; the link is up.
 *    Or, where a running node holds the dialer's name (mesh-lives.ts), it answers that the
 *    name is in use, proven the same way, and the dialer's node stops.
 *
 * Each MAC covers a nonce the checker chose, so a recorded handshake proves nothing again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as pb from '../gen/node.pb.js';
import type { NodeId } from './messages.js';

function mac(secret: string, ...parts: (string | Uint8Array)[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const p of parts) h.update(p).update('\0');
  return h.digest();
}

function sameMac(a: Uint8Array, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class MeshHandshake {
  constructor(
    private readonly secret: string,
    private readonly region: string,
    private readonly self: NodeId,
  ) {}

  /** The listener's first frame. */
  challenge(nonce: Uint8Array, protocol: number): Uint8Array {
    return pb.Handshake.encode({ step: { $case: 'challenge', challenge: { nonce, node: this.self, protocol } } }).finish();
  }

  /** The dialer's answer to a challenge's nonce, proving it holds the secret. */
  hello(challenge: Uint8Array, nonce: Uint8Array, protocol: number, session: number): Uint8Array {
    const proof = mac(this.secret, 'hello', challenge, this.self, this.region);
    return pb.Handshake.encode({ step: { $case: 'hello', hello: { node: this.self, region: this.region, nonce, mac: proof, protocol, session } } }).finish();
  }

  /** The hello in `frame` if it answers `challenge` for this region with the secret; otherwise null. */
  provenHello(frame: Uint8Array, challenge: Uint8Array): pb.Hello | null {
    const hello = helloIn(frame);
    if (!hello || hello.region !== this.region) return null;
    return sameMac(hello.mac, mac(this.secret, 'hello', challenge, hello.node, hello.region)) ? hello : null;
  }

  /** The listener's proof back, answering the dialer's nonce. */
  welcome(dialerNonce: Uint8Array): Uint8Array {
    const proof = mac(this.secret, 'welcome', dialerNonce, this.self, this.region);
    return pb.Handshake.encode({ step: { $case: 'welcome', welcome: { node: this.self, mac: proof } } }).finish();
  }

  /** The listener's answer to a hello naming a running node: proven as a welcome is, so only the region can stop a node so. */
  nameInUse(dialerNonce: Uint8Array, holder: string): Uint8Array {
    const proof = mac(this.secret, 'name-in-use', dialerNonce, this.self, this.region);
    return pb.Handshake.encode({ step: { $case: 'nameInUse', nameInUse: { node: this.self, mac: proof, holder } } }).finish();
  }

  /** Whether a name-in-use answer comes from `peer` (a MAC over our nonce). */
  provesNameInUse(r: pb.NameInUse, peer: NodeId, nonce: Uint8Array): boolean {
    return r.node === peer && sameMac(r.mac, mac(this.secret, 'name-in-use', nonce, r.node, this.region));
  }

  /** Whether a welcome proves that `peer` holds the secret (a MAC over our nonce). */
  welcomes(w: pb.Welcome, peer: NodeId, nonce: Uint8Array): boolean {
    return w.node === peer && sameMac(w.mac, mac(this.secret, 'welcome', nonce, w.node, this.region));
  }
}

/** The hello a handshake frame carries, if it is one. */
function helloIn(frame: Uint8Array): pb.Hello | undefined {
  try {
    const step = pb.Handshake.decode(frame).step;
    return step?.$case === 'hello' ? step.hello : undefined;
  } catch {
    return undefined;
  }
}

/** The node a hello names, proven or not (for the log of a refusal). */
export function claimedNode(frame: Uint8Array): string | undefined {
  return helloIn(frame)?.node;
}
