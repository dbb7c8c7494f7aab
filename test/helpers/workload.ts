import type { Realtime } from './sdk.js';

/** A publisher that publishes `{p, seq}` at a steady interval and records each outcome. */
export class SteadyPublisher {
  readonly acked = new Set<number>();
  readonly nacked = new Map<number, string>();
  /** When each seq was sent (Date.now()). */
  readonly sentAt: number[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private inflight = new Set<Promise<void>>();

  constructor(
    readonly id: string,
    private readonly client: Realtime,
    private readonly channel: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.publishOne(), this.intervalMs);
  }

  private publishOne(): void {
    const seq = this.seq++;
    this.sentAt.push(Date.now());
    const p = this.client.channels
      .get(this.channel)
      .publish('seq', { p: this.id, seq })
      .then(
        () => void this.acked.add(seq),
        (err: { code?: number; message?: string }) => void this.nacked.set(seq, `${err.code}: ${err.message}`),
      );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Stops publishing and waits for every outstanding publish to be ACKed or NACKed. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.inflight]);
  }

  get sent(): number {
    return this.seq;
  }
}

/** What one subscriber received, per publisher, in order. */
export class Recorder {
  readonly byPublisher = new Map<string, number[]>();
  readonly times: number[] = [];

  handler = (m: { data?: unknown }): void => {
    const d = m.data as { p: string; seq: number };
    let list = this.byPublisher.get(d.p);
    if (!list) this.byPublisher.set(d.p, (list = []));
    list.push(d.seq);
    this.times.push(Date.now());
  };

  /** Violations of exactly-once, in-order delivery of every acknowledged message. */
  check(pub: SteadyPublisher): string[] {
    const got = this.byPublisher.get(pub.id) ?? [];
    const problems: string[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < got.length; i++) {
      if (seen.has(got[i]!)) problems.push(`${pub.id}: duplicate seq ${got[i]}`);
      seen.add(got[i]!);
      if (i > 0 && got[i]! <= got[i - 1]!) problems.push(`${pub.id}: seq ${got[i]} after ${got[i - 1]}`);
    }
    for (const s of pub.acked) if (!seen.has(s)) problems.push(`${pub.id}: acked seq ${s} never delivered`);
    return problems;
  }

  count(p: string): number {
    return this.byPublisher.get(p)?.length ?? 0;
  }
}
