/**
 * Channel lifecycle events on their way to their app's metachannel (lifecycle.ts): the
 * events the masters of a node make in one turn of the event loop go to each metachannel's
 * master as one publish (a burst of attaches to many channels is a few requests, not one
 * per channel). Not counted in the app's statistics as publishes: the service makes them.
 */
import { AblyError } from '../errors.js';
import { splitChannelKey, type ChannelKey } from '../channel/entry.js';
import { homeRegion, isMetaChannel, lifecycleKeyOf } from '../channel/lifecycle.js';
import type { RegistryDeps } from '../channel/registry.js';
import type { Occupancy } from '../transport/messages.js';
import type { Topology } from '../config/topology.js';
import type { ChannelRouter } from '../channel/router.js';
import type { Message } from '../protocol/message.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../config/defaults.js';

/** Events in one publish at most. */
export const OUTBOX_BATCH = 100;

interface Waiting {
  messages: Message[];
  resolve(): void;
  reject(err: unknown): void;
}

export class LifecycleOutbox {
  private readonly queued = new Map<ChannelKey, Waiting[]>();
  private scheduled = false;

  constructor(private readonly router: Pick<ChannelRouter, 'call'>) {}

  /** Resolves once the metachannel's master has taken the events (an id it holds already counts). */
  publish(metachannel: ChannelKey, messages: Message[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let q = this.queued.get(metachannel);
      if (!q) this.queued.set(metachannel, (q = []));
      q.push({ messages, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = [...this.queued];
    this.queued.clear();
    for (const [channel, waiting] of all) {
      for (let i = 0; i < waiting.length; ) {
        // Whole publishers' events in a request (a master's events stay in one, in order).
        const part: Waiting[] = [];
        let n = 0;
        while (i < waiting.length && (part.length === 0 || n + waiting[i]!.messages.length <= OUTBOX_BATCH)) {
          n += waiting[i]!.messages.length;
          part.push(waiting[i++]!);
        }
        void this.send(channel, part);
      }
    }
  }

  private async send(channel: ChannelKey, part: Waiting[]): Promise<void> {
    try {
      const { body } = await this.router.call(channel, { type: 'publish', channel, messages: part.flatMap((w) => w.messages) }, CHANNEL_REQUEST_TIMEOUT_MS);
      if (body.kind !== 'published') throw AblyError.of('internalChannel', `unexpected reply ${body.kind}`);
      for (const w of part) w.resolve();
    } catch (err) {
      for (const w of part) w.reject(err);
    }
  }
}

export interface NodeLifecycleDeps {
  now(): number;
  elapsed(): number;
  /** The node's router (made after the registry that takes these deps). */
  router(): Pick<ChannelRouter, 'call'>;
  /** The channel's counts as the occupancy board of this node holds them (it masters the channel). */
  counts(key: ChannelKey): { local: Occupancy; total: Occupancy } | null;
}

/** What the registry of a node is given for its masters' lifecycle events (RegistryDeps.lifecycle, masterForLifecycle). */
export function nodeLifecycle(topology: Topology, region: string, d: NodeLifecycleDeps): Required<Pick<RegistryDeps, 'lifecycle' | 'masterForLifecycle'>> {
  const regions = topology.regions.map((r) => r.name);
  let outbox: LifecycleOutbox | null = null;
  const homeHere = (key: ChannelKey) => homeRegion(key, regions) === region;
  return {
    lifecycle: (m) =>
      isMetaChannel(splitChannelKey(m.key).name)
        ? null
        : {
            region,
            home: homeHere(m.key),
            delayMs: topology.limits.channelInactiveDelayMs,
            now: d.now,
            elapsed: d.elapsed,
            publish: (messages) => (outbox ??= new LifecycleOutbox(d.router())).publish(lifecycleKeyOf(m.key), messages),
            counts: () => {
              const c = d.counts(m.key);
              return c ? { ...c, members: m.members().length } : null;
            },
          },
    masterForLifecycle: (key) => regions.length > 1 && !isMetaChannel(splitChannelKey(key).name) && homeHere(key),
  };
}
