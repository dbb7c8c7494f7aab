/**
 * A realtime connection's watch on its token. It ends the connection (DISCONNECTED, on
 * which the SDK gets a new token through its authCallback or authUrl and resumes) when the
 * token expires (40142) or is revoked (40141, README "Token revocation"). A revocation
 * that applies later (`allowReauthMargin`) first asks the client to renew its token in
 * band (a server AUTH, RTN22): once it has, its new token is not the revoked one and the
 * connection goes on. Connections on a key have nothing to watch.
 */
import type { Credentials } from '../auth/keys.js';
import { AblyError } from '../errors.js';
import type { Authenticator } from './auth.js';

/** A revocation this far off or more (ms) asks the client to renew first (allowReauthMargin); a nearer one (a JWT's second) only ends the connection then. */
const HINT_FROM_MS = 1000;
/** The longest wait a timer takes (2^31 - 1 ms, about 24.8 days); Node fires a longer one at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenWatch {
  private expiry: NodeJS.Timeout | null = null;
  private revocation: NodeJS.Timeout | null = null;
  /** A JWT holder's request to renew, a second on. */
  private hint: NodeJS.Timeout | null = null;
  /** The client was asked to renew its token for the revocation now pending. */
  private asked = false;
  /** Armed once the connection has started (CONNECTED sent): nothing goes to the client before. */
  private armed = false;

  constructor(
    private readonly o: {
      auth: Authenticator;
      credentials(): Credentials;
      /** Ends the connection with this error (DISCONNECTED). */
      end(err: AblyError): void;
      /** Asks the client to renew its token (a server AUTH). */
      askReauth(): void;
    },
  ) {}

  /** Watches the connection's credentials as they are now (at the start, after an in-band AUTH). */
  arm(): void {
    this.armed = true;
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    this.watchExpiry();
    this.checkRevoked();
  }

  /**
   * Ends the connection when its token expires. A timer waits at most about 24.8 days
   * (2^31 - 1 ms; longer, Node fires it at once), and a JWT's exp has no upper bound
   * (an Ably token's lifetime does): a longer wait is made in steps.
   */
  private watchExpiry(): void {
    const at = this.o.credentials().expiresAt;
    if (at === null) return;
    const wait = at - this.o.auth.now();
    this.expiry = setTimeout(() => {
      if (at <= this.o.auth.now()) this.o.end(AblyError.of('tokenExpired', "the connection's token expired; renew it and resume"));
      else this.watchExpiry();
    }, Math.min(Math.max(0, wait), MAX_TIMER_MS));
    this.expiry.unref();
  }

  /** The node heard of new revocations of these keys: is the token among them? */
  revocationsChanged(keys: ReadonlySet<string>): void {
    const token = this.o.credentials().revocable;
    if (this.armed && token && keys.has(token.keyName)) this.checkRevoked();
  }

  /** Looks for a revocation of the token (at arm, and when one of its key's comes in). */
  checkRevoked(): void {
    if (this.revocation) clearTimeout(this.revocation);
    this.revocation = null;
    const token = this.o.credentials().revocable;
    const at = token && this.o.auth.revokedAt ? this.o.auth.revokedAt(token) : null;
    if (at === null) {
      this.asked = false;
      if (this.hint) clearTimeout(this.hint);
      this.hint = null;
      return;
    }
    const wait = at - this.o.auth.now();
    if (wait <= 0) {
      this.o.end(AblyError.of('tokenRevoked', "the connection's token was revoked; renew it and resume"));
      return;
    }
    if (!this.asked && wait >= HINT_FROM_MS) {
      this.asked = true;
      // A JWT's iat is whole seconds: asked a second on, its holder signs one of a later
      // second than the revocation's issuedBefore (now or before), which does not match it.
      if (token?.jwt) {
        this.hint = setTimeout(() => {
          this.hint = null;
          this.o.askReauth();
        }, 1000);
        this.hint.unref();
      } else this.o.askReauth();
    }
    // A peer's revocation applies at most an hour and 30 s on (isRevocation): in a timer's range.
    this.revocation = setTimeout(() => this.checkRevoked(), Math.min(wait, MAX_TIMER_MS));
    this.revocation.unref();
  }

  stop(): void {
    this.armed = false;
    for (const t of [this.expiry, this.revocation, this.hint]) if (t) clearTimeout(t);
    this.expiry = this.revocation = this.hint = null;
  }
}
