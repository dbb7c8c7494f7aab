/**
 * How much the fault proxy itself adds, measured beside the real one: a FaultProxy with
 * the same latency, in this process (where the Supervisor's proxies run), carrying a
 * timestamp every few milliseconds from a client to a sink, both in this process too.
 * Its transit time is the added delay plus whatever the proxy's timers and this
 * process's scheduling add at that moment, which the cross-region figures include as
 * well: on a busy machine that is several milliseconds at p99.
 */
import net from 'node:net';
import { Windows } from '../kernel-bursts.js';
import { nowUs } from '../payload.js';
import { FaultProxy } from '../../proxy/fault-proxy.js';
import { percentile } from '../util.js';

/** One timestamp this often (ms). */
const INTERVAL_MS = 5;

export interface GaugeFigures {
  samples: number;
  /** The shortest transit: never under the delay (the proxy's delay is a floor). */
  minMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** With windows to leave out (kernel threads' bursts): p99 of the transits that overlapped none. */
  outsideP99Ms?: number;
}

export class ProxyGauge {
  /** Each timestamp's send and arrival (µs), flattened. */
  private readonly transits: number[] = [];
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly sink: net.Server,
    private readonly proxy: FaultProxy,
    private readonly client: net.Socket,
  ) {}

  static async start(latencyMs: number): Promise<ProxyGauge> {
    let gauge: ProxyGauge | null = null;
    const sink = net.createServer((s) => {
      let buf = '';
      s.setNoDelay(true);
      s.on('data', (d: Buffer) => {
        const at = nowUs();
        buf += d.toString('latin1');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          gauge?.transits.push(Number(buf.slice(0, i)), at);
          buf = buf.slice(i + 1);
        }
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const proxy = new FaultProxy({ host: '127.0.0.1', port: (sink.address() as net.AddressInfo).port }, 'gauge');
    await proxy.listen();
    proxy.set('up', { latencyMs });
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.setNoDelay(true);
    client.on('error', () => undefined);
    await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
    gauge = new ProxyGauge(sink, proxy, client);
    gauge.timer = setInterval(() => client.write(`${nowUs()}\n`), INTERVAL_MS);
    return gauge;
  }

  /** Stops sending, waits for what is under way, closes everything; returns the transit times. */
  async stop(latencyMs: number): Promise<GaugeFigures> {
    await this.close(latencyMs);
    return figures(this.transits.flatMap((x, i) => (i % 2 ? [(x - this.transits[i - 1]!) / 1000] : [])));
  }

  /** After `stop`: the p99 of the transits whose flight overlapped none of `exclude` (kernel-bursts.ts's mergeWindows). */
  outsideP99Ms(exclude: number[]): number {
    const w = new Windows(exclude);
    const t = this.transits;
    const kept: number[] = [];
    for (let i = 0; i < t.length; i += 2) if (!w.overlaps(t[i]!, t[i + 1]!)) kept.push((t[i + 1]! - t[i]!) / 1000);
    return figures(kept).p99Ms;
  }

  private async close(latencyMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await new Promise((r) => setTimeout(r, latencyMs + 50));
    this.client.destroy();
    await this.proxy.close();
    await new Promise<void>((r) => this.sink.close(() => r()));
  }
}

function figures(transitsMs: number[]): GaugeFigures {
  const sorted = transitsMs.sort((a, b) => a - b);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return { samples: sorted.length, minMs: r3(sorted[0] ?? NaN), p50Ms: r3(percentile(sorted, 50)), p99Ms: r3(percentile(sorted, 99)), maxMs: r3(sorted[sorted.length - 1] ?? NaN) };
}
