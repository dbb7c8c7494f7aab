import { Ring } from '../../src/cluster/ring.js';

/** A channel name (with the given prefix) whose master in a ring of `members` is `owner`. */
export function channelMasteredBy(members: string[], owner: string, prefix: string, appId = 'app'): string {
  const ring = new Ring(members);
  for (let i = 0; i < 100_000; i++) {
    const name = `${prefix}-${i}`;
    if (ring.owner(`${appId}:${name}`) === owner) return name;
  }
  throw new Error(`no channel for ${owner}`);
}

export function replicaOf(members: string[], channel: string, appId = 'app'): string | null {
  return new Ring(members).replica(`${appId}:${channel}`);
}
