/** Waits until `check` returns a truthy value (or stops throwing); fails after the deadline. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  let lastChance = false;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (lastChance) {
      const why = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'} (last: ${why})`);
    }
    if (Date.now() > deadline) {
      // After a stall of the event loop the poll's timer fires ahead of the sockets' reads
      // and other timers that came due meanwhile: let one turn of each run, then check once
      // more, so a stall alone does not fail the wait.
      lastChance = true;
      await new Promise((r) => setTimeout(r, 0));
      await new Promise((r) => setImmediate(r));
      continue;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the first event of `name` that `filter` accepts. */
export function nextEvent<T>(
  on: (listener: (e: T) => void) => void | (() => void),
  filter: (e: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for event')), timeoutMs);
    const off = on((e) => {
      if (!filter(e)) return;
      clearTimeout(timer);
      if (typeof off === 'function') off();
      resolve(e);
    });
  });
}
