/** Every server the benchmarks know, by id. */
import { ablyNgServer } from './ably-ng.js';
import { mosquittoServer, natsServer, socketIoServer, wsCorkedServer, wsPlainServer } from './peers.js';
import type { ServerDef } from './server.js';

export const SERVERS: readonly ServerDef[] = [ablyNgServer, wsPlainServer, wsCorkedServer, socketIoServer, natsServer, mosquittoServer];

export function serverById(id: string): ServerDef {
  const s = SERVERS.find((x) => x.id === id);
  if (!s) throw new Error(`unknown server "${id}" (have: ${SERVERS.map((x) => x.id).join(', ')})`);
  return s;
}
