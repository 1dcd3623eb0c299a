/**
 * Sign-in tokens, as small as an example allows: a name is enough to sign in (no password),
 * a token can be refreshed, and a refreshed token's predecessor stops working. Enough to show
 * where credentials enter a subscription: once per connection, in `createContext`.
 */
import { randomBytes } from 'node:crypto';

export interface Session {
  user: string;
  /** Which of the user's tokens this is: 1 for the first, 2 after a refresh, … */
  tokenNo: number;
}

export class Sessions {
  readonly #byToken = new Map<string, Session>();
  readonly #issued = new Map<string, number>();

  signIn(user: string): { token: string; session: Session } {
    const tokenNo = (this.#issued.get(user) ?? 0) + 1;
    this.#issued.set(user, tokenNo);
    const token = randomBytes(18).toString('base64url');
    const session = { user, tokenNo };
    this.#byToken.set(token, session);
    return { token, session };
  }

  /** A new token for the same user; the old one is revoked. */
  refresh(oldToken: string): { token: string; session: Session } | null {
    const current = this.#byToken.get(oldToken);
    if (!current) return null;
    this.#byToken.delete(oldToken);
    return this.signIn(current.user);
  }

  /** The session of an `Authorization: Bearer …` header, or null. */
  fromAuthorization(header: string | undefined): Session | null {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    return token ? (this.#byToken.get(token) ?? null) : null;
  }
}
