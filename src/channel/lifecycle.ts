/**
 * Channel lifecycle events (Ably's `[meta]channel.lifecycle` metachannel): each app's
 * channels becoming active or inactive, in a region and in the whole deployment.
 *
 * - `channel.region.active` / `channel.region.inactive`: made by the channel's master in
 *   each region. The channel is active in a region while the region has attachments to it
 *   (the master has subscribing nodes: its interest, channel-interest.ts); it is inactive
 *   once it has had none for `limits.channelInactiveDelayMs` (Ably: "approximately one
 *   minute"), so a client that detaches and attaches again within it changes nothing.
 * - `channel.opened` / `channel.closed`: made by the channel's master in its home region
 *   (homeRegion: one region per channel, the same for every region), which knows this
 *   region's interest and every other region's (the globalmaster tells it). A home region
 *   with no attachments of its own takes the channel's mastership when another region's
 *   interest is told (registry.ts), so it is there to tell.
 *
 * Each event is published to the app's metachannel like a REST publish, so it is ordered,
 * replicated, kept in history and sent to other regions like any message. What was
 * announced (the start of the region's activity announced, and of the deployment's, not
 * yet ended) is part of the channel's state, replicated with it (ChannelInterest), so a
 * master that takes the channel over after a failure neither announces again what its
 * predecessor did nor leaves unsaid an end that was pending. Each event's id is made from
 * what it announces (the start of that activity), so one made twice (a master that failed
 * after publishing and before its replica heard, or a retry) is dropped by the
 * metachannel's dedup window.
 */
import { createHash } from 'node:crypto';
import type { ChannelKey } from './entry.js';
import { splitChannelKey } from './entry.js';
import { sameAnnounced, type Announced, type ChannelInterest } from './channel-interest.js';
import { channelMetrics, noAttachments, type ChannelMetrics } from './occupancy.js';
import type { Occupancy } from '../transport/messages.js';
import type { Message } from '../protocol/message.js';
import type { ChannelRegistry } from './registry.js';
import type { Logger } from '../log.js';

/** The metachannel's name (an app's channel key is `<appId>:` before it). */
export const LIFECYCLE_CHANNEL = '[meta]channel.lifecycle';

/** Whether a channel name is a metachannel's (`[meta]…`): none has lifecycle events of its own, and none can be published to. */
export const isMetaChannel = (name: string): boolean => name.startsWith('[meta]');

/** The metachannel a channel's events go to: its app's. */
export const lifecycleKeyOf = (key: ChannelKey): ChannelKey => `${splitChannelKey(key).appId}:${LIFECYCLE_CHANNEL}`;

export type LifecycleEventName = 'channel.opened' | 'channel.closed' | 'channel.region.active' | 'channel.region.inactive';

/** Ably's ChannelDetails, the data of every event. */
export interface ChannelDetails {
  channelId: string;
  region?: string;
  isGlobalMaster?: boolean;
  status: { isActive: boolean; occupancy: { metrics: ChannelMetrics } };
}

/**
 * The home region of a channel: the one, of all the deployment's regions, whose hash with
 * the channel's key is highest (rendezvous hashing), so every region names the same one
 * and only the channels homed in a region move when regions are added.
 */
export function homeRegion(key: ChannelKey, regions: readonly string[]): string {
  let best = '';
  let bestHash = -1n;
  for (const r of regions) {
    const h = createHash('sha256').update(r).update('\0').update(key).digest().readBigUInt64BE(0);
    if (h > bestHash || (h === bestHash && r < best)) {
      best = r;
      bestHash = h;
    }
  }
  return best;
}

/** An event's message id: the same wherever and however often the same activity's event is made. */
export function lifecycleEventId(key: ChannelKey, name: LifecycleEventName, region: string, since: number): string {
  const channel = createHash('sha256').update(key).digest('base64url').slice(0, 22);
  return `lifecycle:${channel}:${region}:${since}:${name}`;
}

/** The message that carries an event (data as JSON text with encoding `json`, as Ably sends an object). */
export function lifecycleMessage(key: ChannelKey, name: LifecycleEventName, region: string, since: number, details: ChannelDetails, timestamp: number): Message {
  return { id: lifecycleEventId(key, name, region, since), name, timestamp, data: JSON.stringify(details), encoding: 'json' };
}

export interface LifecycleDeps {
  /** This region's name. */
  region: string;
  /** Whether this region is the channel's home (it makes channel.opened and channel.closed). */
  home: boolean;
  /** How long a channel has no attachments before it is inactive (ms). */
  delayMs: number;
  /** The wall clock (events' timestamps, and the start an activity is told under). */
  now(): number;
  /** A clock for durations (the delay). */
  elapsed(): number;
  /** Publishes events to the metachannel; rejects if they may not have been taken (they are published again, with the same ids). */
  publish(messages: Message[]): Promise<void>;
  /** The region's counts of the channel's attachments and every region's this master holds (null: none reported yet), and its presence members. */
  counts(): { local: Occupancy; total: Occupancy; members: number } | null;
  /** What was announced changed: resolves once the replica holds it (rejects if it may not). */
  changed(): Promise<void>;
}

/** An activity's first event waits this long at most for the counts of the nodes that attached (they report within an occupancy interval). */
export const COUNTS_WAIT_MS = 1500;
/** A publish that failed is tried again after this long. */
export const RETRY_MS = 1000;
/** That an event was told reaches the replica within this long (replicateTold). */
export const TOLD_REPLICATED_WITHIN_MS = 1000;

/** Announced.untold's bits: the region's start, the deployment's; the region's end, the deployment's. */
const REGION = 1;
const GLOBAL = 2;
const REGION_END = 4;
const GLOBAL_END = 8;

/** The region's activity and the deployment's: their fields in Announced and bits in its `untold`. */
type Scope = 'region' | 'global';
const SCOPES = {
  region: { start: 'region', ended: 'regionEnded', told: REGION, end: REGION_END },
  global: { start: 'global', ended: 'globalEnded', told: GLOBAL, end: GLOBAL_END },
} as const;

/**
 * How far a copy's announced state got, for choosing between copies as new as each other
 * (claim.ts newer: lifecycle-only replications leave term and serial as they were): per
 * scope, the latest start (of the activity or of the one that ended), then its step (1
 * start untold, 2 told, 3 end untold, 4 told). One master's replications only move it on.
 */
export function announcedProgress(a: Announced): number[] {
  return (['region', 'global'] as const).flatMap((scope) => {
    const { start, ended, told, end } = SCOPES[scope];
    const latest = Math.max(a[start], a[ended]);
    const step = a[start] !== 0 ? (a.untold & told ? 1 : 2) : a.untold & end ? 3 : 4;
    return [latest, step];
  });
}

/** Whether announced state a got further than b (announcedProgress, the region's first). */
export function announcedAhead(a: Announced, b: Announced): boolean {
  const x = announcedProgress(a);
  const y = announcedProgress(b);
  const i = x.findIndex((v, j) => v !== y[j]);
  return i >= 0 && x[i]! > y[i]!;
}

/** A start told under `wall`, after the end of the one before it (ids must differ). */
const startAfter = (wall: number, ended: number): number => (wall > ended ? wall : ended + 1);

/**
 * A channel master's lifecycle events. Every change is written ahead: the state that says
 * what is to be told (a start not yet told, an end decided) reaches the replica before the
 * events are published, and is cleared once they are taken. A master that takes the
 * channel over finds in its state whatever its predecessor may not have told, and tells it
 * again under the same ids (the metachannel's dedup window drops what was taken already).
 */
export class ChannelLifecycle {
  private readonly channelId: string;
  /** Since when (deps.elapsed) the region, and the deployment, have had no attachments with an activity announced. */
  private readonly quiet: Record<Scope, number | null> = { region: null, global: null };
  /** Since when an activity's first event has waited for counts. */
  private countsWait: number | null = null;
  /** The counts an activity's first events are told with (kept while they are tried again). */
  private startCounts: { local: Occupancy; total: Occupancy; members: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Until what was told goes to the replica (replicateTold). */
  private toldTimer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly key: ChannelKey,
    private readonly interest: ChannelInterest,
    private readonly deps: LifecycleDeps,
    /** Whether the region has attachments now (the master's subscribing nodes). */
    private readonly attached: () => boolean,
  ) {
    this.channelId = splitChannelKey(key).name;
  }

  /** Something it depends on changed (attachments here or elsewhere, or the master was just made): events are made where due. */
  reconcile(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const a = this.interest.announced;
    const now = this.deps.elapsed();
    const here = this.attached();
    const anywhere = here || this.interest.remote.size > 0;
    const next: Announced = { ...a };

    // A start waits for the end before it to be told (their order), and is told under a later start (ids differ).
    const starts = here && a.region === 0 && !(a.untold & REGION_END);
    const opens = this.deps.home && anywhere && a.global === 0 && !(a.untold & GLOBAL_END);
    if (starts || opens) {
      const counts = this.deps.counts();
      // Only this region's attachments are waited for (another region's counts come only where watched).
      if (counts === null && here) {
        // The first node's report calls again (counted); this is for none coming.
        this.countsWait ??= now;
        if (now - this.countsWait < COUNTS_WAIT_MS) {
          this.schedule(COUNTS_WAIT_MS - (now - this.countsWait));
          return;
        }
      }
      this.countsWait = null;
      this.startCounts = counts;
    }
    const wall = this.deps.now();
    if (!this.deps.home && (a.global !== 0 || a.untold & (GLOBAL | GLOBAL_END))) {
      // Another region is the channel's home now (the deployment's regions changed): it tells the deployment's activity.
      next.global = 0;
      next.untold &= ~(GLOBAL | GLOBAL_END);
    }
    if (opens) {
      next.global = startAfter(wall, a.globalEnded);
      next.untold |= GLOBAL;
    }
    if (starts) {
      next.region = startAfter(wall, a.regionEnded);
      next.untold |= REGION;
    }
    const regionWake = this.ending('region', !here, a, next, now);
    const globalWake = this.ending('global', !anywhere && this.deps.home, a, next, now);
    const wake = Math.min(regionWake, globalWake);
    if (wake !== Infinity) this.schedule(Math.max(0, wake - now));
    const written = sameAnnounced(next, a) ? Promise.resolve() : (this.interest.setAnnounced(next), this.deps.changed());
    const due = this.untold(next, wall);
    if (due.length) this.tell(written, due, next);
    else void written.catch(() => undefined);
  }

  /** The channel's occupancy board has its first count of the region's attachments: an activity's first events waiting for it go. */
  counted(): void {
    if (this.countsWait !== null) this.reconcile();
  }

  /**
   * A scope's activity, told and without attachments (`idle`) since the delay began: ended
   * in `next` once the delay is over (an end written ahead, to be told), else when it will
   * be (Infinity: nothing to wait for). Attachments back before then: nothing.
   */
  private ending(scope: Scope, idle: boolean, a: Announced, next: Announced, now: number): number {
    const { start, end, told, ended } = SCOPES[scope];
    if (!idle || a[start] === 0 || a.untold & told) {
      if (!idle) this.quiet[scope] = null;
      return Infinity;
    }
    const since = (this.quiet[scope] ??= now);
    if (now < since + this.deps.delayMs) return since + this.deps.delayMs;
    next[ended] = a[start];
    next[start] = 0;
    next.untold |= end;
    this.quiet[scope] = null;
    return Infinity;
  }

  /** The master stops (it moves, or the node stops): nothing more is made here; what is pending is its successor's. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.toldTimer) clearTimeout(this.toldTimer);
    this.timer = this.toldTimer = null;
  }

  /**
   * Whether it has an event on the way, one to make later, one not yet told, or what was
   * told not yet at the replica (the master is kept until it is done: a replica left
   * holding an untold event would tell it again, as a master it became, long after).
   */
  get busy(): boolean {
    return this.inFlight || this.timer !== null || this.toldTimer !== null || this.interest.announced.untold !== 0;
  }

  /**
   * What was told goes to the replica with the channel's next replication, or by one of its
   * own TOLD_REPLICATED_WITHIN_MS later if none came (a successor meanwhile tells it again,
   * under the same ids, well within the dedup window). A channel attached and then
   * published to, as most are, makes one replication for its start, not two.
   */
  private replicateTold(): void {
    if (this.toldTimer) return;
    this.toldTimer = setTimeout(() => {
      this.toldTimer = null;
      if (!this.stopped && this.interest.hasMoved) void this.deps.changed().catch(() => undefined);
    }, TOLD_REPLICATED_WITHIN_MS);
    this.toldTimer.unref();
  }

  /** The events `a` says are not yet told, in the order they are told: ends, then starts. */
  private untold(a: Announced, wall: number): Message[] {
    const zero = channelMetrics(noAttachments(), 0);
    const counts = this.startCounts ?? { local: noAttachments(), total: noAttachments(), members: 0 };
    const out: Message[] = [];
    if (a.untold & REGION_END) out.push(this.message('channel.region.inactive', a.regionEnded, false, zero, wall, true));
    if (a.untold & GLOBAL_END) out.push(this.message('channel.closed', a.globalEnded, false, zero, wall));
    if (a.untold & GLOBAL && a.global) out.push(this.message('channel.opened', a.global, true, channelMetrics(counts.total, counts.members), wall));
    if (a.untold & REGION && a.region) out.push(this.message('channel.region.active', a.region, true, channelMetrics(counts.local, counts.members), wall, true));
    return out;
  }

  private message(name: LifecycleEventName, since: number, isActive: boolean, metrics: ChannelMetrics, wall: number, regional = false): Message {
    const details: ChannelDetails = {
      channelId: this.channelId,
      ...(regional ? { region: this.deps.region, isGlobalMaster: this.deps.home } : {}),
      status: { isActive, occupancy: { metrics } },
    };
    return lifecycleMessage(this.key, name, this.deps.region, since, details, wall);
  }

  /** Publishes `due` (what `told` says is untold) once the replica holds `told`, then clears what was told. */
  private tell(written: Promise<void>, due: Message[], told: Announced): void {
    this.inFlight = true;
    written
      .then(() => {
        if (this.stopped) throw new Error('stopped');
        return this.deps.publish(due);
      })
      .then(
        () => {
          if (this.stopped) return;
          // Cleared only where still what was told (reconcile may not have changed it meanwhile: it waits for this).
          const a = this.interest.announced;
          const next: Announced = { ...a };
          if (a.regionEnded === told.regionEnded) next.untold &= ~(told.untold & REGION_END);
          if (a.globalEnded === told.globalEnded) next.untold &= ~(told.untold & GLOBAL_END);
          if (a.region === told.region) next.untold &= ~(told.untold & REGION);
          if (a.global === told.global) next.untold &= ~(told.untold & GLOBAL);
          this.startCounts = null;
          if (!sameAnnounced(next, a)) {
            this.interest.setAnnounced(next);
            this.replicateTold();
          }
          this.again = true;
        },
        () => {
          // Told again (with the same ids) a little later, not at once on a change meanwhile.
          this.again = false;
          if (!this.stopped) this.schedule(RETRY_MS);
        },
      )
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.reconcile();
        }
      });
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reconcile();
    }, ms);
    this.timer.unref();
  }
}

/** Home-region claims (takeHome) under way at once at most: a region coming back is told of every channel the others want. */
export const HOME_TAKES_AT_ONCE = 16;

/**
 * The channel's home region tells its opening and closing: it takes the mastership of a
 * channel only other regions have attachments to, when their interest is told (the
 * globalmaster's full audits tell it again where this did not make a master: a claim that
 * failed, a ring that moved meanwhile). At most HOME_TAKES_AT_ONCE claims at once; a
 * channel told again while it waits is claimed once, with the latest word.
 */
export class HomeTakes {
  private running = 0;
  private readonly waiting = new Map<ChannelKey, { regions: { region: string; since: number }[]; keep?: string[] }>();

  constructor(
    private readonly reg: Pick<ChannelRegistry, 'acquire' | 'holding' | 'setRemoteInterest'>,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  take(channel: ChannelKey, regions: { region: string; since: number }[], keep?: string[]): void {
    this.waiting.set(channel, { regions, ...(keep ? { keep } : {}) });
    this.pump();
  }

  private pump(): void {
    while (this.running < HOME_TAKES_AT_ONCE && this.waiting.size) {
      const [channel, w] = this.waiting.entries().next().value!;
      this.waiting.delete(channel);
      this.running++;
      void this.reg
        .acquire(channel)
        .then((a) => {
          const h = this.reg.holding(channel);
          if ('ok' in a && !a.ok.isStopped && h?.role === 'master' && h.master === a.ok) this.reg.setRemoteInterest(channel, w.regions, w.keep);
          // Not taken (a claim that failed, a ring that moved): the globalmaster's next full audit tells it again.
          else if (!('ok' in a)) this.log.warn({ channel, redirect: a.redirect, err: a.error?.message }, 'the home region could not take a channel other regions attach to');
        })
        .catch((err: unknown) => this.log.warn({ channel, err: String(err) }, 'the home region could not take a channel other regions attach to'))
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
