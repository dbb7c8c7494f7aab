/**
 * The workload's part in the lifecycle check (lifecycle-check.ts): a client on
 * [meta]channel.lifecycle in every region for the whole run (so that every region's events
 * are sent to every region), and at the end each region's history of it.
 */
import Ably from 'ably';
import { homeRegion, LIFECYCLE_CHANNEL } from '../channel/lifecycle.js';
import { clientOptions } from './client-options.js';
import type { LifecycleRecordEvent } from './lifecycle-check.js';
import { wholeHistory } from './rest-history.js';

type Realtime = InstanceType<typeof Ably.Realtime>;

export interface LifecycleWatchDeps {
  regions: Map<string, { host: string; port: number }>;
  /** The workload's key (its capability names [meta]*). */
  key: string;
  channels: readonly string[];
}

export class LifecycleWatch {
  private readonly clients: Realtime[] = [];

  constructor(private readonly d: LifecycleWatchDeps) {}

  /** Attaches a client to the metachannel in each region. */
  async start(): Promise<void> {
    await Promise.all(
      [...this.d.regions.values()].map(async (endpoint, i) => {
        const c = new Ably.Realtime(clientOptions(endpoint, { key: this.d.key }, i % 2 === 0) as never);
        this.clients.push(c);
        await c.channels.get(LIFECYCLE_CHANNEL).attach();
      }),
    );
  }

  /** Each region's history of the metachannel (the workload's channels' events), with what the check needs to judge it. */
  async read(attached: Record<string, string[]>, nodes: Record<string, string[]>): Promise<LifecycleRecordEvent[]> {
    const appId = this.d.key.slice(0, this.d.key.indexOf('.'));
    const regionNames = [...this.d.regions.keys()];
    const home = Object.fromEntries(this.d.channels.map((c) => [c, homeRegion(`${appId}:${c}`, regionNames)]));
    const wanted = new Set(this.d.channels);
    return Promise.all(
      [...this.d.regions].map(async ([region, { host, port }]) => {
        const rest = new Ably.Rest({ key: this.d.key, endpoint: host, port, tls: false, useBinaryProtocol: false, logLevel: 0 } as never);
        const base = { type: 'lifecycle' as const, region, attached, home, nodes };
        const read = await wholeHistory(rest, LIFECYCLE_CHANNEL);
        if (read.error !== undefined) return { ...base, t: Date.now(), events: [], error: read.error };
        const events: LifecycleRecordEvent['events'] = [];
        for (const m of read.items) {
          const data = m.data as { channelId?: unknown; region?: unknown } | undefined;
          if (typeof data?.channelId !== 'string' || !wanted.has(data.channelId)) continue;
          events.push({ id: m.id ?? '', name: m.name ?? '', channel: data.channelId, ...(typeof data.region === 'string' ? { region: data.region } : {}) });
        }
        return { ...base, t: Date.now(), events };
      }),
    );
  }

  close(): void {
    for (const c of this.clients) {
      try {
        c.close();
      } catch {
        /* already closed */
      }
    }
  }
}
