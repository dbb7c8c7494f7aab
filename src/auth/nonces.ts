/**
 * The nonces of signed TokenRequests already used, each kept until its request could no
 * longer be taken (its timestamp plus the window). One node of the region keeps a nonce:
 * the ring's owner of `nonce:KEYNAME:NONCE`, which every node asks (NonceKeeper.use), so a
 * TokenRequest replayed to another node of the region is refused too.
 */
import type { Ring } from '../cluster/ring.js';
import { AblyError, toErrorInfo } from '../errors.js';
import type { Logger } from '../log.js';
import type { NodeId, NonceRequest, ReplyBody } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';

/** How long a node waits for a nonce's keeper before it keeps the nonce itself (ms). */
const ASK_TIMEOUT_MS = 2000;

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
  /** The nonces this node keeps: those the ring gives it, or whose keeper did not answer. */
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
   * Takes a signed TokenRequest's nonce as used, at the node the ring makes its keeper
   * (GatewayServices.useNonce), for the time left until `until` (the keeper reads it on
   * its own clock). Where that node does not answer in time (gone, cut off, too busy),
   * this node keeps it, as every node did before the forty-second session: a replay to
   * this node is still refused (it looks here first), one to another may not be.
   */
  async use(key: string, until: number): Promise<boolean> {
    const now = this.d.now();
    if (this.nonces.used(key, now)) return false;
    const keeper = this.d.ring().owner(`nonce:${key}`);
    if (keeper && keeper !== this.d.self) {
      try {
        const reply = await this.d.rpc.request(keeper, { type: 'nonce', key, forMs: Math.max(0, until - now) }, ASK_TIMEOUT_MS);
        if (reply.kind === 'ok') return true;
        if (reply.kind === 'error' && reply.error.code === 40105) return false;
      } catch (err) {
        this.d.log.debug({ keeper, err: (err as Error).message }, "a nonce's keeper did not answer; kept here");
      }
    }
    return this.nonces.use(key, until, this.d.now());
  }

  /** The keeper's answer to another node's NonceRequest. */
  answer(msg: NonceRequest): ReplyBody {
    const now = this.d.now();
    return this.nonces.use(msg.key, now + msg.forMs, now) ? { kind: 'ok' } : { kind: 'error', error: toErrorInfo(AblyError.of('nonceReplayed')) };
  }
}
