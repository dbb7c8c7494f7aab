/**
 * Reaches a channel's master from any node: looks the owner up in the ring, follows
 * redirects while views of the ring converge, and retries when the master dies, until a
 * deadline. Retrying is safe: publishes carry message ids the master deduplicates, and
 * the other requests are reads or idempotent.
 */
import { AblyError } from '../errors.js';
import type { Ring } from '../cluster/ring.js';
import type { NodeId, ReplyBody } from '../transport/messages.js';
import type { RequestBody, Rpc } from '../transport/rpc.js';
import type { ChannelKey } from './entry.js';
import { sleep } from '../clock.js';

/**
 * Pause before asking again after a redirect or a failed attempt, doubling up to the
 * maximum: views of the ring converge within a heartbeat or two, and a node whose
 * channels all resubscribe at once (after a reset) would otherwise send each request
 * forty times a second while a master has not yet seen it come back.
 */
const RETRY_DELAY_MS = 25;
const MAX_RETRY_DELAY_MS = 100;
/** One attempt waits at most this long for the master's reply. */
const ATTEMPT_TIMEOUT_MS = 5000;
/**
 * A subscribe unanswered this long is sent once more, and the first answer to either is
 * taken: its channel client holds back every broadcast until it is answered, so a lost
 * one cost the attempt's 5 s (chaos seed 3307). A master asks nothing of a subscribe it
 * has (a set of nodes); one that takes longer (a claim, up to 7 s) gets two, not one a second.
 */
const RESEND_AFTER_MS: Partial<Record<RequestBody['type'], number>> = { sub: 1000 };

export interface RouterDeps {
  rpc: Rpc;
  ring(): Ring;
  /** For deadlines: a clock no step of the wall clock moves (node.ts gives the monotonic clock). */
  now(): number;
}

export type ChannelReply = Exclude<ReplyBody, { kind: 'redirect' } | { kind: 'error' } | { kind: 'retry' }>;

export class ChannelRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** The node currently owning a channel in this node's view. */
  ownerOf(key: ChannelKey): NodeId | null {
    return this.deps.ring().owner(key);
  }

  /**
   * Sends a request to the channel's master and returns its answer; throws the master's
   * error, or 90007 when no master answered before the deadline, or when `wanted` says
   * before an attempt that the answer is no longer wanted.
   */
  async call(
    key: ChannelKey,
    req: RequestBody,
    timeoutMs: number,
    wanted?: () => boolean,
  ): Promise<{ from: NodeId; body: ChannelReply }> {
    const deadline = this.deps.now() + timeoutMs;
    let last = 'no master in the ring';
    let delay = RETRY_DELAY_MS;
    const pause = (): Promise<void> => {
      const p = sleep(delay);
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      return p;
    };
    for (;;) {
      const remaining = deadline - this.deps.now();
      if (remaining <= 0) throw AblyError.of('channelNoResponse', last);
      if (wanted && !wanted()) throw AblyError.of('channelNoResponse', `no longer wanted (${last})`);
      const owner = this.ownerOf(key);
      if (owner === null) {
        await pause();
        continue;
      }
      let body: ReplyBody;
      try {
        body = await this.attempt(owner, req, Math.min(remaining, ATTEMPT_TIMEOUT_MS));
      } catch (err) {
        last = (err as Error).message;
        await pause();
        continue;
      }
      if (body.kind === 'redirect' || body.kind === 'retry') {
        last = body.kind === 'retry' ? body.reason : `${owner} is not the master (it says ${body.owner ?? 'none'})`;
        await pause();
        continue;
      }
      if (body.kind === 'error') throw AblyError.fromInfo(body.error);
      return { from: owner, body };
    }
  }

  /** One attempt: the request, and for a subscribe the same again if it is not answered soon (RESEND_AFTER_MS); the first answer. */
  private attempt(owner: NodeId, req: RequestBody, timeoutMs: number): Promise<ReplyBody> {
    const first = this.deps.rpc.request(owner, req, timeoutMs);
    const after = RESEND_AFTER_MS[req.type];
    if (after === undefined || after >= timeoutMs) return first;
    return new Promise((resolve, reject) => {
      /** Requests sent and not yet failed: the attempt fails when none is left. */
      let open = 1;
      const fail = (err: unknown) => {
        if (--open > 0) return;
        clearTimeout(timer);
        reject(err);
      };
      const timer = setTimeout(() => {
        open++;
        this.deps.rpc.request(owner, req, timeoutMs - after).then(resolve, fail);
      }, after);
      first.then((body) => {
        clearTimeout(timer);
        resolve(body);
      }, fail);
    });
  }
}
