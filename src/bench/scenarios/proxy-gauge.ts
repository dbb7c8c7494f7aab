/**
 * How much the fault proxy itself adds, measured beside the real one: a FaultProxy with
 * the same latency, in this process (where the Supervisor's proxies run), carrying a
 * timestamp every few milliseconds from a client to a sink, both in this process too.
 * Its transit time is the added delay plus whatever the proxy's timers and this
 * process's scheduling add at that moment, which the cross-region figures include as
 * well: on a busy machine that is several milliseconds at p99.
 */
import net from 'node:net';
import { LatencySamples, type LatencySummary, type OutsideSummary } from '../latency.js';
import { nowUs } from '../payload.js';
import { FaultProxy } from '../../proxy/fault-proxy.js';

/** One timestamp this often (ms). */
const INTERVAL_MS = 5;
/** Transits kept at most (a gauge runs for seconds: 200 a second). */
const CAPACITY = 100_000;

export interface GaugeFigures extends LatencySummary {
  /** The shortest transit: never under the delay (the proxy's delay is a floor). */
  minMs: number;
}

export class ProxyGauge {
  /** Each timestamp's transit, with its send time. */
  private readonly transits = new LatencySamples(CAPACITY, true);
  private minUs = Infinity;
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
          gauge?.add(Number(buf.slice(0, i)), at);
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

  private add(sentUs: number, atUs: number): void {
    this.transits.add(atUs - sentUs, sentUs);
    if (atUs - sentUs < this.minUs) this.minUs = atUs - sentUs;
  }

  /** Transits so far. */
  get samples(): number {
    return this.transits.size;
  }

  /** Stops sending, waits for what is under way, closes everything; returns the transit times. */
  async stop(latencyMs: number): Promise<GaugeFigures> {
    await this.close(latencyMs);
    return { ...this.transits.summary(), minMs: Number.isFinite(this.minUs) ? this.minUs / 1000 : NaN };
  }

  /** After `stop`: the transits whose flight overlapped none of `exclude` (kernel-bursts.ts's mergeWindows). */
  outside(exclude: readonly number[]): OutsideSummary {
    return this.transits.outside(exclude);
  }

  private async close(latencyMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await new Promise((r) => setTimeout(r, latencyMs + 50));
    this.client.destroy();
    await this.proxy.close();
    await new Promise<void>((r) => this.sink.close(() => r()));
  }
}
