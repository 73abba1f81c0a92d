import type { MysqlCommand, MysqlReply } from '../../../protocols/mysql/server/index.js';
import { wireColumns, wireRow } from './wire-columns.js';
import { MysqlErrno } from './wire-errors.js';

/** ER_NO_DB_ERROR: a statement on a connection that has no target yet. */
const NO_DATABASE = 1046;

const SHOW_DATABASES = /^\s*SHOW\s+(DATABASES|SCHEMAS)\s*;?\s*$/i;
const USE = /^\s*USE\s+(`(?:[^`]|``)+`|[\w$-]+)\s*;?\s*$/i;
const SELECT_DATABASE = /^\s*SELECT\s+DATABASE\s*\(\s*\)\s*;?\s*$/i;
/** What the mysql and mariadb CLIs ask right after connecting. */
const VERSION_COMMENT = /^\s*SELECT\s+@@version_comment(\s+LIMIT\s+1)?\s*;?\s*$/i;

export interface UnboundHost {
  /** The MySQL targets this identity may use, in config order. */
  targets(): string[];
  /** Binds the connection to `target` (USE / COM_INIT_DB); false when it may not. */
  bind(target: string): boolean;
}

/**
 * A connection logged in without a database: it may list the targets its identity may use, ask
 * which is selected (none), and pick one with USE; every other statement waits for that choice
 * (ER_NO_DB_ERROR), since policy, recording and connection all belong to a target.
 */
export function answerUnbound(command: MysqlCommand, reply: MysqlReply, host: UnboundHost): void {
  switch (command.kind) {
    case 'ping':
    case 'reset-connection':
      return reply.ok();
    case 'statistics':
      return reply.statistics(`Uptime: ${Math.floor(process.uptime())}`);
    case 'quit':
    case 'stmt-close':
    case 'stmt-send-long-data':
      return reply.none();
    case 'init-db':
      return use(command.schema, reply, host);
    case 'query': {
      if (SHOW_DATABASES.test(command.sql)) return singleColumn(reply, 'Database', host.targets());
      if (SELECT_DATABASE.test(command.sql)) return singleColumn(reply, 'DATABASE()', [null]);
      if (VERSION_COMMENT.test(command.sql)) return singleColumn(reply, '@@version_comment', ['Sluice']);
      const chosen = USE.exec(command.sql)?.[1];
      if (chosen !== undefined) {
        return use(chosen.startsWith('`') ? chosen.slice(1, -1).replace(/``/g, '`') : chosen, reply, host);
      }
      break;
    }
    default:
      break;
  }
  const targets = host.targets();
  reply.error({
    errno: NO_DATABASE,
    sqlstate: '3D000',
    message:
      targets.length > 0
        ? `No database selected: USE one of the databases you may use (${targets.join(', ')})`
        : 'No database selected, and no database is open to you here',
  });
}

function use(target: string, reply: MysqlReply, host: UnboundHost): void {
  if (host.bind(target)) return reply.ok();
  const targets = host.targets();
  reply.error({
    errno: MysqlErrno.DbAccessDenied,
    sqlstate: '42000',
    message: `Access denied to database '${target.slice(0, 64)}'; databases you may use: ${targets.join(', ') || 'none'}`,
  });
}

function singleColumn(reply: MysqlReply, name: string, values: (string | null)[]): void {
  const columns = wireColumns([{ name, type: 'varchar', masked: false }]);
  const writer = reply.resultSet(
    columns.map((c) => c.definition),
    { binary: false },
  );
  for (const value of values) writer.row(wireRow(columns, [value]));
  writer.end({});
}
