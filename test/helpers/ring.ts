import { Ring } from '../../src/cluster/ring.js';

/** A channel name (with the given prefix) whose master in a ring of `members` is `owner`. */
export function channelMasteredBy(members: string[], owner: string, prefix: string, appId = 'app'): string {
  const [name] = channelsMasteredBy(members, owner, prefix, 1, appId);
  if (name === undefined) throw new Error(`no channel for ${owner}`);
  return name;
}

/** The first `count` channel names (with the given prefix) whose master in a ring of `members` is `owner`. */
export function channelsMasteredBy(members: string[], owner: string, prefix: string, count = 50, appId = 'app'): string[] {
  const ring = new Ring(members);
  const out: string[] = [];
  for (let i = 0; i < 100_000 && out.length < count; i++) {
    const name = `${prefix}-${i}`;
    if (ring.owner(`${appId}:${name}`) === owner) out.push(name);
  }
  return out;
}

export function replicaOf(members: string[], channel: string, appId = 'app'): string | null {
  return new Ring(members).replica(`${appId}:${channel}`);
}
