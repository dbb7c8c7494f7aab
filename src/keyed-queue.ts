/**
 * Work per key, one after another in the order it is asked for: each waits for the one
 * before it with the same key to settle (either way). Keys with nothing pending hold no
 * memory. Used for presence holds, so one node's words about a connection's members on a
 * channel reach the master in the order it said them (a re-assertion after a ring change,
 * retried through a redirect, could otherwise overtake the leave said when the socket
 * dropped just after, and keep a gone client's member for good).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const result = before.then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with work pending. */
  get size(): number {
    return this.tails.size;
  }
}
