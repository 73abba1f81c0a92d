import type { Logger } from 'pino';
import {
  ColumnType,
  decodeExecuteParams,
  MysqlProtocolError,
  type ColumnDefinition,
  type MysqlAuthRequest,
  type MysqlAuthResult,
  type MysqlCommand,
  type MysqlCommandHandler,
  type MysqlReply,
  type MysqlResultWriter,
  type MysqlSessionInfo,
} from '../../../protocols/mysql/server/index.js';
import { ServerStatus } from '../../../protocols/mysql/codec/constants.js';
import { UTF8MB4, type ClientCharset } from '../../../protocols/mysql/codec/charsets.js';
import type { GatewaySession } from '../gateway.js';
import type { StatementRequest } from '../pipeline.js';
import type { OkFields } from '../../../protocols/mysql/codec/responses.js';
import type { GuardStage, ResultColumn, StatementShape, TargetOk } from '../types.js';
import { loginMysqlClient, openTargetSession, type LoginParts } from './client-login.js';
import { answerUnbound, type UnboundHost } from './unbound-session.js';
import type { Identity } from '../../identity/types.js';
import { countPlaceholders } from './placeholders.js';
import { charsetChange, charsetDecisionText, charsetStatementWith, type CharsetChange } from './set-names.js';
import { PreparedStatements, type PreparedStatement } from './prepared-statements.js';
import { wireColumns, wireRow, type WireColumn } from './wire-columns.js';
import { MysqlErrno, toWireError } from './wire-errors.js';
import { LocalFileRelay } from './local-infile.js';
import { killRequest, type KillableConnection, type KillRequest } from './kill.js';
import { GatewayError } from '../errors.js';

export interface ClientSessionParts extends LoginParts {
  guard: GuardStage;
  /** How long a statement under review waits for its approval before it is refused. */
  approvalWaitMs: number;
  /** Time between commands after which the client is dropped; 0: never. */
  idleTimeoutMs: number;
  /** This listener's connection of a connection id (for KILL); none when not given. */
  peer?: (connectionId: number) => KillableConnection | undefined;
}

/**
 * Where one client is: logging in, holding a gateway session, holding one whose target connection
 * was replaced under it (see `#targetReset`), or gone.
 */
type ClientState =
  | { kind: 'login' }
  | { kind: 'open'; session: GatewaySession }
  /** Logged in without a database: waits for a USE (see unbound-session.ts). */
  | { kind: 'unbound'; identity: Identity }
  | { kind: 'target-reset'; session: GatewaySession; reason: string }
  | { kind: 'closed' };

/** A semicolon with something after it: the text may hold several statements (the guard splits it). */
const MAY_HOLD_SEVERAL = /;\s*[^\s;]/;

/** The most parameters COM_STMT_PREPARE_OK can announce (a u16). */
const MAX_PARAMS = 0xffff;

/**
 * One MySQL client through Sluice: it logs in with a token, then every statement it sends
 * (COM_QUERY, or COM_STMT_EXECUTE of a prepared text) runs through the gateway pipeline: guard,
 * approval, execution on the client's own target connection, masking, recording. Results come
 * back with the target's own column definitions (wire-columns.ts) and re-encoded from the
 * pipeline's (masked) values, which keep the target's text forms on this channel.
 */
export class MysqlClientSession implements MysqlCommandHandler, KillableConnection {
  readonly #parts: ClientSessionParts;
  readonly #remote: string | undefined;
  readonly #log: Logger;
  readonly #prepared = new PreparedStatements();
  #state: ClientState = { kind: 'login' };
  /** The statement running now, so a disconnect can stop it (and a pending approval wait). */
  #running: AbortController | undefined;
  /** Statements this connection sent (COM_STATISTICS's Questions). */
  #questions = 0;
  /** The connection's facts: the character set the client speaks (which SET NAMES changes). */
  #info: MysqlSessionInfo | undefined;

  readonly #disconnect: () => void;
  /** Runs between commands only: a statement waiting for its target or an approval is not idle. */
  #idleTimer: NodeJS.Timeout | undefined;

  /**
   * `disconnect` ends the client's connection once the reply being written has left; it is called
   * when the client has been idle for `idleTimeoutMs`, and after a target reset was reported.
   */
  constructor(parts: ClientSessionParts, remote: string | undefined, disconnect: () => void) {
    this.#parts = parts;
    this.#remote = remote;
    this.#log = parts.logger;
    this.#disconnect = disconnect;
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    const kind = this.#state.kind;
    if (this.#parts.idleTimeoutMs <= 0 || (kind !== 'open' && kind !== 'target-reset' && kind !== 'unbound'))
      return;
    this.#idleTimer = setTimeout(() => {
      this.#log.info(
        { event: 'mysql.idle', remote: this.#remote, session: this.sessionId },
        'closing an idle client',
      );
      // Recorded as what it was, before the socket's close reports a disconnect.
      this.close('idle timeout');
      this.#disconnect();
    }, this.#parts.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  /** The gateway session id once logged in. */
  get sessionId(): string | undefined {
    const state = this.#state;
    return state.kind === 'open' || state.kind === 'target-reset' ? state.session.context.id : undefined;
  }

  get subject(): string | undefined {
    const state = this.#state;
    if (state.kind === 'unbound') return state.identity.subject;
    return state.kind === 'open' || state.kind === 'target-reset'
      ? state.session.context.identity.subject
      : undefined;
  }

  killQuery(): void {
    this.#running?.abort(new GatewayError('ERR_CANCELLED', 'Query execution was interrupted (KILL QUERY)'));
  }

  killConnection(): void {
    this.close('killed by KILL from another connection');
    this.#disconnect();
  }

  readonly authenticate = async (request: MysqlAuthRequest): Promise<MysqlAuthResult> => {
    if (this.#state.kind !== 'login') return { ok: false };
    const outcome = await loginMysqlClient(this.#parts, request, this.#remote);
    if (!outcome.ok) return { ok: false, message: outcome.message };
    if (this.#state.kind !== 'login') {
      // The client left while its token was checked: nothing may stay open for it.
      if ('session' in outcome) outcome.session.close('client disconnected during login');
      return { ok: false };
    }
    this.#state =
      'session' in outcome
        ? { kind: 'open', session: outcome.session }
        : { kind: 'unbound', identity: outcome.identity };
    this.#armIdleTimer();
    return { ok: true };
  };

  /**
   * COM_CHANGE_USER: the session so far ends (recorded as changed by the client) and a new login
   * starts, with the new token, user and database, exactly as at connect. A refusal leaves nothing
   * open, and the connection closes.
   */
  readonly changeUser = async (request: MysqlAuthRequest): Promise<MysqlAuthResult> => {
    const state = this.#state;
    if (state.kind === 'closed' || state.kind === 'login') return { ok: false };
    clearTimeout(this.#idleTimer);
    this.#prepared.clear();
    if (state.kind === 'open' || state.kind === 'target-reset')
      state.session.close('the client changed user');
    this.#state = { kind: 'login' };
    return this.authenticate(request);
  };

  #unboundHost(identity: Identity): UnboundHost {
    return {
      targets: () =>
        this.#parts.gateway
          .reachableTargets(identity)
          .filter((t) => t.engine === 'mysql')
          .map((t) => t.name),
      bind: (target) => {
        const bound = openTargetSession(this.#parts, identity, target, this.#remote);
        if (!bound.ok) {
          this.#log.info(
            { event: 'mysql.use', remote: this.#remote, subject: identity.subject, reason: bound.message },
            'USE refused',
          );
          return false;
        }
        if (this.#state.kind !== 'unbound') {
          bound.session.close('client disconnected');
          return false;
        }
        this.#state = { kind: 'open', session: bound.session };
        return true;
      },
    };
  }

  /** Ends the gateway session (and stops a running statement); safe to call twice. */
  close(reason: string): void {
    const state = this.#state;
    this.#state = { kind: 'closed' };
    clearTimeout(this.#idleTimer);
    this.#running?.abort(new Error(reason));
    this.#prepared.clear();
    if (state.kind === 'open' || state.kind === 'target-reset') state.session.close(reason);
  }

  async command(command: MysqlCommand, reply: MysqlReply, info: MysqlSessionInfo): Promise<void> {
    clearTimeout(this.#idleTimer);
    this.#info = info;
    try {
      await this.#answer(command, reply);
    } finally {
      this.#armIdleTimer();
    }
  }

  async #answer(command: MysqlCommand, reply: MysqlReply): Promise<void> {
    if (command.kind === 'query' || command.kind === 'stmt-execute') this.#questions++;
    const state = this.#state;
    if (state.kind === 'target-reset') return this.#refuseAfterReset(command, reply, state.reason);
    if (state.kind === 'unbound') return answerUnbound(command, reply, this.#unboundHost(state.identity));
    if (state.kind !== 'open') {
      // The connection hands over commands only after a successful login; fail closed regardless.
      if (command.kind !== 'stmt-close' && command.kind !== 'stmt-send-long-data')
        reply.error({ errno: MysqlErrno.AccessDenied, sqlstate: '28000', message: 'Not logged in' });
      else reply.none();
      return;
    }
    const session = state.session;
    switch (command.kind) {
      case 'query': {
        const change = charsetChange(command.sql);
        if (change !== undefined) return this.#setNames(session, reply, command.sql, change);
        if (this.#info?.multiStatements === true && MAY_HOLD_SEVERAL.test(command.sql))
          return this.#runSeveral(session, reply, command.sql);
        await this.#run(session, reply, { sql: command.sql }, false);
        return;
      }
      case 'stmt-prepare':
        return this.#prepare(session, reply, command.sql);
      case 'stmt-execute':
        return this.#execute(session, reply, command.statementId, command.parameterBlock);
      case 'stmt-close': {
        const closed = this.#prepared.get(command.statementId);
        this.#prepared.close(command.statementId);
        // The last of the client's statements of a text: the target's may go as well.
        if (closed !== undefined && !this.#prepared.holds(closed.sql))
          await session.forgetPrepared(closed.sql);
        return reply.none();
      }
      case 'stmt-send-long-data': {
        const statement = this.#prepared.get(command.statementId);
        if (statement) statement.longDataSent = true;
        return reply.none();
      }
      case 'stmt-reset': {
        const statement = this.#prepared.get(command.statementId);
        if (!statement) return reply.error(unknownStatement(command.statementId, 'mysqld_stmt_reset'));
        statement.longDataSent = false;
        return reply.ok();
      }
      case 'init-db':
        return this.#initDb(session, reply, command.schema);
      case 'field-list':
        // Column lists are for client-side completion; the catalog stays behind describe_table
        // (and SHOW COLUMNS, which the guard decides), so the answer is an empty list.
        return reply.fields([]);
      case 'ping':
        return reply.ok();
      case 'quit':
        return reply.none();
      case 'reset-connection':
        return this.#resetConnection(session, reply);
      case 'statistics':
        return reply.statistics(this.#statistics());
      case 'set-option':
        // Answered by the connection itself; never handed over.
        return reply.none();
      case 'unsupported':
        return reply.error({
          errno: MysqlErrno.NotSupported,
          sqlstate: '42000',
          message: `command 0x${command.command.toString(16)} is not supported by Sluice`,
        });
    }
  }

  /**
   * A session is bound to the target it logged in to (its recording, policy and connection are
   * that target's). Switching to another target would need a new login, so it is refused; naming
   * the same target again (clients do so after connecting) is a no-op.
   */
  #initDb(session: GatewaySession, reply: MysqlReply, schema: string): void {
    if (schema === session.context.target) return reply.ok();
    this.#log.info(
      { event: 'mysql.init-db', session: session.context.id, requested: schema.slice(0, 64) },
      'switching targets refused',
    );
    reply.error({
      errno: MysqlErrno.DbAccessDenied,
      sqlstate: '42000',
      message: `Access denied to database '${schema.slice(0, 64)}': this session is bound to '${session.context.target}'; reconnect to use another database`,
    });
  }

  /**
   * COM_STATISTICS (`mysqladmin status`, the CLI's `status`): the gateway's own figures, not the
   * target's, whose server-wide counters describe other clients.
   */
  #statistics(): string {
    const uptime = Math.floor(process.uptime());
    const threads = this.#parts.gateway.openSessionsOn('mysql');
    const questions = this.#questions;
    const perSecond = uptime > 0 ? (questions / uptime).toFixed(3) : '0.000';
    return `Uptime: ${uptime}  Threads: ${threads}  Questions: ${questions}  Slow queries: 0  Opens: 0  Open tables: 0  Queries per second avg: ${perSecond}`;
  }

  get #charset(): ClientCharset {
    return this.#info?.charset ?? UTF8MB4;
  }

  /**
   * SET NAMES (or SET CHARACTER SET): decided by the guard like any statement (a set other than
   * UTF-8 is `session`, which an agent policy denies), then honoured by the listener itself, which
   * decodes and encodes the new set from the next command on; the target connection stays utf8mb4.
   */
  async #setNames(
    session: GatewaySession,
    reply: MysqlReply,
    sql: string,
    change: CharsetChange,
  ): Promise<void> {
    const verdict = await this.#parts.guard.check(charsetDecisionText(sql, change), session.context);
    if (verdict.action !== 'allow') {
      this.#log.info(
        { event: 'mysql.set-names', session: session.context.id, rule: verdict.rule },
        'character set change refused by the guard',
      );
      const message = `statement denied: ${verdict.reason}`;
      session.answered(sql, verdict, { code: '42000', message });
      return reply.error({ errno: MysqlErrno.StatementDenied, sqlstate: '42000', message });
    }
    const info = this.#info;
    if (change.unknown !== undefined || info === undefined) {
      const message =
        'Unknown character set: Sluice converts utf8mb4, utf8mb3, latin1-7, cp125x, koi8r/u, sjis, cp932, ujis, euckr, gbk, gb2312, gb18030, big5 and a few more';
      session.answered(sql, verdict, { code: '42000', message });
      return reply.error({ errno: MysqlErrno.UnknownCharacterSet, sqlstate: '42000', message });
    }
    session.answered(sql, verdict, { command: 'SET' });
    if (change.client) info.charset = change.client;
    if (change.results) info.resultsCharset = change.results;
    this.#log.info(
      {
        event: 'mysql.set-names',
        session: session.context.id,
        client: info.charset.name,
        results: info.resultsCharset.name,
      },
      'client character set changed',
    );
    reply.ok();
  }

  /**
   * COM_STMT_PREPARE: the text is decided by the guard now, so a denied statement cannot even be
   * prepared; it is decided again (with its parameters) by the pipeline at each execute. Only the
   * text is kept: nothing is prepared on the target until an execute passes the pipeline.
   */
  async #prepare(session: GatewaySession, reply: MysqlReply, sql: string): Promise<void> {
    const verdict = await this.#parts.guard.check(sql, session.context);
    if (verdict.action === 'deny') {
      this.#log.info(
        { event: 'mysql.prepare', session: session.context.id, rule: verdict.rule },
        'prepare refused by the guard',
      );
      const targetText = verdict.unreadable === true ? await session.syntaxError(sql) : undefined;
      return reply.error({
        errno: verdict.unreadable === true ? MysqlErrno.ParseError : MysqlErrno.StatementDenied,
        sqlstate: '42000',
        message: targetText ?? `statement denied: ${verdict.reason}`,
      });
    }
    // The target prepares it (nothing runs) and says what its parameters and columns are, as a
    // server answers COM_STMT_PREPARE; a text it cannot prepare fails here, as it would directly.
    let shape: StatementShape | undefined;
    try {
      shape = await session.describe(sql, verdict);
    } catch (err) {
      return reply.error(toWireError(err).wire);
    }
    const paramCount = shape?.params.length ?? countPlaceholders(sql);
    if (paramCount > MAX_PARAMS) {
      return reply.error({
        errno: 1390,
        sqlstate: 'HY000',
        message: 'Prepared statement contains too many placeholders',
      });
    }
    const statement = this.#prepared.add(sql, paramCount);
    if (!statement) {
      return reply.error({
        errno: MysqlErrno.TooManyPreparedStatements,
        sqlstate: '42000',
        message: `Can't create more than ${this.#prepared.size} prepared statements; close some first`,
      });
    }
    const described = (columns: readonly ResultColumn[]) =>
      wireColumns(
        columns.map((c) => ({ name: c.name, type: c.type, masked: false, mysql: c.mysql })),
        this.#info?.resultsCharset ?? UTF8MB4,
      ).map((c) => c.definition);
    const anyParam: ColumnDefinition = { name: '?', type: ColumnType.VarString };
    // Which result columns are masked is decided with each execute's result set, which announces
    // a masked column as text; drivers decode rows by that announcement.
    reply.prepared({
      statementId: statement.id,
      params: shape ? described(shape.params) : new Array<ColumnDefinition>(paramCount).fill(anyParam),
      columns: shape ? described(shape.columns) : [],
    });
  }

  async #execute(session: GatewaySession, reply: MysqlReply, id: number, block: Buffer): Promise<void> {
    const statement: PreparedStatement | undefined = this.#prepared.get(id);
    if (!statement) return reply.error(unknownStatement(id, 'mysqld_stmt_execute'));
    if (statement.longDataSent) {
      statement.longDataSent = false;
      return reply.error({
        errno: MysqlErrno.NotSupported,
        sqlstate: '42000',
        message: 'COM_STMT_SEND_LONG_DATA is not supported by Sluice; bind the value directly',
      });
    }
    let values: unknown[];
    try {
      const decoded = decodeExecuteParams(block, statement.paramCount, statement.paramTypes, this.#charset);
      statement.paramTypes = decoded.types;
      // BIGINT parameters travel as decimal text, which the target reads exactly.
      values = decoded.values.map((v) => (typeof v === 'bigint' ? v.toString() : v));
    } catch (err) {
      if (!(err instanceof MysqlProtocolError)) throw err;
      return reply.error({
        errno: MysqlErrno.WrongArguments,
        sqlstate: 'HY000',
        message: `Incorrect arguments to mysqld_stmt_execute: ${err.message}`,
      });
    }
    // `SET character_set_results = ?` and the like, prepared: answered by the listener like the
    // text form, with the set named by the parameter (a bare name only).
    const named = charsetStatementWith(statement.sql, values);
    if (named !== undefined) return this.#setNames(session, reply, named.sql, named.change);
    await this.#run(
      session,
      reply,
      { sql: statement.sql, ...(values.length > 0 ? { params: values } : {}) },
      true,
    );
  }

  /**
   * The target connection under this session was replaced: the row limit or a timeout stopped a
   * statement, and the target client drops a connection it had to KILL. Whatever the client set
   * up on it (a transaction, variables, USE, temporary tables) is gone. Carrying on silently on a
   * fresh connection could split a transaction in two (writes before the reset rolled back, writes
   * after it committed one by one), so the session ends instead: the next command is told why and
   * the connection closes, which makes the CLI reconnect and pools discard the connection.
   */
  #targetReset(session: GatewaySession, reason: string): void {
    if (this.#state.kind !== 'open') return;
    this.#log.info(
      { event: 'mysql.target-reset', session: session.context.id, reason },
      'target connection replaced; the client session ends at its next command',
    );
    this.#state = { kind: 'target-reset', session, reason };
  }

  /**
   * COM_RESET_CONNECTION: the session starts over on a fresh target connection, as a new gateway
   * session of the same identity on the same target (the old one's recording ends, saying why);
   * its variables, transaction, temporary tables and prepared statements are gone.
   */
  #resetConnection(session: GatewaySession, reply: MysqlReply): void {
    const { identity, target } = session.context;
    this.#prepared.clear();
    session.close('connection reset by the client');
    const fresh = openTargetSession(this.#parts, identity, target, this.#remote);
    if (!fresh.ok) {
      this.#state = { kind: 'closed' };
      reply.error({
        errno: MysqlErrno.ConnectionKilled,
        sqlstate: '70100',
        message: 'Connection reset failed; reconnect',
      });
      this.#disconnect();
      return;
    }
    this.#state = { kind: 'open', session: fresh.session };
    reply.ok();
  }

  #refuseAfterReset(command: MysqlCommand, reply: MysqlReply, reason: string): void {
    if (command.kind === 'stmt-close' || command.kind === 'stmt-send-long-data' || command.kind === 'quit') {
      reply.none();
    } else {
      reply.error({
        errno: MysqlErrno.ConnectionKilled,
        sqlstate: '70100',
        message: `Connection was reset after ${reason}: transactions, variables and USE are lost; reconnect`,
      });
    }
    this.#disconnect();
  }

  /**
   * Runs one statement through the pipeline and answers it: a result set (text rows for
   * COM_QUERY, binary rows for COM_STMT_EXECUTE) or OK with the affected row count. When the
   * policy's row limit cut the result short, the closing EOF carries one warning (clients show
   * "1 warning"); the rows sent are exactly the ones delivered and recorded.
   */
  /**
   * A COM_QUERY of several statements from a client that asked for multi-statements. The text as
   * a whole is decided first: when it is refused the pipeline refuses (and records) it whole and
   * nothing runs. Otherwise each statement goes through the pipeline on its own, exactly as the
   * guard split it, so the target only ever runs one statement per text, and each result is
   * relayed with SERVER_MORE_RESULTS_EXISTS until the last. The first error ends the answer, as
   * on a server: the statements after it do not run.
   */
  async #runSeveral(session: GatewaySession, reply: MysqlReply, sql: string): Promise<void> {
    const verdict = await this.#parts.guard.check(sql, session.context);
    const texts = verdict.statements.map((s) => s.text);
    if (verdict.action === 'deny' || texts.length < 2) {
      await this.#run(session, reply, { sql }, false);
      return;
    }
    for (let i = 0; i < texts.length; i++) {
      const more = i < texts.length - 1 ? ServerStatus.MoreResultsExist : 0;
      if (!(await this.#run(session, reply, { sql: texts[i] as string }, false, more))) return;
    }
  }

  /** Runs one statement and answers it (see #run); `more` is added to the closing status. */
  async #run(
    session: GatewaySession,
    reply: MysqlReply,
    request: Pick<StatementRequest, 'sql' | 'params'>,
    binary: boolean,
    more = 0,
  ): Promise<boolean> {
    const kill = request.params === undefined ? killRequest(request.sql) : undefined;
    const victim = kill === undefined ? undefined : this.#parts.peer?.(kill.id);
    if (kill !== undefined && victim !== undefined)
      return this.#kill(session, reply, request.sql, kill, victim, more);
    let columns: WireColumn[] = [];
    let writer: MysqlResultWriter | undefined;
    const running = new AbortController();
    this.#running = running;
    const localFile = binary ? undefined : new LocalFileRelay(request.sql, reply);
    try {
      const outcome = await session
        .execute(
          {
            ...request,
            signal: running.signal,
            approvalWaitMs: this.#parts.approvalWaitMs,
            ...(localFile ? { localFile: localFile.open } : {}),
          },
          {
            columns: (delivered) => {
              // Another result set of a CALL: the one before ends saying more follow.
              writer?.end({ status: ServerStatus.Autocommit | ServerStatus.MoreResultsExist });
              columns = wireColumns(delivered, this.#info?.resultsCharset ?? UTF8MB4);
              writer = reply.resultSet(
                columns.map((c) => c.definition),
                { binary },
              );
            },
            row: (values) => (writer as MysqlResultWriter).row(wireRow(columns, values)),
          },
        )
        // A client sending a file reads the answer only after its last packet.
        .finally(() => localFile?.finished());
      if (writer) {
        if (outcome.truncated) {
          this.#log.info(
            { event: 'mysql.truncated', session: session.context.id, rows: outcome.rowCount },
            'result cut at the policy row limit',
          );
        }
        if (outcome.truncated) {
          writer.end({ warnings: 1 });
          this.#targetReset(session, 'a result was cut at the row limit');
          return false;
        }
        if (outcome.ok === undefined) {
          writer.end({ status: ServerStatus.Autocommit | more });
          return true;
        }
        // A CALL: its result sets, then its own OK.
        writer.end({ status: ServerStatus.Autocommit | ServerStatus.MoreResultsExist });
        const ok = okFields(outcome.command, outcome.ok);
        reply.ok({ ...ok, status: (ok.status ?? ServerStatus.Autocommit) | more });
      } else {
        const ok = okFields(outcome.command, outcome.ok);
        reply.ok({ ...ok, status: (ok.status ?? ServerStatus.Autocommit) | more });
      }
      return true;
    } catch (err) {
      const { wire, expected } = toWireError(err);
      if (expected) {
        this.#log.info(
          { event: 'mysql.statement', session: session.context.id, errno: wire.errno },
          wire.message,
        );
      } else {
        this.#log.error({ event: 'mysql.statement', session: session.context.id, err }, 'statement failed');
      }
      // After columns (or rows) the ERR ends the result set, as from the server itself: the
      // client sees a failed statement, never a complete-looking result.
      if (writer) writer.fail(wire);
      else reply.error(wire);
      if (wire.sqlstate === '70100' || wire.sqlstate.startsWith('08')) {
        this.#targetReset(session, 'a statement was interrupted or the target connection broke');
      }
      return false;
    } finally {
      if (this.#running === running) this.#running = undefined;
    }
  }

  /**
   * KILL of one of this listener's connections (see kill.ts), decided by the guard like the text
   * it is (`admin`), then done here: the target's thread of that number is someone else's. Only
   * the caller's own connections (the same subject) may be killed, as MySQL lets a user kill its
   * own threads only.
   */
  async #kill(
    session: GatewaySession,
    reply: MysqlReply,
    sql: string,
    kill: KillRequest,
    victim: KillableConnection,
    more: number,
  ): Promise<boolean> {
    const verdict = await this.#parts.guard.check(sql, session.context);
    const refuse = (errno: number, sqlstate: string, message: string): false => {
      session.answered(sql, verdict, { code: sqlstate, message });
      reply.error({ errno, sqlstate, message });
      return false;
    };
    if (verdict.action === 'deny')
      return refuse(MysqlErrno.StatementDenied, '42000', `statement denied: ${verdict.reason}`);
    if (verdict.action !== 'allow') {
      return refuse(
        MysqlErrno.StatementDenied,
        '42000',
        'statement denied: KILL of a Sluice connection is not sent for review; a policy that allows admin may run it',
      );
    }
    if (victim.subject === undefined || victim.subject !== session.context.identity.subject) {
      return refuse(MysqlErrno.KillDenied, 'HY000', `You are not owner of thread ${kill.id}`);
    }
    this.#log.info(
      { event: 'mysql.kill', session: session.context.id, connectionId: kill.id, query: kill.query },
      kill.query ? 'KILL QUERY of a listener connection' : 'KILL of a listener connection',
    );
    if (victim === this && !kill.query) {
      refuse(MysqlErrno.ConnectionKilled, '70100', 'Connection was killed');
      this.killConnection();
      return false;
    }
    if (kill.query) victim.killQuery();
    else victim.killConnection();
    session.answered(sql, verdict, { command: 'KILL' });
    reply.ok({ status: ServerStatus.Autocommit | more });
    return true;
  }
}

/**
 * Server status flags relayed from the target's OK: whether a transaction is open (and read-only)
 * and autocommit. The others describe what this listener sends itself (more results, session
 * state tracking), so they are not taken from the target.
 */
const RELAYED_STATUS = 0x0001 | 0x0002 | 0x2000;

/** The OK packet for a statement: the target's own fields, the affected rows from the command tag. */
function okFields(command: string, ok: TargetOk | undefined): OkFields {
  const affected = ok?.affectedRows ?? affectedRows(command);
  if (ok === undefined) return { affectedRows: affected };
  return {
    affectedRows: affected,
    lastInsertId: ok.insertId,
    warnings: ok.warnings,
    status: ok.serverStatus & RELAYED_STATUS,
    ...(ok.info ? { info: ok.info } : {}),
  };
}

/** The engine's command tag ends with the affected row count (`INSERT 3`, `UPDATE 0`). */
function affectedRows(command: string): number {
  const count = /\s(\d+)$/.exec(command)?.[1];
  return count === undefined ? 0 : Number(count);
}

function unknownStatement(id: number, where: string) {
  return {
    errno: MysqlErrno.UnknownStatement,
    sqlstate: 'HY000',
    message: `Unknown prepared statement handler (${id}) given to ${where}`,
  };
}
