/**
 * MQTT 3.1.1 over WebSocket through npm `mqtt` (the protocol's usual Node client):
 * clean sessions, QoS 0, no reconnection. Each PUBLISH the broker sends a subscriber
 * is one message.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { nowUs } from '../payload.js';
import { closedWithin, HANDSHAKE_TIMEOUT_MS, type ClientAdapter, type ClientEvents, type Conn, type Publisher } from './adapter.js';


let clientSeq = 0;

class MqttConn implements Conn {
  open = true;
  private closing = false;
  readonly closed: Promise<void>;

  constructor(
    readonly client: MqttClient,
    events: ClientEvents,
  ) {
    this.closed = new Promise<void>((r) => client.once('close', () => r()));
    client.on('error', (e) => events.note(`mqtt: ${e.message}`));
    client.on('close', () => {
      if (!this.open) return;
      this.open = false;
      if (!this.closing) {
        events.unexpectedCloses++;
        events.note('mqtt: connection closed by broker');
      }
    });
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.closing = true;
    await closedWithin(this.client.endAsync());
    this.client.end(true);
    this.open = false;
  }
}

class MqttPublisher extends MqttConn implements Publisher {
  readonly acknowledges = false;
  readonly accepted = 0;
  readonly rejected = 0;

  constructor(
    client: MqttClient,
    events: ClientEvents,
    private readonly topic: string,
  ) {
    super(client, events);
  }

  publish(payload: string): void {
    this.client.publish(this.topic, payload, { qos: 0 });
  }

  bufferedBytes(): number {
    return 0;
  }
}

async function open<T extends MqttConn>(url: string, make: (c: MqttClient) => T): Promise<T> {
  const client = await mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: HANDSHAKE_TIMEOUT_MS,
      clientId: `bench-${process.pid}-${++clientSeq}`,
      keepalive: 60,
    },
    false,
  );
  return make(client);
}

export const mqttAdapter: ClientAdapter = {
  protocol: 'mqtt',

  async subscribe(url, target, scanner, events) {
    const c = await open(url, (client) => new MqttConn(client, events));
    c.client.on('message', (_topic, payload) => scanner.scan(payload, nowUs()));
    await c.client.subscribeAsync(target.channel, { qos: 0 });
    return c;
  },

  publisher(target, events) {
    return open(target.publisherUrl, (client) => new MqttPublisher(client, events, target.channel));
  },

  connect(url, _target, events) {
    return open(url, (client) => new MqttConn(client, events));
  },
};
