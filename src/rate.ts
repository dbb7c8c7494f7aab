/**
 * A token bucket: `ratePerS` tokens per second, holding at most one second's worth, so a
 * client may burst up to its rate and then keep to it.
 */
export class RateLimiter {
  private tokens: number;
  private last: number | null = null;

  constructor(private readonly ratePerS: number) {
    this.tokens = ratePerS;
  }

  /** Takes `n` tokens if there are enough; `now` in ms, of the monotonic clock (callers give GatewayServices.monotonic, MasterDeps.monotonic). */
  take(n: number, now: number): boolean {
    // A clock that steps backwards refills nothing (and takes nothing away).
    if (this.last !== null && now > this.last) {
      this.tokens = Math.min(this.ratePerS, this.tokens + ((now - this.last) / 1000) * this.ratePerS);
    }
    if (this.last === null || now > this.last) this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}
