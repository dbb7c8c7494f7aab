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

  /** The connection's version here (GatewayServices.connections.opened), said with every hold. */
  since = 0;

  /** `resumed`: the connection came back (here or from another node), with members the node has not seen entered. */
  constructor(
    private readonly connectionId: string,
    private readonly resumed: boolean,
    private readonly services: GatewayServices,
  ) {}

  /** The channels this connection has presence members on. */
  channels(): string[] {
    const out: string[] = [];
    for (const [key, clients] of this.entered) if (clients.size) out.push(key);
    return out;
  }

  /** Presence operations of this connection were ordered on a channel. */
  applied(key: string, ops: readonly PresenceMessage[]): void {
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
    this.hold(key, null);
  }

  /** A channel detached: its members leave now. */
  detached(key: string): void {
    const had = !!this.entered.get(key)?.size || this.backOn.has(key);
    this.entered.delete(key);
    this.backOn.delete(key);
    if (had) this.hold(key, 0, true);
  }

  /**
   * The transport is gone: members stay for the grace period, in case the connection
   * resumes (here or on another node); after the client's CLOSE they leave now. Nothing
   * is said of a connection another node took over (`quietly`).
   */
  transportClosed(closedByClient: boolean, quietly: boolean): void {
    if (!quietly) {
      const leaveInMs = closedByClient ? 0 : this.services.limits.presenceLeaveDelayMs;
      for (const key of this.backOn) this.hold(key, leaveInMs, closedByClient);
      for (const [key, clients] of this.entered) if (clients.size && !this.backOn.has(key)) this.hold(key, leaveInMs, closedByClient);
    }
    this.entered.clear();
    this.backOn.clear();
  }

  private hold(key: string, leaveInMs: number | null, atOnce = false): void {
    this.services.log.debug({ connectionId: this.connectionId, channel: key, leaveInMs, atOnce, since: this.since }, 'presence hold sent');
    this.services.hold(key, this.connectionId, leaveInMs, this.since, atOnce).catch((err) =>
      this.services.log.warn({ connectionId: this.connectionId, channel: key, err: (err as Error).message }, 'presence hold failed'),
    );
  }
}
