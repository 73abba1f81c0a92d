import { MysqlProtocolError } from '../errors.js';
import { UTF8MB4, type ClientCharset } from './charsets.js';
import { ColumnType } from './column-types.js';
import { CommandByte } from './constants.js';
import { PayloadReader } from './payload-reader.js';
import { decodeStatementText } from './statement-text.js';

/** A decoded command-phase packet; statement text and names decoded from the client's character set. */
export type MysqlCommand =
  | { kind: 'quit' }
  | { kind: 'ping' }
  | { kind: 'init-db'; schema: string }
  | { kind: 'query'; sql: string }
  | { kind: 'field-list'; table: string; wildcard: string }
  | { kind: 'stmt-prepare'; sql: string }
  | {
      kind: 'stmt-execute';
      statementId: number;
      flags: number;
      /** Everything after the iteration count: decode with `decodeExecuteParams` once the parameter count is known. */
      parameterBlock: Buffer;
    }
  | { kind: 'stmt-close'; statementId: number }
  /** No response is expected; the data belongs to a parameter of the next execute. */
  | { kind: 'stmt-send-long-data'; statementId: number; paramId: number; data: Buffer }
  | { kind: 'stmt-reset'; statementId: number }
  /** COM_RESET_CONNECTION: session state (variables, transaction, prepared statements) back to fresh. */
  | { kind: 'reset-connection' }
  /** COM_SET_OPTION: multi-statements on (0) or off (1). */
  | { kind: 'set-option'; option: number }
  /** COM_STATISTICS: a line of server statistics, as text. */
  | { kind: 'statistics' }
  /** COM_CHANGE_USER: log in again on this connection, as another user (or the same one). */
  | {
      kind: 'change-user';
      user: string;
      database: string | undefined;
      /** Collation id, when the client sent one. */
      characterSet: number | undefined;
      authPluginName: string | undefined;
      authResponse: Buffer;
    }
  | { kind: 'unsupported'; command: number };

/**
 * Decodes one command packet. Commands we do not implement decode to `unsupported` (the
 * connection answers ER_UNKNOWN_COM_ERROR and carries on); a malformed packet throws.
 */
export function decodeCommand(payload: Buffer, charset: ClientCharset = UTF8MB4): MysqlCommand {
  const reader = new PayloadReader(payload);
  const command = reader.u8('command byte');
  switch (command) {
    case CommandByte.Quit:
      return { kind: 'quit' };
    case CommandByte.Ping:
      return { kind: 'ping' };
    case CommandByte.InitDb:
      return { kind: 'init-db', schema: charset.decode(reader.rest()) };
    case CommandByte.Query:
      return { kind: 'query', sql: decodeStatementText(reader.rest(), charset) };
    case CommandByte.FieldList: {
      const table = charset.decode(reader.nulBytes('table name'));
      return { kind: 'field-list', table, wildcard: charset.decode(reader.rest()) };
    }
    case CommandByte.StmtPrepare:
      return { kind: 'stmt-prepare', sql: decodeStatementText(reader.rest(), charset) };
    case CommandByte.StmtExecute: {
      const statementId = reader.u32('statement id');
      const flags = reader.u8('cursor flags');
      const iterations = reader.u32('iteration count');
      if (iterations !== 1) {
        throw new MysqlProtocolError('ERR_PACKET_MALFORMED', `iteration count must be 1, got ${iterations}`);
      }
      return { kind: 'stmt-execute', statementId, flags, parameterBlock: reader.rest() };
    }
    case CommandByte.StmtSendLongData:
      return {
        kind: 'stmt-send-long-data',
        statementId: reader.u32('statement id'),
        paramId: reader.u16('parameter id'),
        data: reader.rest(),
      };
    case CommandByte.StmtClose:
      return { kind: 'stmt-close', statementId: reader.u32('statement id') };
    case CommandByte.StmtReset:
      return { kind: 'stmt-reset', statementId: reader.u32('statement id') };
    case CommandByte.ResetConnection:
      return { kind: 'reset-connection' };
    case CommandByte.SetOption:
      return { kind: 'set-option', option: reader.u16('option') };
    case CommandByte.Statistics:
      return { kind: 'statistics' };
    case CommandByte.ChangeUser:
      return decodeChangeUser(reader, charset);
    default:
      return { kind: 'unsupported', command };
  }
}

/**
 * COM_CHANGE_USER from a protocol 4.1 client (the only kind the listener accepts): user, auth
 * response (length-prefixed), database, then optionally the collation, the plugin name and
 * connection attributes (not kept).
 */
function decodeChangeUser(reader: PayloadReader, charset: ClientCharset): MysqlCommand {
  const user = charset.decode(reader.nulBytes('user name'));
  const authResponse = Buffer.from(reader.bytes(reader.u8('auth response length'), 'auth response'));
  const database = reader.remaining > 0 ? charset.decode(reader.nulBytes('database')) : '';
  const characterSet = reader.remaining >= 2 ? reader.u16('character set') : undefined;
  const authPluginName = reader.remaining > 0 ? reader.nulString('plugin') : undefined;
  return {
    kind: 'change-user',
    user,
    database: database === '' ? undefined : database,
    characterSet,
    authPluginName,
    authResponse,
  };
}

/** A bound parameter value as decoded from the binary protocol. */
export type ParamValue = null | number | bigint | string | Buffer;

export interface ExecuteParams {
  values: ParamValue[];
  /** The types the client bound (type | unsigned<<15), to remember for later executes without them. */
  types: number[];
}

const UNSIGNED_FLAG = 0x8000;

/**
 * Decodes the parameter block of COM_STMT_EXECUTE for a statement with `paramCount` parameters:
 * NULL bitmap, new-params-bound flag, types, values. `previousTypes` are the types of the last
 * execute, used when the client does not send them again.
 */
export function decodeExecuteParams(
  block: Buffer,
  paramCount: number,
  previousTypes: readonly number[] = [],
  charset: ClientCharset = UTF8MB4,
): ExecuteParams {
  if (paramCount === 0) return { values: [], types: [] };
  const reader = new PayloadReader(block);
  const nullBitmap = reader.bytes((paramCount + 7) >> 3, 'NULL bitmap');
  const newTypes = reader.u8('new-params-bound flag');
  let types: number[];
  if (newTypes === 1) {
    types = [];
    for (let i = 0; i < paramCount; i++) types.push(reader.u16('parameter type'));
  } else if (previousTypes.length === paramCount) {
    types = [...previousTypes];
  } else {
    throw new MysqlProtocolError('ERR_PACKET_MALFORMED', 'parameters sent without types on first execute');
  }
  const values: ParamValue[] = [];
  for (let i = 0; i < paramCount; i++) {
    const isNull = ((nullBitmap[i >> 3] as number) >> (i & 7)) & 1;
    const type = types[i] as number;
    values.push(
      isNull ? null : decodeBinaryValue(reader, type & 0xff, (type & UNSIGNED_FLAG) !== 0, charset),
    );
  }
  return { values, types };
}

function decodeBinaryValue(
  reader: PayloadReader,
  type: number,
  unsigned: boolean,
  charset: ClientCharset,
): ParamValue {
  switch (type) {
    case ColumnType.Null:
      return null;
    case ColumnType.Tiny: {
      const v = reader.u8();
      return unsigned ? v : (v << 24) >> 24;
    }
    case ColumnType.Short:
    case ColumnType.Year: {
      const v = reader.u16();
      return unsigned ? v : (v << 16) >> 16;
    }
    case ColumnType.Long:
    case ColumnType.Int24: {
      const v = reader.u32();
      return unsigned ? v : v | 0;
    }
    case ColumnType.LongLong: {
      const v = unsigned ? reader.u64() : reader.i64();
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case ColumnType.Float:
      return reader.bytes(4, 'float').readFloatLE(0);
    case ColumnType.Double:
      return reader.bytes(8, 'double').readDoubleLE(0);
    case ColumnType.Date:
    case ColumnType.DateTime:
    case ColumnType.Timestamp:
      return decodeBinaryDateTime(reader, type === ColumnType.Date);
    case ColumnType.Time:
      return decodeBinaryTime(reader);
    case ColumnType.Decimal:
    case ColumnType.NewDecimal:
    case ColumnType.VarChar:
    case ColumnType.VarString:
    case ColumnType.String:
    case ColumnType.Enum:
    case ColumnType.Set:
    case ColumnType.Json:
      return charset.decode(reader.lenencBytes('string parameter'));
    case ColumnType.TinyBlob:
    case ColumnType.MediumBlob:
    case ColumnType.LongBlob:
    case ColumnType.Blob:
    case ColumnType.Geometry:
    case ColumnType.Bit:
      return Buffer.from(reader.lenencBytes('blob parameter'));
    default:
      throw new MysqlProtocolError(
        'ERR_PACKET_MALFORMED',
        `unsupported parameter type 0x${type.toString(16)}`,
      );
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Binary DATE/DATETIME: length 0, 4, 7 or 11, then year, month, day, h, m, s, µs. */
function decodeBinaryDateTime(reader: PayloadReader, dateOnly: boolean): string {
  const length = reader.u8('date length');
  if (length !== 0 && length !== 4 && length !== 7 && length !== 11) {
    throw new MysqlProtocolError('ERR_PACKET_MALFORMED', `date value has length ${length}`);
  }
  const part = new PayloadReader(reader.bytes(length, 'date value'));
  const year = length >= 4 ? part.u16() : 0;
  const month = length >= 4 ? part.u8() : 0;
  const day = length >= 4 ? part.u8() : 0;
  const date = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (dateOnly) return date;
  const hour = length >= 7 ? part.u8() : 0;
  const minute = length >= 7 ? part.u8() : 0;
  const second = length >= 7 ? part.u8() : 0;
  const micros = length === 11 ? part.u32() : 0;
  const fraction = micros > 0 ? `.${pad(micros, 6)}` : '';
  return `${date} ${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}`;
}

/** Binary TIME: length 0, 8 or 12, then sign, days, h, m, s, µs. */
function decodeBinaryTime(reader: PayloadReader): string {
  const length = reader.u8('time length');
  if (length !== 0 && length !== 8 && length !== 12) {
    throw new MysqlProtocolError('ERR_PACKET_MALFORMED', `time value has length ${length}`);
  }
  if (length === 0) return '00:00:00';
  const part = new PayloadReader(reader.bytes(length, 'time value'));
  const negative = part.u8() === 1;
  const days = part.u32();
  const hours = days * 24 + part.u8();
  const minute = part.u8();
  const second = part.u8();
  const micros = length === 12 ? part.u32() : 0;
  const fraction = micros > 0 ? `.${pad(micros, 6)}` : '';
  return `${negative ? '-' : ''}${pad(hours)}:${pad(minute)}:${pad(second)}${fraction}`;
}
