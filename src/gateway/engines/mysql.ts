import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  MysqlClient,
  type MysqlClientEvent,
  type MysqlColumn,
  type MysqlOk,
} from '../../../protocols/mysql/client.js';
import { MysqlClientError } from '../../../protocols/mysql/errors.js';
import { convertRow, valueConverters, type ValueConverter } from '../../../protocols/mysql/values.js';
import type { Target } from '../../config/load.js';
import { mysqlIdentityState } from '../target-identity.js';
import type {
  QueryOptions,
  QuerySummary,
  ResultColumn,
  ResultSink,
  TargetEngine,
  TargetOk,
} from '../types.js';

/** ER_PARSE_ERROR: the server's own syntax error. */
const ER_PARSE_ERROR = 1064;

/** A versioned comment (`/*!`, `/*M!`): refused as such, never shown to the target at all. */
const VERSIONED_COMMENT = /\/\*M?!/i;

function toResultColumn(column: MysqlColumn): ResultColumn {
  return {
    name: column.name,
    type: column.type,
    orgSchema: column.orgSchema,
    orgTable: column.orgTable,
    orgName: column.orgName,
    mysql: {
      name: column.name,
      type: column.typeCode,
      schema: column.orgSchema,
      table: column.table,
      orgTable: column.orgTable,
      orgName: column.orgName,
      characterSet: column.characterSet,
      columnLength: column.columnLength,
      flags: column.flags,
      decimals: column.decimals,
      extendedTypeName: column.extendedTypeName,
      extendedFormat: column.extendedFormat,
    },
  };
}

const ROW_SOURCES = new Set(['WITH', 'VALUES', 'TABLE']);

/** The statement's leading keyword (SELECT, UPDATE, SHOW, ...), past comments and parentheses. */
export function commandOf(sql: string): string {
  const text = sql.replace(/^(?:\s+|\(|--[^\n]*\n?|#[^\n]*\n?|\/\*(?!!)[\s\S]*?\*\/)*/, '');
  const word = /^[A-Za-z]+/.exec(text);
  return word ? word[0].toUpperCase() : 'UNKNOWN';
}

export interface MysqlEngineOptions {
  /** Folder a relative `ca` path is resolved against (the config file's folder). Default: cwd. */
  baseDir?: string;
  /** Transactions on these connections are read-only (SET SESSION TRANSACTION READ ONLY). */
  readOnly?: boolean;
}

function readCa(target: Target, baseDir: string): Buffer | undefined {
  if (target.ca === undefined) return undefined;
  const path = resolve(baseDir, target.ca);
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new MysqlClientError(
      'ERR_TARGET_CA_UNREADABLE',
      `target "${target.name}": CA file ${path} cannot be read (${reason})`,
    );
  }
}

/**
 * A MySQL/MariaDB target behind the TargetEngine interface: a small pool, text protocol for plain
 * statements, prepared statements when there are parameters, rows streamed to the sink as
 * JSON-friendly values. Errors are MysqlClientError (code, errno, SQLSTATE); none carries the
 * target password.
 */
export function createMysqlEngine(
  target: Target,
  logger: Logger,
  options: MysqlEngineOptions = {},
): TargetEngine {
  const log = logger.child({ target: target.name, engine: 'mysql' });
  const client = new MysqlClient(
    {
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password?.reveal(),
      database: target.database,
      tls: target.tls,
      ca: readCa(target, options.baseDir ?? process.cwd()),
      poolMax: target.pool.max,
      connectTimeoutMs: target.connectTimeout,
      readOnly: options.readOnly === true,
    },
    (event: MysqlClientEvent) => {
      if (event.type === 'tls-fallback')
        log.warn(
          { host: event.host, port: event.port },
          'target offers no TLS; tls: prefer falls back to plaintext',
        );
      else log.warn({ threadId: event.threadId, err: event.error.message }, 'KILL QUERY failed');
    },
  );

  return {
    dialect: 'mysql',

    async query(sql: string, sink: ResultSink, queryOptions: QueryOptions = {}): Promise<QuerySummary> {
      let converters: ValueConverter[] = [];
      const result = await client.query(
        sql,
        {
          columns(columns) {
            converters = valueConverters(columns, queryOptions.wireValues === true ? 'wire' : 'json');
            return sink.columns(columns.map(toResultColumn));
          },
          row(values) {
            return sink.row(convertRow(values, converters));
          },
        },
        {
          params: queryOptions.params,
          signal: queryOptions.signal,
          timeoutMs: queryOptions.timeoutMs,
          changesSession: queryOptions.changesSession,
          wireForm: queryOptions.wireValues,
          localFile: queryOptions.localFile,
          // The caller's identity first: nothing of the statement runs as anyone else.
          state: queryOptions.identity ? mysqlIdentityState(queryOptions.identity) : undefined,
        },
      );
      const command = commandOf(sql);
      // A result set from WITH ... SELECT, VALUES or TABLE is a SELECT to the caller.
      const rowsCommand = ROW_SOURCES.has(command) ? 'SELECT' : command;
      if (result.kind === 'rows') {
        const summary = { command: `${rowsCommand} ${result.rowCount}`, rowCount: result.rowCount };
        // A CALL's own OK after its result sets, with the affected rows it reports.
        return result.ok
          ? { ...summary, ok: { ...targetOk(result.ok), affectedRows: result.ok.affectedRows } }
          : summary;
      }
      return {
        command: `${command} ${result.affectedRows}`,
        rowCount: result.affectedRows,
        ok: targetOk(result),
      };
    },

    async describe(sql: string) {
      const { params, columns } = await client.describe(sql);
      return { params: params.map(toResultColumn), columns: columns.map(toResultColumn) };
    },

    forgetPrepared(sql: string): Promise<void> {
      return client.forgetPrepared(sql);
    },

    async syntaxError(sql: string): Promise<string | undefined> {
      if (VERSIONED_COMMENT.test(sql)) return undefined;
      try {
        await client.describe(sql);
      } catch (err) {
        return err instanceof MysqlClientError && err.errno === ER_PARSE_ERROR ? err.message : undefined;
      }
      await client.forgetPrepared(sql);
      return undefined;
    },

    close(): Promise<void> {
      return client.close();
    },
  };
}

function targetOk(ok: MysqlOk): TargetOk {
  return { insertId: ok.insertId, warnings: ok.warnings, info: ok.info, serverStatus: ok.serverStatus };
}
