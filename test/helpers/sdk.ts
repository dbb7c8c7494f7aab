import Ably from 'ably';
import { KEY } from './topology.js';

export type Realtime = InstanceType<typeof Ably.Realtime>;
export type Rest = InstanceType<typeof Ably.Rest>;
export { Ably };

export const common = { endpoint: '127.0.0.1', tls: false, disableConnectivityCheck: true, logLevel: 0 } as const;

/** A realtime SDK client on a local port; `binary` picks msgpack (default) or JSON. */
export function realtime(port: number, opts: Record<string, unknown> = {}): Realtime {
  return new Ably.Realtime({ key: KEY, ...common, port, useBinaryProtocol: true, ...opts } as any);
}

export function rest(port: number, opts: Record<string, unknown> = {}): Rest {
  return new Ably.Rest({ key: KEY, ...common, port, useBinaryProtocol: true, ...opts } as any);
}

/** Waits for a realtime client to be connected. */
export async function connected(c: Realtime): Promise<void> {
  if (c.connection.state === 'connected') return;
  await c.connection.once('connected');
}

/** Closes clients without waiting on the network. */
export function closeAll(...clients: (Realtime | undefined)[]): void {
  for (const c of clients) {
    try {
      c?.close();
    } catch {
      /* already closed */
    }
  }
}

/** Waits for a realtime client's connection to be turned away (disconnected), with the reason it was given. */
export function turnedAway(c: Realtime, timeoutMs = 10_000): Promise<{ code?: number; statusCode?: number; message?: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not turned away in ${timeoutMs} ms (the connection is ${c.connection.state})`)), timeoutMs);
    c.connection.once('disconnected', (change) => {
      clearTimeout(t);
      resolve(change.reason ?? {});
    });
  });
}
