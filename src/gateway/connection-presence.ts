/**
 * One realtime connection's presence members, as the node it is on knows them: the
 * channels where it entered clients, and what the node tells those channels' masters
 * (holds): its members stay (back after a resume), leave after the grace period (its
 * transport dropped) or leave now (the client closed, or detached the channel).
 */
import type { PresenceMessage } from '../protocol/message.js';
import { PresenceAction } from '../protocol/actions.js';
import type { GatewayServices } from './services.js';

export class ConnectionPresence {
  /** Channels (keys) where this connection has presence members, with their clientIds. */
  private readonly entered = new Map<string, Set<string>>();
  /**
   * Channels where, after a resume, the connection's members were told it is back. They
   * are told it has gone too, when it goes: an SDK that did not enter its members again
   * here (the Ably SDKs do, RTP17i) would otherwise leave them in the set for good.
   */
  private readonly backOn = new Set<string>();
  /** Per channel, while operations sent there are unanswered: settled once every one of them is. */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Per channel, the last hold sent (or waiting to be), until it is answered. */
  private readonly holds = new Map<string, Promise<void>>();

  /** The connection's version here (GatewayServices.connections.opened), said with every hold. */
  since = 0;

  /** `resumed`: the connection came back (here or from another node), with members the node has not seen entered. */
  constructor(
    private readonly connectionId: string,
    private readonly resumed: boolean,
    private readonly services: GatewayServices,
  ) {}

  /** The channels this connection has presence members on, entered here or back here after a resume. */
  channels(): string[] {
    const out = new Set(this.backOn);
    for (const [key, clients] of this.entered) if (clients.size) out.add(key);
    return [...out];
  }

  /**
   * Sends presence operations (`send`) on a channel and, once they are ordered, counts
   * their members. A hold sent before them (a DETACH's leave) is answered first: ops and
   * holds go to the master by different paths, and an enter that overtook the leave
   * would be taken away by it.
   */
  op(key: string, ops: readonly PresenceMessage[], send: () => Promise<void>): Promise<void> {
    // Sent now where no hold waits: in order with the connection's publishes read in the same turn.
    const hold = this.holds.get(key);
    const p = (hold ? hold.then(send) : send()).then(() => this.applied(key, ops));
    this.chain(this.inFlight, key, Promise.allSettled([this.inFlight.get(key), p]));
    return p;
  }

  private applied(key: string, ops: readonly PresenceMessage[]): void {
    let set = this.entered.get(key);
    if (!set) this.entered.set(key, (set = new Set()));
    for (const op of ops) {
      if (op.action === PresenceAction.LEAVE) set.delete(op.clientId);
      else set.add(op.clientId);
    }
  }

  /** A channel attached: back after a resume, the members this connection left behind there stay. */
  attached(key: string): void {
    if (!this.resumed || this.backOn.has(key)) return;
    this.backOn.add(key);
    this.holdAfterOps(key, () => [null, false]);
  }

  /** A channel detached: its members leave now, those of operations still unanswered too. */
  detached(key: string): void {
    this.holdAfterOps(key, () => (this.forget(key) ? [0, true] : null));
  }

  /**
   * The transport is gone: members stay for the grace period, in case the connection
   * resumes (here or on another node); after the client's CLOSE they leave now. Members
   * of operations still unanswered are counted once they are. A connection another node
   * took over (`superseded`) says the same as one lost, under its version here: where the
   * node it went to has spoken for its members (its version is greater) the master ignores
   * it, and where it has not (the client went before attaching there again, or the resume
   * there failed) they leave after the grace period instead of staying for good.
   */
  transportClosed(closedByClient: boolean): void {
    const leaveInMs = closedByClient ? 0 : this.services.limits.presenceLeaveDelayMs;
    for (const key of new Set([...this.entered.keys(), ...this.inFlight.keys(), ...this.backOn])) {
      this.holdAfterOps(key, () => (this.forget(key) ? [leaveInMs, closedByClient] : null));
    }
  }

  /** Forgets a channel's members: whether there were any (or may be, back after a resume). */
  private forget(key: string): boolean {
    const had = !!this.entered.get(key)?.size || this.backOn.has(key);
    this.entered.delete(key);
    this.backOn.delete(key);
    return had;
  }

  /**
   * Sends a hold on a channel once the operations sent there and the hold before it are
   * answered, as `decide` then says ([leaveInMs, atOnce]; null: none).
   */
  private holdAfterOps(key: string, decide: () => [number | null, boolean] | null): void {
    const p = Promise.allSettled([this.inFlight.get(key), this.holds.get(key)]).then(() => {
      const d = decide();
      return d ? this.hold(key, d[0], d[1]) : undefined;
    });
    this.chain(this.holds, key, p);
  }

  /** Keeps `p` as the channel's last in `map` until it settles (neither rejects). */
  private chain<T>(map: Map<string, Promise<T>>, key: string, p: Promise<T>): void {
    map.set(key, p);
    void p.then(() => {
      if (map.get(key) === p) map.delete(key);
    });
  }

  private hold(key: string, leaveInMs: number | null, atOnce: boolean): Promise<void> {
    this.services.log.debug({ connectionId: this.connectionId, channel: key, leaveInMs, atOnce, since: this.since }, 'presence hold sent');
    return this.services.hold(key, this.connectionId, leaveInMs, this.since, atOnce).catch((err) =>
      this.services.log.warn({ connectionId: this.connectionId, channel: key, err: (err as Error).message }, 'presence hold failed'),
    );
  }
}
