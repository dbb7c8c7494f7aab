/**
 * How much the fault proxy itself adds, measured beside the real one: a FaultProxy with
 * the same latency, in this process (where the Supervisor's proxies run), carrying a
 * timestamp every few milliseconds from a client to a sink, both in this process too.
 * Its transit time is the added delay plus whatever the proxy's timers and this
 * process's scheduling add at that moment, which the cross-region figures include as
 * well: on a busy machine that is several milliseconds at p99.
 */
import net from 'node:net';
import { nowUs } from '../payload.js';
import { FaultProxy } from '../../proxy/fault-proxy.js';
import { percentile } from '../util.js';

/** One timestamp this often (ms). */
const INTERVAL_MS = 5;

export interface GaugeFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class ProxyGauge {
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
          gauge?.transits.push(at - Number(buf.slice(0, i)));
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
    if (this.timer) clearInterval(this.timer);
    await new Promise((r) => setTimeout(r, latencyMs + 50));
    this.client.destroy();
    await this.proxy.close();
    await new Promise<void>((r) => this.sink.close(() => r()));
    const sorted = this.transits.map((us) => us / 1000).sort((a, b) => a - b);
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return { samples: sorted.length, p50Ms: r3(percentile(sorted, 50)), p99Ms: r3(percentile(sorted, 99)), maxMs: r3(sorted[sorted.length - 1] ?? NaN) };
  }
}
