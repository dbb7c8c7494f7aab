/**
 * Questions a node answers for a whole region by asking every ring member and adding up
 * their answers (a member that does not answer in time counts as nothing).
 */
import type { ChannelKey } from '../channel/entry.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import type { NodeId } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import { mergeBuckets } from './stats.js';

/** A channel's occupancy across the region: every member's local attachments, added up. */
export async function regionOccupancy(rpc: Rpc, members: readonly NodeId[], channel: ChannelKey) {
  const total = { connections: 0, publishers: 0, subscribers: 0, presenceSubscribers: 0 };
  const replies = await Promise.all(members.map((n) => rpc.request(n, { type: 'occupancy', channel }, CHANNEL_REQUEST_TIMEOUT_MS).catch(() => null)));
  for (const r of replies) {
    if (r?.kind !== 'occupancy') continue;
    total.connections += r.connections;
    total.publishers += r.publishers;
    total.subscribers += r.subscribers;
    total.presenceSubscribers += r.presenceSubscribers;
  }
  return total;
}

/** Statistics of an app across the region: every member's minutes, added up. */
export async function regionStats(rpc: Rpc, members: readonly NodeId[], appId: string, start: number, end: number) {
  const lists = await Promise.all(
    members.map((n) =>
      rpc
        .request(n, { type: 'stats', appId, start, end }, CHANNEL_REQUEST_TIMEOUT_MS)
        .then((b) => (b.kind === 'stats' ? b.buckets : []))
        .catch(() => []),
    ),
  );
  return mergeBuckets(lists);
}
