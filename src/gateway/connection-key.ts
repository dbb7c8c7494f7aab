/**
 * Connection ids and keys. The key the client gets in CONNECTED (and sends back as
 * `resume=`) is `<connectionId>!<mac>`, where mac is an HMAC of the id under the
 * region's secret: any node of the region can check a key without looking anything up,
 * and nobody can resume a connection whose key they were not given.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newConnectionId(): string {
  return randomBytes(8).toString('base64url');
}

function mac(secret: string, connectionId: string): string {
  return createHmac('sha256', secret).update(connectionId).digest('base64url').slice(0, 16);
}

export function connectionKeyFor(secret: string, connectionId: string): string {
  return `${connectionId}!${mac(secret, connectionId)}`;
}

/** The connection id a key names, or null if the key is malformed or not signed by us. */
export function verifyConnectionKey(secret: string, key: string): string | null {
  const i = key.lastIndexOf('!');
  if (i <= 0) return null;
  const id = key.slice(0, i);
  const given = Buffer.from(key.slice(i + 1));
  const want = Buffer.from(mac(secret, id));
  return given.length === want.length && timingSafeEqual(given, want) ? id : null;
}
