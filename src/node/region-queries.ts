/**
 * Questions a node answers for a whole region by asking every ring member and adding up
 * their answers. A member that does not answer within REGION_QUERY_TIMEOUT_MS counts as
 * nothing: one node cut off from this one (in the ring until it is held down, seconds
 * later) would otherwise hold every such answer up for the whole channel request timeout
 * (10 s).
 */
import type { ChannelKey } from '../channel/entry.js';
import type { NodeId, Occupancy } from '../transport/messages.js';
import type { GatewayServices } from '../gateway/services.js';
import type { Rpc } from '../transport/rpc.js';
import { mergeBuckets } from './stats.js';

/** How long a region-wide question waits for each member's answer (ms). */
export const REGION_QUERY_TIMEOUT_MS = 2000;

/** A channel's occupancy across the region, and how many members were asked and answered. */
export type RegionOccupancy = Occupancy & { nodes: { asked: number; answered: number } };

/** A channel's occupancy across the region: every member's local attachments, added up. */
export async function regionOccupancy(rpc: Rpc, members: readonly NodeId[], channel: ChannelKey): Promise<RegionOccupancy> {
  const total = { connections: 0, publishers: 0, subscribers: 0, presenceSubscribers: 0, nodes: { asked: members.length, answered: 0 } };
  const replies = await Promise.all(members.map((n) => rpc.request(n, { type: 'occupancy', channel }, REGION_QUERY_TIMEOUT_MS).catch(() => null)));
  for (const r of replies) {
    if (r?.kind !== 'occupancy') continue;
    total.nodes.answered++;
    total.connections += r.connections;
    total.publishers += r.publishers;
    total.subscribers += r.subscribers;
    total.presenceSubscribers += r.presenceSubscribers;
  }
  return total;
}

/** The names of an app's channels mastered anywhere in the region: every member's masters (those that answer in time). */
export async function regionChannels(rpc: Rpc, members: readonly NodeId[], appId: string): Promise<string[]> {
  const lists = await Promise.all(
    members.map((n) =>
      rpc
        .request(n, { type: 'interestList', all: true }, REGION_QUERY_TIMEOUT_MS)
        .then((b) => (b.kind === 'interest' ? b.mastered.map((m) => m.channel) : []))
        .catch(() => []),
    ),
  );
  const prefix = `${appId}:`;
  return [...new Set(lists.flat().filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)))];
}

/** Statistics of an app across the region: every member's minutes, added up. */
export async function regionStats(rpc: Rpc, members: readonly NodeId[], appId: string, start: number, end: number) {
  const lists = await Promise.all(
    members.map((n) =>
      rpc
        .request(n, { type: 'stats', appId, start, end }, REGION_QUERY_TIMEOUT_MS)
        .then((b) => (b.kind === 'stats' ? b.buckets : []))
        .catch(() => []),
    ),
  );
  return mergeBuckets(lists);
}

/** The gateway's region-wide questions (statistics, channels, a channel's occupancy), over the ring's members as they are when asked. */
export function regionQueries(rpc: Rpc, members: () => readonly NodeId[]): Pick<GatewayServices, 'stats' | 'channels' | 'occupancy'> {
  return {
    stats: (appId, start, end) => regionStats(rpc, members(), appId, start, end),
    channels: (appId) => regionChannels(rpc, members(), appId),
    occupancy: (channel) => regionOccupancy(rpc, members(), channel),
  };
}
