/**
 * A node's part in channel lifecycle events (src/channel/lifecycle.ts): what its registry's
 * masters are given to make them. Their events go to the app's metachannel through the
 * node's ChannelPublisher as one source (LIFECYCLE_SOURCE): the events its masters make in
 * one turn of the event loop go as one request, and a master that moves meanwhile gets
 * them again in order (deduplicated by id). Not counted in the app's statistics as
 * publishes: the service makes them.
 */
import { splitChannelKey, type ChannelKey } from '../channel/entry.js';
import { homeRegion, isMetaChannel, lifecycleKeyOf } from '../channel/lifecycle.js';
import type { ChannelPublisher } from '../channel/publisher.js';
import type { RegistryDeps } from '../channel/registry-deps.js';
import type { Occupancy } from '../transport/messages.js';
import type { Topology } from '../config/topology.js';

/** The publisher source of a node's lifecycle events (a connection's id is another). */
export const LIFECYCLE_SOURCE = 'lifecycle';

export interface NodeLifecycleDeps {
  now(): number;
  elapsed(): number;
  /** The node's publisher (made after the registry that takes these deps). */
  publisher(): Pick<ChannelPublisher, 'publish'>;
  /** The channel's counts as the occupancy board of this node holds them (it masters the channel). */
  counts(key: ChannelKey): { local: Occupancy; total: Occupancy } | null;
}

/** What the registry of a node is given for its masters' lifecycle events (RegistryDeps.lifecycle, masterForLifecycle). */
export function nodeLifecycle(topology: Topology, region: string, d: NodeLifecycleDeps): Required<Pick<RegistryDeps, 'lifecycle' | 'masterForLifecycle'>> {
  const regions = topology.regions.map((r) => r.name);
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
            publish: async (messages) => {
              await d.publisher().publish(LIFECYCLE_SOURCE, lifecycleKeyOf(m.key), messages);
            },
            counts: () => {
              const c = d.counts(m.key);
              return c ? { ...c, members: m.members().length } : null;
            },
          },
    masterForLifecycle: (key) => regions.length > 1 && !isMetaChannel(splitChannelKey(key).name) && homeHere(key),
  };
}
