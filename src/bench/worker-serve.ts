/**
 * The helper process's side of `worker-process.ts`: answers each request `{cmd, …, id}`
 * with `{id, ok, result | error}`, says it is ready, and exits when the run goes (its IPC
 * channel closes: the run finished, failed or was killed). Kept apart from
 * worker-process.ts so that a helper process loads no more than this.
 */

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export function serveRequests<M extends { id: number }>(handle: (m: M) => unknown): void {
  process.on('message', (m: M) => {
    new Promise((resolve) => resolve(handle(m))).then(
      (result) => process.send!({ id: m.id, ok: true, result } satisfies WorkerReply),
      (e: unknown) => process.send!({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) } satisfies WorkerReply),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, pid: process.pid });
}
