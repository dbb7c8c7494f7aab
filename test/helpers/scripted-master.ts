/**
 * A node's channel client against a master whose answers a test gives, one request at a
 * time (test/unit/channel/client-*.test.ts).
 */
import { ChannelClient } from '../../src/channel/client.js';
import type { LocalSubscriber } from '../../src/channel/subscriber.js';
import type { LogEntry } from '../../src/channel/entry.js';
import type { ChannelRouter } from '../../src/channel/router.js';
import type { AblyError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { PresenceMessage } from '../../src/protocol/message.js';
import type { SharedFrame } from '../../src/protocol/shared-frame.js';
import { formatSerial, type OriginPosition } from '../../src/protocol/serial.js';
import type { RequestBody } from '../../src/transport/rpc.js';

export const KEY = 'app:ch';

/** An entry of this region's (r1) stream at `epoch`; `from`: its origin in another region. */
export function entry(epoch: string, serial: number, from?: OriginPosition, origins: OriginPosition[] = []): LogEntry {
  return {
    kind: 'message',
    serial,
    channelSerial: formatSerial({ region: 'r1', epoch, serial, origins }),
    storedAt: 0,
    origin: from ?? { region: 'r1', epoch, seq: serial },
    message: { id: `${epoch}-${serial}`, data: `${epoch}:${serial}`, timestamp: 0 },
  };
}

/** A master whose answers the test gives, one request at a time. */
export class ScriptedMaster {
  readonly asked: { req: RequestBody; answer: (body: object) => void; fail: (e: unknown) => void }[] = [];

  router(): ChannelRouter {
    return {
      call: (_key: string, req: RequestBody) =>
        new Promise((resolve, reject) => {
          this.asked.push({ req, answer: (body) => resolve({ from: 'm', body }), fail: reject });
        }),
    } as unknown as ChannelRouter;
  }

  /** The oldest unanswered request of that type. */
  async next(type: RequestBody['type']): Promise<(typeof this.asked)[number]> {
    for (let i = 0; i < 200; i++) {
      const at = this.asked.findIndex((a) => a.req.type === type);
      if (at >= 0) return this.asked.splice(at, 1)[0]!;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no ${type} request came`);
  }
}

export const subscribed = (epoch: string, serial: number, origins: OriginPosition[] = [], presence: PresenceMessage[] = []) => ({
  kind: 'subscribed',
  epoch,
  serial,
  channelSerial: formatSerial({ region: 'r1', epoch, serial, origins }),
  presence,
});

/**
 * A subscriber recording the data of each message it is sent, and its UPDATEs (`events`:
 * both, in order; `presenceAtUpdates`: the clientIds of the presence set each UPDATE came with).
 */
export function subscriber(): LocalSubscriber & { got: string[]; updates: number[]; events: string[]; presenceAtUpdates: string[][] } {
  const got: string[] = [];
  const updates: number[] = [];
  const events: string[] = [];
  const presenceAtUpdates: string[][] = [];
  return {
    connectionId: 'c1',
    format: 'json',
    channelName: 'ch',
    echo: true,
    publishes: false,
    enters: false,
    occupancy: null,
    wants: (kind) => kind === 'message',
    send: (frames) => {
      for (const f of frames) {
        const text = typeof f === 'string' ? f : Buffer.isBuffer(f) ? f.toString() : (f as SharedFrame).payload.toString();
        for (const m of JSON.parse(text).messages ?? []) {
          got.push(m.data);
          events.push(m.data);
        }
      }
    },
    discontinuity: (e: AblyError, _serial: string, members: readonly PresenceMessage[]) => {
      updates.push(e.code);
      events.push(`update ${e.code}`);
      presenceAtUpdates.push(members.map((m) => m.clientId));
    },
    got,
    updates,
    events,
    presenceAtUpdates,
  };
}

export async function client(master: ScriptedMaster, epoch: string, serial: number, origins: OriginPosition[] = [], presence: PresenceMessage[] = []): Promise<ChannelClient> {
  const c = new ChannelClient(KEY, 'ch', { router: master.router(), unsub: () => undefined, requestTimeoutMs: 1000, log: silentLogger() });
  // The first attach subscribes the node; its subscriber attaches fresh.
  const first = subscriber();
  const attaching = c.attach(first, null, null);
  (await master.next('sub')).answer(subscribed(epoch, serial, origins, presence));
  await attaching;
  c.activate(first);
  return c;
}

/** A fresh subscriber attached to `c` (no resume) and live: what it records from here on. */
export async function liveSubscriber(c: ChannelClient): Promise<ReturnType<typeof subscriber>> {
  const sub = subscriber();
  await c.attach(sub, null, null);
  c.activate(sub);
  return sub;
}
