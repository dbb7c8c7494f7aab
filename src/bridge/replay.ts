/**
 * The answer to a peer region's replay request: what this region accepted on a channel
 * after a seq (or, with `since`, the start of its stream there), read from the channel
 * master's history a page at a time and sent over the asking session.
 */
import type { ChannelKey } from '../channel/entry.js';
import type { ChannelRouter } from '../channel/router.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import type { Logger } from '../log.js';
import type { Session } from './link-session.js';

export interface ReplayDeps {
  region: string;
  router: ChannelRouter;
  log: Logger;
}

export interface ReplayAsk {
  /** The request's id (0: a start's rest, which no request asked for). */
  id: number;
  channel: ChannelKey;
  epoch: string;
  afterSeq: number;
  since?: number | undefined;
}

/** Pages are read until one comes back empty, the session ends, or this many were sent. */
const MAX_PAGES = 10_000;

export async function answerReplay(d: ReplayDeps, s: Session, ask: ReplayAsk): Promise<void> {
  const { id, channel } = ask;
  // Asked in the asking region's clock: read on ours (link-clock.ts).
  const since = ask.since === undefined ? undefined : Math.round(ask.since - (s.clock.offsetMs() ?? 0));
  let { epoch, afterSeq: after } = ask;
  for (let page = 0; page < MAX_PAGES; page++) {
    let body;
    try {
      // The first page also brings this region's own presence members: where the answer
      // begins the stream again there, they are taken as this region's set.
      const first = page === 0 ? (since !== undefined ? { since, withMembers: true } : { withMembers: true }) : {};
      ({ body } = await d.router.call(channel, { type: 'replayLocal', channel, epoch, afterSeq: after, ...first }, CHANNEL_REQUEST_TIMEOUT_MS));
    } catch (err) {
      d.log.warn({ channel, err: (err as Error).message }, 'replay for another region failed');
      return;
    }
    if (body.kind !== 'local' || !s.ready) return;
    if (body.epoch === '' && body.entries.length === 0) return; // no such channel here
    const room = s.send({
      type: 'forward',
      batch: {
        channel,
        region: d.region,
        epoch: body.epoch,
        startSeq: body.startSeq,
        gapBefore: body.gap,
        entries: body.entries,
        ...(body.members ? { members: body.members } : {}),
      },
      replyTo: id,
      toRegion: s.region,
    });
    // Id 0: the rest of a start (globalmaster.ts onToRegions), not an answer to the peer.
    s.countOut(body.entries.length, id === 0 ? 'start' : 'replay');
    if (body.entries.length === 0) return;
    after = body.entries.lastSeq;
    epoch = body.epoch;
    // Paced by the link: each page waits for room (after a long partition every channel's
    // history was read and written at once, whatever the link could take).
    if (!room) await s.drained();
  }
}
