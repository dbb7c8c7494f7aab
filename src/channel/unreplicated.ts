/**
 * What changed in a channel's state that its replica must hear of though no entry shows
 * it: positions in other regions' streams, what they must reach back to, interest here
 * and there, gaps. Replication carries it (ReplicateRequest's fields), each change once.
 */
import type { ReplicateRequest } from '../transport/messages.js';
import type { ChannelInterest } from './channel-interest.js';
import type { Gaps } from './gaps.js';
import type { OriginPositions } from './origin-positions.js';

/** Changes no entry shows, as replication carries them. */
export type Unreplicated = Pick<ReplicateRequest, 'origins' | 'interestSince' | 'remoteInterest' | 'lifecycle' | 'reach' | 'gaps'>;

/** The parts of a channel's state (ChannelState's) that such changes are of. */
interface Parts {
  readonly origins: OriginPositions;
  readonly interest: ChannelInterest;
  readonly gaps: Gaps;
}

/** Whether there is any. */
export function hasUnreplicated(st: Parts): boolean {
  return st.origins.hasMoved || st.origins.reachMoved || st.interest.hasMoved || st.gaps.hasMoved;
}

/** Them, for the next replication (each once). */
export function takeUnreplicated(st: Parts): Unreplicated {
  const origins = st.origins.takeMoved();
  const reach = st.origins.takeReach();
  const gaps = st.gaps.takeMoved();
  return { ...(origins.length ? { origins } : {}), ...st.interest.takeMoved(), ...(reach ? { reach } : {}), ...(gaps.length ? { gaps } : {}) };
}

/** The replica's side of takeUnreplicated. */
export function applyUnreplicated(st: Parts, r: Unreplicated): void {
  if (r.origins) st.origins.apply(r.origins);
  st.interest.apply(r);
  if (r.reach) st.origins.applyReach(r.reach);
  if (r.gaps) st.gaps.apply(r.gaps);
}
