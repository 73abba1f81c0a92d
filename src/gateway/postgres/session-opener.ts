import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { openRelayLink, type RelayLink } from '../../../protocols/postgres/client/relay-link.js';
import { sendCancelRequest } from '../../../protocols/postgres/client/index.js';
import { noticeResponse } from '../../../protocols/postgres/codec/index.js';
import type {
  AuthenticationRequest,
  AuthenticationResult,
  PgServerConnection,
} from '../../../protocols/postgres/server/index.js';
import type { Config } from '../../config/load.js';
import { AuthError, type Authenticator } from '../../identity/index.js';
import type { Identity } from '../../identity/types.js';
import type { LineageMasking } from '../../masking/index.js';
import type { Recorder } from '../../recording/types.js';
import type { PolicyGuard } from '../../guard/index.js';
import { approvalInstructions, formatWait, wireApprovalWaitMs } from '../approval-notice.js';
import { GatewayError } from '../errors.js';
import type { Gateway, WireSession } from '../gateway.js';
import type { CancelKeys, CancelTarget } from './cancel-keys.js';
import { ClientSession } from './client-session.js';
import { decideStartupSettings } from './startup-settings.js';
import { sessionMasking } from './wire-masking.js';
import { readsOnly } from '../../guard/policy.js';

export interface SessionOpenerParts {
  config: Config;
  gateway: Gateway;
  authenticator: Authenticator;
  masking: LineageMasking;
  guard: PolicyGuard;
  recorder: Recorder;
  cancelKeys: CancelKeys;
  logger: Logger;
  now: () => number;
}

export type OpenedSession =
  | { ok: true; session: ClientSession; result: AuthenticationResult }
  | { ok: false; result: AuthenticationResult };

/**
 * Turns a client's StartupMessage and password into a relayed session: the password is a token
 * (OIDC or Sluice), the user must be the token's subject, the database names a target the
 * identity may reach. Refusals are generic on the wire; the reason goes to the log.
 */
export async function openClientSession(
  parts: SessionOpenerParts,
  request: AuthenticationRequest,
  connection: PgServerConnection,
  remote: string | undefined,
): Promise<OpenedSession> {
  const log = parts.logger;
  const refuseLogin = (
    sqlState: '28P01' | '28000' | '08006' | '3D000' | '42501',
    message: string,
  ): OpenedSession => ({
    ok: false,
    result: { ok: false, sqlState, message },
  });
  const badPassword = (cause: string) =>
    refuseLogin('28P01', `password authentication failed for user "${request.user}": ${cause}`);
  const notAllowed = () =>
    refuseLogin('28000', `user "${request.user}" may not connect to database "${request.database}"`);

  let identity: Identity;
  try {
    identity = await parts.authenticator.authenticate(request.password, {
      channel: 'postgres',
      ...(remote ? { remote } : {}),
    });
  } catch (err) {
    if (err instanceof AuthError) {
      log.info(
        { event: 'postgres.auth', remote, user: request.user, code: err.code },
        'postgres login refused: bad token',
      );
      return badPassword(err.publicMessage);
    }
    throw err;
  }
  if (identity.subject !== request.user) {
    // The user name is what logs and pg_stat_activity show; it must be who the token says.
    log.info(
      { event: 'postgres.auth', remote, user: request.user, subject: identity.subject },
      'postgres login refused: user is not the token subject',
    );
    return notAllowed();
  }

  let wire: WireSession;
  try {
    wire = parts.gateway.openWireSession({
      identity,
      target: request.database,
      channel: 'postgres',
      ...(remote ? { remote } : {}),
    });
  } catch (err) {
    if (err instanceof GatewayError) {
      log.info(
        { event: 'postgres.auth', remote, user: request.user, database: request.database, code: err.code },
        'postgres login refused: target not reachable for this identity',
      );
      // As PostgreSQL says for a database it does not have, naming those this identity may use.
      if (err.code === 'ERR_UNKNOWN_TARGET') return refuseLogin('3D000', err.message);
      if (err.code === 'ERR_TARGET_IDENTITY') return refuseLogin('42501', err.message);
      return notAllowed();
    }
    throw err;
  }
  const target = wire.target;
  if (target.engine !== 'postgres') {
    wire.close('not a postgres target');
    return refuseLogin(
      '3D000',
      `database "${request.database}" is a ${target.engine} target: connect to it through the MySQL listener`,
    );
  }

  // Startup parameters are the SETs they stand for, decided by the policy before the target sees them.
  const startup = await decideStartupSettings(request.parameters, parts.guard, wire.context, (sql, verdict) =>
    parts.masking.precheck({ session: wire.context, sql, verdict }),
  );
  if (!startup.ok) {
    log.info(
      {
        event: 'postgres.auth',
        remote,
        user: request.user,
        session: wire.context.id,
        reason: startup.message,
      },
      'postgres login refused: a startup parameter is not allowed',
    );
    wire.close(`startup refused: ${startup.message}`);
    return refuseLogin('42501', startup.message);
  }

  let link: RelayLink;
  try {
    link = await openRelayLink({
      host: target.host,
      port: target.port,
      user: target.user,
      database: target.database,
      // Revealed only when the target asks for it, never stored elsewhere.
      password: () => target.password?.reveal() ?? '',
      tls: target.tls,
      ...(target.ca ? { ca: readFileSync(resolve(parts.config.baseDir, target.ca)) } : {}),
      // A read-only policy's session is read-only at the target too (see readsOnly). Set after
      // the client's own settings, so none of them can turn it off.
      params: {
        ...startup.settings,
        // The caller's identity at the target (target.identity), as startup settings: RESET ALL
        // and DISCARD ALL return to them, and changing them is a `session` statement.
        ...wire.identity?.settings,
        ...(wire.identity?.role !== undefined ? { role: wire.identity.role } : {}),
        ...(readsOnly(wire.policy) ? { default_transaction_read_only: 'on' } : {}),
      },
      connectTimeoutMs: target.connectTimeout,
    });
  } catch (err) {
    log.warn(
      {
        event: 'postgres.target',
        session: wire.context.id,
        target: target.name,
        err: (err as Error).message,
      },
      'postgres session refused: cannot open the target connection',
    );
    wire.close('target unavailable');
    return refuseLogin('08006', `database "${request.database}" is not available now: ${targetFailure(err)}`);
  }

  const statementTimeoutMs = wire.policy.limits.statementTimeout;
  const targetKey: CancelTarget = {
    host: target.host,
    port: target.port,
    key: link.backendKey,
    // A target that cannot cancel (the demo's embedded Postgres): say so instead of a silent wait.
    ...(target.cancel === false
      ? {
          cannotCancel: () =>
            connection.write(
              noticeResponse({
                severity: 'NOTICE',
                code: '00000',
                message: `cancel requested, but database "${request.database}" cannot cancel a running statement: it runs until it ends or reaches the statement timeout (${formatWait(statementTimeoutMs)})`,
              }),
            ),
        }
      : {}),
  };
  const backendKey = parts.cancelKeys.issue(targetKey);
  const sessionId = wire.context.id;
  const session = new ClientSession(
    {
      connection,
      wire,
      link,
      masking: sessionMasking(parts.masking, wire.context),
      prepared: parts.guard.preparedStatements(sessionId),
      approvalWaitMs: wireApprovalWaitMs(parts.config),
      approvalInstructions: approvalInstructions(parts.config),
      cancelTarget: () => {
        sendCancelRequest(target.host, target.port, link.backendKey).catch((err: unknown) =>
          log.warn(
            { session: sessionId, err: (err as Error).message },
            'cancel request to the target failed',
          ),
        );
      },
      flushRecording: () => parts.recorder.flush(),
      logger: log,
      now: parts.now,
    },
    wire.policy.limits.statementTimeout,
  );
  const closeSession = session.close.bind(session);
  session.close = (reason: string) => {
    parts.cancelKeys.revoke(backendKey.processId);
    parts.guard.endSession(sessionId);
    closeSession(reason);
  };
  return {
    ok: true,
    session,
    result: { ok: true, parameterStatus: link.parameters, backendKey },
  };
}

/**
 * Why the target connection could not be opened, as far as the client may know: the kind of
 * failure, never an address, a user name or a password.
 */
export function targetFailure(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const message = `${err instanceof Error ? err.message : String(err)} ${cause instanceof Error ? cause.message : ''}`;
  const codes = new Set<unknown>([
    (err as { code?: unknown }).code,
    (cause as { code?: unknown } | undefined)?.code,
    (err as { sqlState?: unknown }).sqlState,
    /\b(ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ECONNRESET|EPIPE)\b/.exec(message)?.[1],
  ]);
  if (codes.has('ECONNREFUSED')) return 'the database server refused the connection';
  if (codes.has('ETIMEDOUT') || /timed? ?out/i.test(message))
    return 'the database server did not answer in time';
  if (codes.has('ENOTFOUND') || codes.has('EAI_AGAIN'))
    return "the database server's host name does not resolve";
  if (codes.has('28P01') || codes.has('28000') || /authentication|password/i.test(message))
    return "the database refused the gateway's credentials";
  if (codes.has('3D000')) return 'the database does not exist on the server';
  if (/\b(tls|ssl|certificate)\b/i.test(message)) return 'TLS to the database server failed';
  if (codes.has('ECONNRESET') || codes.has('EPIPE')) return 'the database server closed the connection';
  return 'the database server cannot be reached';
}
