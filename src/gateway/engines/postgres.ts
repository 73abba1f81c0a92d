import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  decoderFor,
  PgClientError,
  PgConnection,
  PgPool,
  PgServerError,
  TypeCatalog,
  type PgField,
  type TextDecoder,
} from '../../../protocols/postgres/client/index.js';
import type { Target } from '../../config/load.js';
import { applyIdentity, clearIdentity } from '../target-identity.js';
import type { QueryOptions, QuerySummary, ResultColumn, ResultSink, TargetEngine } from '../types.js';

export type PostgresEngineErrorCode =
  /** Nothing answers at host:port, or connecting took longer than connectTimeout. */
  | 'ERR_TARGET_UNREACHABLE'
  /** The target refused the login (wrong password, no such role, pg_hba), or we refused its auth. */
  | 'ERR_TARGET_AUTH'
  /** TLS required by the target's `tls` setting could not be established or verified. */
  | 'ERR_TARGET_TLS'
  /** The CA file of the target cannot be read. */
  | 'ERR_TARGET_CA_UNREADABLE'
  /** The server refused the session for another reason (unknown database, too many connections). */
  | 'ERR_TARGET_CONNECT'
  /** The statement failed on the server; `sqlstate` says why. */
  | 'ERR_TARGET_QUERY'
  /** The statement ran past its time limit and was cancelled. */
  | 'ERR_TARGET_TIMEOUT'
  /** The caller aborted the statement and it was cancelled. */
  | 'ERR_TARGET_CANCELLED'
  /** The connection to the target ended under the statement, or the engine was closed. */
  | 'ERR_TARGET_CLOSED'
  /** The target broke the protocol. */
  | 'ERR_TARGET_PROTOCOL';

/**
 * An error of a Postgres target, safe to show a caller: the server's message and fields, the
 * target's name and address, never its password (also scrubbed from any text the server echoes).
 */
export class PostgresEngineError extends Error {
  readonly code: PostgresEngineErrorCode;
  readonly sqlstate: string | undefined;
  readonly severity: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  /** 1-based character position in the statement, when the server reports one. */
  readonly position: number | undefined;

  constructor(
    code: PostgresEngineErrorCode,
    message: string,
    fields: { sqlstate?: string; severity?: string; detail?: string; hint?: string; position?: number } = {},
  ) {
    super(message);
    this.name = 'PostgresEngineError';
    this.code = code;
    this.sqlstate = fields.sqlstate;
    this.severity = fields.severity;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
  }
}

export interface PostgresEngineOptions {
  /** Folder a relative `ca` path is resolved against (the config file's folder). Default: cwd. */
  baseDir?: string;
  /** How long an idle pooled connection is kept. Default 30 s. */
  idleTimeoutMs?: number;
  applicationName?: string;
  /** Transactions on these connections are read-only (default_transaction_read_only). */
  readOnly?: boolean;
}

/**
 * A PostgreSQL target behind the TargetEngine interface: a pool of `target.pool.max` connections,
 * the simple protocol for a statement without parameters and the extended protocol (unnamed
 * statement, text parameters) with them, rows decoded from text to JSON-friendly values and
 * streamed to the sink with backpressure. Abort and timeout cancel the statement on the server.
 */

/** A result the gateway reads for its own purposes and discards. */
const IGNORED = {};

export function createPostgresEngine(
  target: Target,
  logger: Logger,
  options: PostgresEngineOptions = {},
): TargetEngine {
  const log = logger.child({ target: target.name, engine: 'postgres' });
  const address = `${target.host}:${target.port}`;
  const password = target.password;
  let ca: Buffer | undefined;
  if (target.ca !== undefined) {
    const path = resolve(options.baseDir ?? process.cwd(), target.ca);
    try {
      ca = readFileSync(path);
    } catch (err) {
      throw new PostgresEngineError(
        'ERR_TARGET_CA_UNREADABLE',
        `target "${target.name}": CA file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      );
    }
  }

  /** Removes the password from any text that might reach a caller. */
  const scrub = (text: string | undefined): string | undefined => {
    const secret = password?.reveal();
    return text === undefined || secret === undefined || secret === ''
      ? text
      : text.split(secret).join('[secret]');
  };

  const types = new TypeCatalog();
  let typesPrimed = false;
  const toResultColumn = (field: PgField): ResultColumn => ({
    name: field.name,
    type: types.name(field.typeOid) ?? 'unknown',
    typeOid: field.typeOid,
    tableOid: field.tableOid,
    columnAttr: field.columnAttr,
  });

  const pool = new PgPool({
    max: target.pool.max,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    connect: async () => {
      try {
        const connection = await PgConnection.connect({
          host: target.host,
          port: target.port,
          user: target.user,
          database: target.database,
          // Revealed only when the server asks for it, inside the authentication exchange.
          ...(password !== undefined ? { password: () => password.reveal() } : {}),
          tls: target.tls,
          ...(ca !== undefined ? { ca } : {}),
          applicationName: options.applicationName ?? 'sluice',
          ...(options.readOnly === true ? { params: { default_transaction_read_only: 'on' } } : {}),
          connectTimeoutMs: target.connectTimeout,
        });
        log.debug({ address, encrypted: connection.encrypted }, 'connected to target');
        // Type names of enums, domains and extension types: read before the first result needs them.
        if (!typesPrimed) {
          try {
            await types.load(connection);
            typesPrimed = true;
          } catch (err) {
            // Names only: a failure here must not keep the target from being used.
            log.debug({ err: (err as Error).message }, 'reading type names failed');
          }
        }
        if (target.tls === 'prefer' && !connection.encrypted) {
          log.warn({ address }, 'target offers no TLS; tls: prefer falls back to plaintext');
        }
        return connection;
      } catch (err) {
        const mapped = connectError(err, target.name, address, scrub);
        log.warn({ address, code: mapped.code, sqlstate: mapped.sqlstate }, mapped.message);
        throw mapped;
      }
    },
  });

  return {
    dialect: 'postgres',

    async query(sql: string, sink: ResultSink, queryOptions: QueryOptions = {}): Promise<QuerySummary> {
      const { params, signal, timeoutMs, changesSession, identity } = queryOptions;
      const connection = await pool.acquire(signal).catch((err: unknown) => {
        throw err instanceof PostgresEngineError ? err : connectError(err, target.name, address, scrub);
      });
      let decoders: TextDecoder[] = [];
      try {
        if (identity !== undefined) {
          // The caller's identity first: nothing of the statement runs as anyone else.
          const set = applyIdentity(identity);
          await connection.query(set.sql, IGNORED, { params: set.params, ...(signal ? { signal } : {}) });
        }
        const result = await connection.query(
          sql,
          {
            columns(fields) {
              decoders = fields.map((f) => decoderFor(f.typeOid));
              return sink.columns(fields.map(toResultColumn));
            },
            row(values) {
              const decoded = new Array<unknown>(values.length);
              for (let i = 0; i < values.length; i++) {
                const text = values[i];
                decoded[i] = text === null || text === undefined ? null : (decoders[i] as TextDecoder)(text);
              }
              return sink.row(decoded);
            },
          },
          {
            ...(params !== undefined && params.length > 0 ? { params } : {}),
            ...(signal !== undefined ? { signal } : {}),
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          },
        );
        return { command: result.command, rowCount: result.rowCount };
      } catch (err) {
        throw queryError(err, target.name, address, scrub);
      } finally {
        // A type created after the catalog was read was reported as 'unknown' this time; learn its
        // name now, on the connection still in hand, for the next result.
        if (types.hasMissing && connection.reusable) {
          await types.lookUpMissing(connection).catch((err: unknown) => {
            log.debug({ err: (err as Error).message }, 'type name lookup failed');
          });
        }
        if (identity !== undefined && connection.reusable) {
          // Cleared before the connection serves anyone else; when it cannot be, it serves no one.
          await connection
            .query(clearIdentity(identity), IGNORED, {})
            .catch(() => connection.markSessionChanged());
        }
        if (changesSession) connection.markSessionChanged();
        pool.release(connection);
      }
    },

    close(): Promise<void> {
      return pool.close();
    },
  };
}

type Scrub = (text: string | undefined) => string | undefined;

function serverFields(err: PgServerError, scrub: Scrub) {
  const fields: { sqlstate: string; severity: string; detail?: string; hint?: string; position?: number } = {
    sqlstate: err.code,
    severity: err.severity,
  };
  const detail = scrub(err.detail);
  const hint = scrub(err.hint);
  if (detail !== undefined) fields.detail = detail;
  if (hint !== undefined) fields.hint = hint;
  if (err.position !== undefined) fields.position = err.position;
  return fields;
}

/** An error while opening a connection, named by target and address. */
function connectError(err: unknown, name: string, address: string, scrub: Scrub): PostgresEngineError {
  const where = `target "${name}" (${address})`;
  if (err instanceof PostgresEngineError) return err;
  if (err instanceof PgServerError) {
    // SQLSTATE class 28: invalid authorization (wrong password, no pg_hba entry, no such role).
    const code = err.code.startsWith('28') ? 'ERR_TARGET_AUTH' : 'ERR_TARGET_CONNECT';
    return new PostgresEngineError(code, `${where}: ${scrub(err.message)}`, serverFields(err, scrub));
  }
  if (err instanceof PgClientError) {
    return new PostgresEngineError(clientCode(err), `${where}: ${scrub(err.message)}`);
  }
  return new PostgresEngineError(
    'ERR_TARGET_PROTOCOL',
    `${where}: ${scrub((err as Error).message ?? String(err))}`,
  );
}

/**
 * An error of a running statement. The server's message is kept as it is (a caller fixing its SQL
 * needs it); errors that are not the target's (the sink's own, e.g. a masking refusal) pass through.
 */
function queryError(err: unknown, name: string, address: string, scrub: Scrub): unknown {
  if (err instanceof PgServerError) {
    return new PostgresEngineError('ERR_TARGET_QUERY', scrub(err.message) ?? '', serverFields(err, scrub));
  }
  if (err instanceof PgClientError) {
    const cause = err.cause instanceof PgServerError ? serverFields(err.cause, scrub) : {};
    const code = clientCode(err);
    const message =
      code === 'ERR_TARGET_CLOSED' ? `target "${name}" (${address}): ${err.message}` : err.message;
    return new PostgresEngineError(code, scrub(message) ?? '', cause);
  }
  return err;
}

function clientCode(err: PgClientError): PostgresEngineErrorCode {
  switch (err.code) {
    case 'ERR_PG_UNREACHABLE':
    case 'ERR_PG_CONNECT_TIMEOUT':
      return 'ERR_TARGET_UNREACHABLE';
    case 'ERR_PG_TLS':
      return 'ERR_TARGET_TLS';
    case 'ERR_PG_PASSWORD_REQUIRED':
    case 'ERR_PG_AUTH_UNSUPPORTED':
    case 'ERR_PG_AUTH_FAILED':
      return 'ERR_TARGET_AUTH';
    case 'ERR_PG_STATEMENT_TIMEOUT':
      return 'ERR_TARGET_TIMEOUT';
    case 'ERR_PG_QUERY_CANCELLED':
      return 'ERR_TARGET_CANCELLED';
    case 'ERR_PG_CONNECTION_CLOSED':
    case 'ERR_PG_POOL_CLOSED':
      return 'ERR_TARGET_CLOSED';
    case 'ERR_PG_PARAMETER':
    case 'ERR_PG_INVALID_TEXT':
      return 'ERR_TARGET_QUERY';
    default:
      return 'ERR_TARGET_PROTOCOL';
  }
}
