/**
 * The nonces of signed TokenRequests already used, each kept until its request could no
 * longer be taken (its timestamp plus the window). Two nodes of the region keep a nonce,
 * the ring's first two for `nonce:KEYNAME:NONCE`, and the node that takes the request
 * keeps it too; every node asks both keepers (NonceKeeper.use), so a TokenRequest replayed
 * to another node of the region is refused, also after one keeper restarts or the ring
 * changes by a node (the new first of a key was its second, or the old first is now).
 */
import type { Ring } from '../cluster/ring.js';
import { AblyError, toErrorInfo } from '../errors.js';
import type { Logger } from '../log.js';
import type { NodeId, NonceRequest, ReplyBody } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';

/** How long a node waits for a nonce's keeper before it keeps the nonce itself (ms). */
const ASK_TIMEOUT_MS = 2000;

/**
 * How many nodes of the ring keep each nonce. With one, a keeper's restart, or a node
 * joining before it in the ring, left the nonce with the node that took it only, and a
 * replay to a third node was taken.
 */
const KEEPERS = 2;

/** How often (ms) used nonces whose time is up are swept out. */
const SWEEP_EVERY_MS = 10_000;

export class UsedNonces {
  private readonly until = new Map<string, number>();
  private nextSweep = 0;

  /** Takes `key` as used until `until`: true if it was not used yet (as of `now`). */
  use(key: string, until: number, now: number): boolean {
    if (this.used(key, now)) return false;
    this.until.set(key, until);
    return true;
  }

  /** Whether `key` is in use (as of `now`). */
  used(key: string, now: number): boolean {
    if (now >= this.nextSweep) {
      for (const [k, u] of this.until) if (u <= now) this.until.delete(k);
      this.nextSweep = now + SWEEP_EVERY_MS;
    }
    const had = this.until.get(key);
    return had !== undefined && had > now;
  }

  get size(): number {
    return this.until.size;
  }
}

/** A node's side of the region's nonces: what it asks the keeper, and what it keeps. */
export class NonceKeeper {
  /** The nonces this node keeps: those it took, and those it was asked to keep. */
  private readonly nonces = new UsedNonces();

  constructor(
    private readonly d: {
      self: NodeId;
      ring(): Ring;
      rpc: Pick<Rpc, 'request'>;
      /** The region's time (RegionClock). */
      now(): number;
      log: Pick<Logger, 'debug'>;
    },
  ) {}

  /**
   * Takes a signed TokenRequest's nonce as used (GatewayServices.useNonce) until `until`:
   * here first, so a replay to this node is refused without asking, then at the nodes the
   * ring makes its keepers, each told the time left (it reads it on its own clock). False
   * if any of them had it. A keeper that does not answer in time (gone, cut off, too busy)
   * is passed over: where none answers, the nonce is kept here only, as every node kept
   * its own before the forty-second session, and a replay to another node may be taken.
   */
  async use(key: string, until: number): Promise<boolean> {
    const now = this.d.now();
    if (!this.nonces.use(key, until, now)) return false;
    const keepers = this.d
      .ring()
      .preference(`nonce:${key}`, KEEPERS)
      .filter((n) => n !== this.d.self);
    const forMs = Math.max(0, until - now);
    const answers = await Promise.all(keepers.map((keeper) => this.ask(keeper, key, forMs)));
    return !answers.includes('used');
  }

  /** One keeper's word on a nonce: 'taken' (it had not seen it), 'used', or 'none' (no answer in time). */
  private async ask(keeper: NodeId, key: string, forMs: number): Promise<'taken' | 'used' | 'none'> {
    try {
      const reply = await this.d.rpc.request(keeper, { type: 'nonce', key, forMs }, ASK_TIMEOUT_MS);
      if (reply.kind === 'ok') return 'taken';
      if (reply.kind === 'error' && reply.error.code === 40105) return 'used';
      this.d.log.debug({ keeper, reply }, "a nonce's keeper gave no word on it");
    } catch (err) {
      this.d.log.debug({ keeper, err: (err as Error).message }, "a nonce's keeper did not answer");
    }
    return 'none';
  }

  /** The keeper's answer to another node's NonceRequest. */
  answer(msg: NonceRequest): ReplyBody {
    const now = this.d.now();
    return this.nonces.use(msg.key, now + msg.forMs, now) ? { kind: 'ok' } : { kind: 'error', error: toErrorInfo(AblyError.of('nonceReplayed')) };
  }
}
