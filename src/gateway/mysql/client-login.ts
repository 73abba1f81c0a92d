import type { Logger } from 'pino';
import type { MysqlAuthRequest } from '../../../protocols/mysql/server/index.js';
import type { Config } from '../../config/load.js';
import { AuthError, type Authenticator } from '../../identity/index.js';
import type { Identity } from '../../identity/types.js';
import { GatewayError } from '../errors.js';
import type { Gateway, GatewaySession } from '../gateway.js';

export interface LoginParts {
  config: Config;
  gateway: Gateway;
  authenticator: Authenticator;
  logger: Logger;
}

export type LoginOutcome =
  | { ok: true; session: GatewaySession }
  /** Logged in without a database: the identity picks a target with USE (see client-session.ts). */
  | { ok: true; identity: Identity }
  | { ok: false; message: string };

export type BindOutcome = { ok: true; session: GatewaySession } | { ok: false; message: string };

/** Client-chosen text echoed in a refusal is cut short; it is the client's own, but unbounded. */
const MAX_ECHOED_USER = 64;

/**
 * Turns a MySQL login into a gateway session: the password is a token (OIDC or Sluice), the user
 * must be the token's subject, and the database names a MySQL target the identity may reach.
 * Every refusal gives the client the same generic text (answered as 1045 / 28000), so a caller
 * learns neither why a token failed nor which target names exist; the reason goes to the log.
 * The token itself never reaches a log line or a reply.
 */
export async function loginMysqlClient(
  parts: LoginParts,
  request: MysqlAuthRequest,
  remote: string | undefined,
): Promise<LoginOutcome> {
  const log = parts.logger;
  const user = request.user.slice(0, MAX_ECHOED_USER);
  /** `cause` is the safe part of why, for the client (never a secret). */
  const refuse = (reason: string, fields: Record<string, unknown> = {}, cause?: string): LoginOutcome => {
    log.info({ event: 'mysql.auth', remote, user, ...fields }, `mysql login refused: ${reason}`);
    return { ok: false, message: `Access denied for user '${user}'${cause ? ` (${cause})` : ''}` };
  };

  const allowPlaintext = parts.config.server.mysql?.allowPlaintextAuth ?? false;
  if (!request.tls && !allowPlaintext) {
    // The connection already refuses before asking; checked again so that a change there cannot
    // silently accept tokens sent in clear.
    return refuse('token sent without TLS');
  }

  let identity: Identity;
  try {
    identity = await parts.authenticator.authenticate(request.password, {
      channel: 'mysql',
      ...(remote ? { remote } : {}),
    });
  } catch (err) {
    if (err instanceof AuthError) return refuse('bad token', { code: err.code }, err.publicMessage);
    throw err;
  }
  if (identity.subject !== request.user) {
    // The user name is what the target's process list and our logs show; it must be who the token says.
    return refuse('user is not the token subject', { subject: identity.subject });
  }
  const database = request.database;
  if (database === undefined || database === '') {
    // What GUI tools and test runners do first: logged in, the connection lists its targets and
    // waits for a USE.
    log.info(
      { event: 'mysql.auth', remote, subject: identity.subject },
      'mysql login accepted, no target yet',
    );
    return { ok: true, identity };
  }
  const bound = openTargetSession(parts, identity, database, remote);
  return bound.ok ? bound : refuse(bound.message, { subject: identity.subject, database });
}

/**
 * Opens the gateway session of `identity` on the MySQL target `database`: at login, or at the
 * first USE of a connection that logged in without one. `message` says why not, for the log.
 */
export function openTargetSession(
  parts: LoginParts,
  identity: Identity,
  database: string,
  remote: string | undefined,
): BindOutcome {
  const log = parts.logger;
  const target = parts.config.targets.get(database);
  if (target === undefined || target.engine !== 'mysql') return { ok: false, message: 'not a MySQL target' };
  try {
    const session = parts.gateway.openSession({
      identity,
      target: database,
      channel: 'mysql',
      ...(remote ? { remote } : {}),
      // USE, SET, transactions and prepared statements live on the connection: each client gets its own.
      dedicatedConnection: true,
    });
    log.info(
      {
        event: 'mysql.auth',
        remote,
        subject: identity.subject,
        target: database,
        session: session.context.id,
      },
      'mysql login accepted',
    );
    return { ok: true, session };
  } catch (err) {
    if (err instanceof GatewayError) return { ok: false, message: 'target not reachable for this identity' };
    throw err;
  }
}
