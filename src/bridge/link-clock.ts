/**
 * How far a peer region's wall clock is from ours, measured over the link between the
 * globalmasters, as NTP does. Times a region sends are of its own clock: when its
 * interest in a channel began (from which the channel's master here reads the start of
 * its stream there), and the `since` of its replay asks. Read against our clock as they
 * are, a region whose clock is ahead of ours by more than the start's margin (2 s) would
 * get a start that stops short of its interest and lose what was published while word of
 * it was on the way; one behind would get messages from well before it subscribed.
 *
 * Each ping carries the sender's clock (`at`) and the last ping it had from us (`echoAt`,
 * ours) with how long it held it. With T1 our ping's `at`, T2 = T3 − held when the peer
 * had it, T3 the peer's `at`, T4 our clock now: the round trip is T4 − T1 − held and the
 * offset ((T2 − T1) + (T3 − T4)) / 2, off by at most half the round trip's asymmetry.
 * The sample with the shortest round trip of the last few is taken (NTP's clock filter):
 * a round trip stretched by a queue says least. Until a ping has measured it, the peer's
 * hello gives a first value, off by the hello's one-way delay (each end says hello once
 * the connection is there: the dialler answers the other's hello). Both ends ping as soon
 * as they have the other's hello, and answer the first ping at once, so a link has its
 * first measure within about a round trip and a half.
 *
 * Wall-clock times come from `Date.now()`; round trips and how long a ping was held come
 * from the monotonic clock, so a step of our wall clock mid-ping spoils no sample (one of
 * the peer's spoils one). A sample is off by at most half its round trip, so two samples
 * that disagree by more than half their round trips together measured clocks of which
 * one stepped between them (NTP set ours or the peer's forward or back): the older samples
 * measured a clock that is no more, and go. (Before the forty-second session the shortest
 * round trip of the last eight could be from before a step, and said the old offset for
 * up to eight pings.)
 */

/** Samples kept: a few seconds of pings (LINK_PING_MS each way). */
const SAMPLES = 8;
/** A round trip longer than this (ms) says nothing worth keeping (a stall, a clock step). */
const MAX_RTT_MS = 10_000;
/**
 * What two samples of unstepped clocks may disagree by beyond their round trips' bound:
 * drift, ms rounding, and a region time's way of going a little slower between the
 * heartbeats that keep it with its region's furthest-on clock (RegionClock's SLEW, up to
 * 50 ms). A step under it moves nothing the offset is used for (re-told past 250 ms).
 */
const STEP_SLACK_MS = 250;

export interface ClockPing {
  at: number;
  echoAt: number;
  echoHeldMs: number;
}

/** What `/health` says of a link's clock measure. */
export interface ClockStatus {
  /** The peer region's clock minus ours (ms). */
  offsetMs: number;
  /** The round trip of the sample it comes from (ms); null: the hello's first value. */
  rttMs: number | null;
  samples: number;
}

export class LinkClock {
  /** The last ping from the peer: its `at`, and when we had it (monotonic ms). */
  private lastIn: { at: number; mono: number } | null = null;
  /** Whether a ping of ours has echoed one of the peer's yet. */
  private echoed = false;
  private readonly samples: { offset: number; rtt: number }[] = [];
  private fromHello: number | null = null;
  /** Our last pings: their `at`, and when we sent them (monotonic ms). */
  private readonly sent: { at: number; mono: number }[] = [];

  /** The peer's hello said its clock was `peerNow` as it sent it; ours is `now` as we read it. */
  hello(peerNow: number, now: number): void {
    if (peerNow > 0) this.fromHello = peerNow - now;
  }

  /** The fields of a ping we send now (wall clock `now`, monotonic `mono`). */
  ping(now: number, mono: number): ClockPing {
    this.sent.push({ at: now, mono });
    if (this.sent.length > SAMPLES) this.sent.shift();
    if (!this.lastIn) return { at: now, echoAt: 0, echoHeldMs: 0 };
    this.echoed = true;
    return { at: now, echoAt: this.lastIn.at, echoHeldMs: Math.max(0, Math.round(mono - this.lastIn.mono)) };
  }

  /**
   * The peer's first ping (with a clock) came and no ping of ours has echoed it: answered
   * at once, it gives the peer its first measure within a round trip of the link coming
   * up, not a ping period later.
   */
  owesEcho(): boolean {
    return this.lastIn !== null && !this.echoed;
  }

  /** A ping from the peer, had at our wall clock `now` and monotonic `mono`. */
  pinged(p: ClockPing, now: number, mono: number): void {
    if (p.at <= 0) return; // an older build: no clock
    this.lastIn = { at: p.at, mono };
    if (p.echoAt <= 0) return;
    // The round trip on the monotonic clock, and T1 on the wall clock as it reads now: a
    // step of our wall clock between T1 and T4 spoils nothing. (A ping of ours not among
    // the last few: no sample.)
    const ours = this.sent.find((x) => x.at === p.echoAt);
    if (!ours) return;
    const rtt = mono - ours.mono - p.echoHeldMs;
    if (rtt < 0 || rtt > MAX_RTT_MS) return;
    const t1 = now - (mono - ours.mono);
    const offset = (p.at - p.echoHeldMs - t1 + (p.at - now)) / 2;
    if (this.samples.some((s) => Math.abs(s.offset - offset) > (s.rtt + rtt) / 2 + STEP_SLACK_MS)) this.samples.length = 0;
    this.samples.push({ offset, rtt });
    if (this.samples.length > SAMPLES) this.samples.shift();
  }

  /** The peer's clock minus ours (ms), or null while nothing has measured it. */
  offsetMs(): number | null {
    return this.best()?.offset ?? this.fromHello;
  }

  status(): ClockStatus | null {
    const offset = this.offsetMs();
    return offset === null ? null : { offsetMs: Math.round(offset), rttMs: this.best()?.rtt ?? null, samples: this.samples.length };
  }

  private best(): { offset: number; rtt: number } | undefined {
    let b: { offset: number; rtt: number } | undefined;
    for (const s of this.samples) if (!b || s.rtt < b.rtt) b = s;
    return b;
  }
}
