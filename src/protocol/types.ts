/**
 * Wire shapes of Ably's realtime protocol (spec TR4, TM2, TP3, CD2) as they cross the
 * WebSocket, before validation. Domain types (what the channel layer stores) are in
 * `message.ts`.
 */
import type { ErrorInfo } from '../errors.js';
import type { MessageVersion, Summary } from './message.js';

/** A Message as a client sends or receives it. `data` may be any JSON value on input. */
export interface WireMessage {
  id?: string;
  name?: string;
  clientId?: string;
  connectionId?: string;
  connectionKey?: string;
  data?: unknown;
  encoding?: string;
  extras?: unknown;
  timestamp?: number;
  action?: number;
  serial?: string;
  version?: MessageVersion;
  /** A summary (action 4), and a message read as it stands: its annotations summed up (TM2u, TM7). */
  annotations?: { summary: Summary };
}

/** An Annotation as a client sends or receives it (TAN2). */
export interface WireAnnotation {
  id?: string;
  /** 0 create, 1 delete. */
  action?: number;
  clientId?: string;
  connectionId?: string;
  name?: string;
  count?: number;
  data?: unknown;
  encoding?: string;
  extras?: unknown;
  timestamp?: number;
  serial?: string;
  messageSerial?: string;
  type?: string;
}

export interface WirePresenceMessage {
  id?: string;
  action: number;
  clientId?: string;
  connectionId?: string;
  data?: unknown;
  encoding?: string;
  extras?: unknown;
  timestamp?: number;
}

export interface ConnectionDetails {
  clientId?: string;
  connectionKey: string;
  maxMessageSize: number;
  maxFrameSize: number;
  maxInboundRate: number;
  connectionStateTtl: number;
  maxIdleInterval: number;
  serverId: string;
  siteCode?: string;
}

export interface AuthDetails {
  accessToken: string;
}

export interface PublishResult {
  serials: (string | null)[];
}

export interface ProtocolMessage {
  action: number;
  flags?: number;
  id?: string;
  timestamp?: number;
  count?: number;
  error?: ErrorInfo;
  connectionId?: string;
  channel?: string;
  channelSerial?: string;
  msgSerial?: number;
  messages?: WireMessage[];
  presence?: WirePresenceMessage[];
  annotations?: WireAnnotation[];
  auth?: AuthDetails;
  connectionDetails?: ConnectionDetails;
  params?: Record<string, string>;
  res?: PublishResult[];
}

/** The two wire formats a client may choose with `format=`. */
export type WireFormat = 'json' | 'msgpack';
