/**
 * What a globalmaster tells this node's masters of another region's streams: the link to
 * it is back (Relinked), or where its streams stand (OriginHeads). Masters here that lack
 * some of that region's messages ask it for the rest (ReplayWanted, through the globalmaster).
 */
import type { ChannelRegistry, WantedReplay } from '../channel/registry.js';
import type { Logger } from '../log.js';
import type { OriginHeads, Relinked, ReplayWanted } from '../transport/messages.js';

export function askForMissed(registry: ChannelRegistry, msg: Relinked | OriginHeads, ask: (w: ReplayWanted) => void, log: Logger): void {
  let wanted = 0;
  const want = (w: WantedReplay) => {
    wanted++;
    ask({ type: 'replayWanted', region: msg.region, ...w });
  };
  if (msg.type === 'relinked') registry.relinked(msg.region, want);
  else registry.behindHeads(msg.region, msg.heads, want);
  // Behind a head: a batch of that region's was lost on the way (README, "Holes at the end of a stream").
  if (msg.type === 'originHeads' && wanted) log.info({ region: msg.region, channels: wanted }, "behind another region's heads: asked for the rest");
}
