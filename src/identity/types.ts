/** Who is asking. Built by src/identity from a verified token; never from unverified input. */
export interface Identity {
  /** Stable subject: the token's `sub` (or configured subject claim). */
  subject: string;
  groups: string[];
  /** The token issuer: an OIDC issuer URL, or the gateway's own issuer for Sluice tokens. */
  issuer: string;
  /** How the identity was proven. `operator` is a local CLI user (sluice check). */
  via: 'oidc' | 'gateway' | 'operator';
  /** A Sluice token bound to one target may reach only that target. */
  target?: string;
  /**
   * The token's claims, for policies that read them (row filters: `{claims.tenant}`): an OIDC
   * token's verified payload, or a Sluice token's `claims` with its `sub`.
   */
  claims?: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds at which the credential stops being valid. */
  expiresAt?: number;
}
