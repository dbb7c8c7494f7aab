/**
 * The nonces of signed TokenRequests already used, each kept until its request could no
 * longer be taken (its timestamp plus the window). One node of the region keeps a nonce:
 * the ring's owner of `nonce:KEYNAME:NONCE`, which every node asks (node.ts `useNonce`), so
 * a TokenRequest replayed to another node of the region is refused too.
 */

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
