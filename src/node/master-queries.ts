/**
 * The gateway's questions that a channel's master answers, asked through the router: a
 * dropped connection's presence hold (in the order they are made, per channel), the
 * members of a channel, its status, and its history.
 */
import type { ChannelRouter } from '../channel/router.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import { AblyError } from '../errors.js';
import type { GatewayServices } from '../gateway/services.js';
import type { KeyedQueue } from '../keyed-queue.js';

export function masterQueries(router: ChannelRouter, holds: KeyedQueue): Pick<GatewayServices, 'hold' | 'members' | 'status' | 'history'> {
  return {
    hold: async (channel, connectionId, leaveInMs, since, atOnce) => {
      const req = { type: 'hold', channel, connectionId, leaveInMs, since, ...(atOnce ? { atOnce } : {}) } as const;
      await holds.run(channel, () => router.call(channel, req, CHANNEL_REQUEST_TIMEOUT_MS));
    },
    members: async (channel, filter) => {
      const { body } = await router.call(channel, { type: 'presenceGet', channel, ...filter }, CHANNEL_REQUEST_TIMEOUT_MS);
      return body.kind === 'members' ? body.members : [];
    },
    status: async (channel) => {
      const { body } = await router.call(channel, { type: 'status', channel }, CHANNEL_REQUEST_TIMEOUT_MS);
      return body.kind === 'status' ? body.status : null;
    },
    history: async (channel, query) => {
      const { body } = await router.call(channel, { type: 'history', channel, query }, CHANNEL_REQUEST_TIMEOUT_MS);
      if (body.kind !== 'entries') throw AblyError.of('internalChannel', `unexpected reply ${body.kind}`);
      return { items: body.entries, more: body.more };
    },
  };
}
