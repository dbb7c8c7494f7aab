/**
 * API keys (`appId.keyId:secret`) and the credentials a request or connection carries
 * once authenticated.
 */
import { timingSafeEqual } from 'node:crypto';
import { AblyError } from '../errors.js';
import type { AppConfig } from '../config/topology.js';
import { parseCapability, type Capability } from './capability.js';
import type { RevocableToken } from './revocations.js';

export interface ApiKey {
  appId: string;
  /** `appId.keyId`: Ably's key name. */
  keyName: string;
  secret: string;
  capability: Capability;
  /** Its tokens can be revoked (revocations.ts), and live an hour at most. */
  revocableTokens: boolean;
  /** Its app's channel rules. */
  rules: ChannelRules;
}

/** An app's channel rules (the topology's `apps[].namespaces`). */
export class ChannelRules {
  private readonly mutable: ReadonlySet<string>;

  constructor(namespaces: readonly { id: string; mutableMessages?: boolean }[] = []) {
    this.mutable = new Set(namespaces.filter((n) => n.mutableMessages).map((n) => n.id));
  }

  /** Whether the messages of channel `name` (unqualified) can be changed: its namespace (before its first `:`) has the rule. */
  mutableMessages(name: string): boolean {
    const i = name.indexOf(':');
    return i > 0 && this.mutable.has(name.slice(0, i));
  }
}

/** Who is asking, and what they may do. */
export interface Credentials {
  appId: string;
  keyName: string;
  capability: Capability;
  /**
   * The identity the client may use: a clientId, `'*'` (may act as any clientId; what a
   * key holder can do), or null (anonymous: may not name a clientId).
   */
  clientId: string | null;
  via: 'basic' | 'token' | 'jwt';
  /** When token credentials stop being valid (ms), or null for keys. */
  expiresAt: number | null;
  /** A token of a key with revocable tokens: what revocations match it by (revocations.ts). */
  revocable?: RevocableToken;
  /** Its app's channel rules. */
  rules: ChannelRules;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export class KeyStore {
  private readonly keys = new Map<string, ApiKey>();

  constructor(apps: readonly AppConfig[]) {
    for (const app of apps) {
      const rules = new ChannelRules(app.namespaces);
      for (const k of app.keys) {
        const keyName = `${app.id}.${k.id}`;
        this.keys.set(keyName, { appId: app.id, keyName, secret: k.secret, capability: parseCapability(k.capability), revocableTokens: k.revocableTokens ?? false, rules });
      }
    }
  }

  get(keyName: string): ApiKey | undefined {
    return this.keys.get(keyName);
  }

  /** The first key of the deployment (printed by `ably-ng up` for convenience). */
  first(): ApiKey | undefined {
    return this.keys.values().next().value;
  }

  /** Verifies a whole key `appId.keyId:secret`. Throws 40101 (or 40005 when malformed). */
  verify(fullKey: string): ApiKey {
    const i = fullKey.indexOf(':');
    if (i <= 0 || i === fullKey.length - 1) throw AblyError.of('invalidCredential', 'key must be "appId.keyId:secret"');
    const keyName = fullKey.slice(0, i);
    const secret = fullKey.slice(i + 1);
    const k = this.keys.get(keyName);
    if (!k || !safeEqual(k.secret, secret)) throw AblyError.of('invalidCredentials', `no key "${keyName}" with that secret`);
    return k;
  }

  /** Credentials for a key holder, optionally acting as `clientId`. */
  keyCredentials(k: ApiKey, clientId: string | null): Credentials {
    return {
      appId: k.appId,
      keyName: k.keyName,
      capability: k.capability,
      clientId: clientId ?? '*',
      via: 'basic',
      expiresAt: null,
      rules: k.rules,
    };
  }
}

/** Parses `Authorization: Basic base64(key)`; returns the key text. */
export function parseBasic(header: string): string {
  const b64 = header.slice('basic '.length).trim();
  const text = Buffer.from(b64, 'base64').toString('utf8');
  if (!text.includes(':')) throw AblyError.of('invalidCredential', 'Basic credentials must be base64("appId.keyId:secret")');
  return text;
}
