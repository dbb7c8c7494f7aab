/**
 * A node's part of its region's token auth: the deployment's keys, the TokenRequest
 * nonces (auth/nonces.ts), the token revocations (revocation-sync.ts), and from them the
 * Authenticator and the services the gateway checks credentials and takes requests with.
 */
import type { Ring } from '../cluster/ring.js';
import type { AppConfig } from '../config/topology.js';
import { KeyStore } from '../auth/keys.js';
import { NonceKeeper } from '../auth/nonces.js';
import type { Revocation } from '../auth/revocations.js';
import { TokenAuthority } from '../auth/tokens.js';
import type { Authenticator } from '../gateway/auth.js';
import type { GatewayServices } from '../gateway/services.js';
import type { Logger } from '../log.js';
import type { NodeId, NodeMessage } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import { RevocationSync } from './revocation-sync.js';

export class RegionAuth {
  readonly keys: KeyStore;
  readonly nonces: NonceKeeper;
  readonly revocations: RevocationSync;

  constructor(
    private readonly d: {
      apps: readonly AppConfig[];
      self: NodeId;
      region: string;
      ring(): Ring;
      rpc: Rpc;
      /** The region's time (RegionClock). */
      now(): number;
      monotonic(): number;
      log: Logger;
      send(to: NodeId, msg: NodeMessage): void;
      broadcast(msg: NodeMessage): void;
      /** Revocations new to this node, to the other regions (where this node holds the globalmaster role). */
      toRegions(entries: Revocation[]): void;
      /** New revocations of these keys: the node's connections look at their tokens again. */
      changed(keys: ReadonlySet<string>): void;
    },
  ) {
    this.keys = new KeyStore(d.apps);
    this.nonces = new NonceKeeper({ self: d.self, ring: d.ring, rpc: d.rpc, now: d.now, log: d.log });
    this.revocations = new RevocationSync({
      now: d.now,
      monotonic: d.monotonic,
      log: d.log,
      send: d.send,
      broadcast: d.broadcast,
      toRegions: d.toRegions,
      changed: d.changed,
    });
  }

  /** What the gateway checks credentials with. */
  authenticator(): Authenticator {
    const store = this.revocations.store;
    return { keys: this.keys, tokens: new TokenAuthority(this.keys, { revocations: store, region: this.d.region }), now: this.d.now, revokedAt: (t) => store.revokedAt(t) };
  }

  /** The gateway's services of it: a TokenRequest's nonce, and revocations. */
  services(): Pick<GatewayServices, 'keys' | 'useNonce' | 'revoke' | 'revocationsHeld'> {
    return {
      keys: this.keys,
      useNonce: (key, until) => this.nonces.use(key, until),
      revoke: (entries) => this.revocations.take(entries),
      revocationsHeld: (keyName) => this.revocations.store.heldFor(keyName),
    };
  }
}
