/** The client adapter for each protocol. */
import type { Protocol } from '../servers/server.js';
import { ablyAdapter } from './ably.js';
import type { ClientAdapter } from './adapter.js';
import { mqttAdapter } from './mqtt.js';
import { natsAdapter } from './nats.js';
import { socketIoAdapter } from './socketio.js';
import { wsAdapter } from './ws.js';

const ADAPTERS: Record<Protocol, ClientAdapter> = {
  ably: ablyAdapter,
  ws: wsAdapter,
  socketio: socketIoAdapter,
  nats: natsAdapter,
  mqtt: mqttAdapter,
};

export function adapterFor(protocol: Protocol): ClientAdapter {
  return ADAPTERS[protocol];
}
