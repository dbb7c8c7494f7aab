/**
 * What a globalmaster tells this node's masters of other regions: which want a channel
 * (RemoteInterest), that the link to one is back (Relinked), or where its streams stand
 * (OriginHeads). Masters here that lack some of that region's messages ask it for the rest
 * (ReplayWanted, through the globalmaster); the occupancy board sends the regions its
 * counts again where they may lack them (occupancy-board.ts).
 */
import type { ChannelRegistry, WantedReplay } from '../channel/registry.js';
import type { Logger } from '../log.js';
import type { ChannelHead, OriginHeads, Relinked, RemoteInterest, ReplayWanted } from '../transport/messages.js';
import type { OccupancyBoard } from '../channel/occupancy-board.js';

export function onRegionNews(
  msg: RemoteInterest | Relinked | OriginHeads,
  registry: ChannelRegistry,
  board: OccupancyBoard,
  ask: (w: ReplayWanted) => void,
  log: Logger,
): void {
  if (msg.type === 'remoteInterest') {
    registry.setRemoteInterest(msg.channel, msg.regions, msg.keep);
    board.remoteInterest(msg.channel, msg.regions.map((r) => r.region), msg.keep);
    return;
  }
  if (msg.type === 'relinked') board.relinked();
  askForMissed(registry, msg, ask, log);
}

function askForMissed(registry: ChannelRegistry, msg: Relinked | OriginHeads, ask: (w: ReplayWanted) => void, log: Logger): void {
  let wanted = 0;
  const want = (w: WantedReplay) => {
    wanted++;
    ask({ type: 'replayWanted', region: msg.region, ...w });
  };
  if (msg.type === 'relinked') relinked(registry, msg.region, want);
  else behindHeads(registry, msg.region, msg.heads, want);
  // Behind a head: a batch of that region's was lost on the way (README, "Holes at the end of a stream").
  if (msg.type === 'originHeads' && wanted) log.info({ region: msg.region, channels: wanted }, "behind another region's heads: asked for the rest");
}

/** The link to another region is back: every master here asks it for what it sent meanwhile. */
function relinked(registry: ChannelRegistry, region: string, want: (w: WantedReplay) => void): void {
  for (const [key, m] of registry.liveMasters()) {
    const pos = m.state.origins.get(region);
    if (pos) want({ channel: key, epoch: pos.epoch, afterSeq: pos.seq });
    // No stream from there yet, but clients that came from there: its start (OriginPositions.reachBackTo).
    else if (m.state.origins.reachBackOf(region)) {
      const w = m.regions.startWanted();
      if (w) want({ channel: key, ...w });
    }
  }
}

/** Where another region's streams of these channels stand there: masters here behind them ask for the rest. */
function behindHeads(registry: ChannelRegistry, region: string, heads: readonly ChannelHead[], want: (w: WantedReplay) => void): void {
  for (const head of heads) {
    const m = registry.masterOf(head.channel);
    if (!m || m.isStopped) continue;
    const w = m.regions.behind(region, head);
    if (w) want({ channel: head.channel, ...w });
  }
}
