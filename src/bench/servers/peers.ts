/**
 * The peers ably-ng is measured against, each started on loopback, pinned to the
 * server's CPUs, and reached over WebSocket by the same load generator:
 * raw `ws` (plain and corked), socket.io 4, nats-server (Debian) with its WebSocket
 * listener, mosquitto (Debian) with a websockets listener.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../util.js';
import { CHANNEL, keepStderr, readyLine, waitForPort, type RunningServer, type ServerContext, type ServerDef } from './server.js';

function peerScript(name: string): string {
  return fileURLToPath(new URL(`../peers/${name}.js`, import.meta.url));
}

/** A Node peer program from dist/bench/peers that prints a ready line with its port. */
async function startNodePeer(ctx: ServerContext, id: string, label: string, script: string, args: string[], protocol: 'ws' | 'socketio'): Promise<RunningServer> {
  const port = await freePort();
  const s = ctx.processes.spawn(id, process.execPath, [peerScript(script), '--port', String(port), ...args], { cpus: ctx.cpus });
  const stderr = keepStderr(s);
  await readyLine<{ ready: boolean }>(s, (v) => v.ready === true).catch(async (e) => {
    await ctx.processes.stop(s);
    throw new Error(`${(e as Error).message}\n${stderr().join('\n')}`);
  });
  const url = protocol === 'ws' ? `ws://127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
  return {
    id,
    label,
    target: { protocol, subscriberUrls: [`${url}/?role=sub`], publisherUrl: `${url}/?role=pub`, channel: CHANNEL },
    pids: [s.pid],
    problems: stderr,
    stop: () => ctx.processes.stop(s),
  };
}

export const wsPlainServer: ServerDef = {
  id: 'ws',
  label: 'ws (plain)',
  protocol: 'ws',
  describe: 'minimal `ws` broadcast server: `ws.send` to each subscriber, one write per subscriber per message',
  start: (ctx) => startNodePeer(ctx, 'ws', 'ws (plain)', 'ws-server', ['--mode', 'plain'], 'ws'),
};

export const wsCorkedServer: ServerDef = {
  id: 'ws-corked',
  label: 'ws (frame once, corked)',
  protocol: 'ws',
  describe: '`ws` broadcast server, frame built once per message, sockets corked per event-loop turn',
  start: (ctx) => startNodePeer(ctx, 'ws-corked', 'ws (frame once, corked)', 'ws-server', ['--mode', 'corked'], 'ws'),
};

export const socketIoServer: ServerDef = {
  id: 'socket.io',
  label: 'socket.io 4 (room)',
  protocol: 'socketio',
  describe: 'socket.io 4 server, subscribers in one room, websocket transport only',
  start: (ctx) => startNodePeer(ctx, 'socket.io', 'socket.io 4 (room)', 'socketio-server', [], 'socketio'),
};

export const natsServer: ServerDef = {
  id: 'nats',
  label: 'nats-server (WebSocket)',
  protocol: 'nats',
  describe: 'nats-server (Debian) with its WebSocket listener (no TLS, no compression); core NATS SUB/PUB',
  async start(ctx: ServerContext): Promise<RunningServer> {
    const [tcpPort, wsPort] = [await freePort(), await freePort()];
    const conf = join(ctx.dir, 'nats.conf');
    writeFileSync(
      conf,
      [
        `listen: "127.0.0.1:${tcpPort}"`,
        'max_payload: 1048576',
        'websocket {',
        '  host: "127.0.0.1"',
        `  port: ${wsPort}`,
        '  no_tls: true',
        '  compression: false',
        '}',
        '',
      ].join('\n'),
    );
    const s = ctx.processes.spawn('nats-server', 'nats-server', ['-c', conf], { cpus: ctx.cpus });
    const stderr = keepStderr(s, 200);
    await waitForPort(s, wsPort).catch(async (e) => {
      await ctx.processes.stop(s);
      throw new Error(`${(e as Error).message}\n${stderr().join('\n')}`);
    });
    const url = `ws://127.0.0.1:${wsPort}`;
    return {
      id: 'nats',
      label: 'nats-server (WebSocket)',
      target: { protocol: 'nats', subscriberUrls: [url], publisherUrl: url, channel: CHANNEL },
      pids: [s.pid],
      // nats-server logs its start-up at [INF]; only warnings and errors matter here, less
      // the one about plain-text WebSocket (loopback on purpose).
      problems: () => stderr().filter((l) => /\[(WRN|ERR|FTL)\]/.test(l) && !l.includes('Websocket not configured with TLS')),
      stop: () => ctx.processes.stop(s),
    };
  },
};

export const mosquittoServer: ServerDef = {
  id: 'mosquitto',
  label: 'mosquitto (websockets)',
  protocol: 'mqtt',
  describe: 'mosquitto (Debian) with a websockets listener; MQTT 3.1.1, QoS 0, default queue limits',
  async start(ctx: ServerContext): Promise<RunningServer> {
    const [port, mqttPort] = [await freePort(), await freePort()];
    const conf = join(ctx.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        'per_listener_settings false',
        'allow_anonymous true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'connection_messages false',
        // mosquitto 2.0.11 refuses to start with only a websockets listener ("Unable to
        // start any listening sockets"), so a plain MQTT listener comes first (unused).
        `listener ${mqttPort} 127.0.0.1`,
        `listener ${port} 127.0.0.1`,
        'protocol websockets',
        // Without it the websockets listener binds every interface, whatever the address.
        'socket_domain ipv4',
        '',
      ].join('\n'),
    );
    const s = ctx.processes.spawn('mosquitto', 'mosquitto', ['-c', conf], { cpus: ctx.cpus });
    const stderr = keepStderr(s, 200);
    await waitForPort(s, port).catch(async (e) => {
      await ctx.processes.stop(s);
      throw new Error(`${(e as Error).message}\n${stderr().join('\n')}`);
    });
    const url = `ws://127.0.0.1:${port}`;
    return {
      id: 'mosquitto',
      label: 'mosquitto (websockets)',
      target: { protocol: 'mqtt', subscriberUrls: [url], publisherUrl: url, channel: CHANNEL },
      pids: [s.pid],
      problems: stderr,
      stop: () => ctx.processes.stop(s),
    };
  },
};
