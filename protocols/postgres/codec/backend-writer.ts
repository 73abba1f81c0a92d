import { AuthenticationCode, BackendCode } from './codes.js';

/**
 * Encodes the messages a server sends. Each function computes the message's exact length first,
 * allocates once and writes in place; messages without fields are shared constant buffers.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

const HEADER = 5;

/** One buffer for a message of `bodyLength` bytes after the length field, header written. */
export function allocMessage(type: number, bodyLength: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + bodyLength);
  buf[0] = type;
  buf.writeInt32BE(4 + bodyLength, 1);
  return buf;
}

/**
 * A NUL inside a string would end the field early and let the rest be read as further fields or
 * messages (text from a database or a caller must not forge protocol), so it is dropped.
 */
function wireString(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '') : value;
}

/** Bytes a cstring takes, terminator included. */
function cstringLength(value: string): number {
  return Buffer.byteLength(value, 'utf8') + 1;
}

function writeCString(buf: Buffer, offset: number, value: string): number {
  const end = offset + buf.write(value, offset, 'utf8');
  buf[end] = 0;
  return end + 1;
}

function fixed(type: number, body: readonly number[] = []): Buffer {
  const buf = allocMessage(type, body.length);
  for (const [i, byte] of body.entries()) buf[HEADER + i] = byte;
  return buf;
}

function authentication(code: number, extra = 0): Buffer {
  const buf = allocMessage(BackendCode.Authentication, 4 + extra);
  buf.writeInt32BE(code, HEADER);
  return buf;
}

export const authenticationOk: Buffer = authentication(AuthenticationCode.Ok);
export const authenticationCleartextPassword: Buffer = authentication(AuthenticationCode.CleartextPassword);
export const emptyQueryResponse: Buffer = fixed(BackendCode.EmptyQueryResponse);
export const parseComplete: Buffer = fixed(BackendCode.ParseComplete);
export const bindComplete: Buffer = fixed(BackendCode.BindComplete);
export const closeComplete: Buffer = fixed(BackendCode.CloseComplete);
export const noData: Buffer = fixed(BackendCode.NoData);
export const portalSuspended: Buffer = fixed(BackendCode.PortalSuspended);
export const copyDone: Buffer = fixed(BackendCode.CopyDone);

export type TransactionStatus = 'I' | 'T' | 'E';
const readyIdle = fixed(BackendCode.ReadyForQuery, [0x49]);
const readyInTransaction = fixed(BackendCode.ReadyForQuery, [0x54]);
const readyFailedTransaction = fixed(BackendCode.ReadyForQuery, [0x45]);

/** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
export function readyForQuery(status: TransactionStatus): Buffer {
  return status === 'I' ? readyIdle : status === 'T' ? readyInTransaction : readyFailedTransaction;
}

export function authenticationMD5Password(salt: Buffer): Buffer {
  const buf = authentication(AuthenticationCode.MD5Password, 4);
  salt.copy(buf, HEADER + 4, 0, 4);
  return buf;
}

/** AuthenticationSASL: the mechanisms the server offers, e.g. ['SCRAM-SHA-256']. */
export function authenticationSASL(mechanisms: readonly string[]): Buffer {
  const names = mechanisms.map(wireString);
  let length = 1;
  for (const name of names) length += cstringLength(name);
  const buf = authentication(AuthenticationCode.SASL, length);
  let offset = HEADER + 4;
  for (const name of names) offset = writeCString(buf, offset, name);
  buf[offset] = 0;
  return buf;
}

export function authenticationSASLContinue(data: Buffer): Buffer {
  const buf = authentication(AuthenticationCode.SASLContinue, data.length);
  data.copy(buf, HEADER + 4);
  return buf;
}

export function authenticationSASLFinal(data: Buffer): Buffer {
  const buf = authentication(AuthenticationCode.SASLFinal, data.length);
  data.copy(buf, HEADER + 4);
  return buf;
}

export function parameterStatus(name: string, value: string): Buffer {
  const n = wireString(name);
  const v = wireString(value);
  const buf = allocMessage(BackendCode.ParameterStatus, cstringLength(n) + cstringLength(v));
  writeCString(buf, writeCString(buf, HEADER, n), v);
  return buf;
}

/** Values are written as unsigned 32-bit; a negative int32 secret keeps its bit pattern. */
export function backendKeyData(processId: number, secretKey: number): Buffer {
  const buf = allocMessage(BackendCode.BackendKeyData, 8);
  buf.writeUInt32BE(processId >>> 0, HEADER);
  buf.writeUInt32BE(secretKey >>> 0, HEADER + 4);
  return buf;
}

export interface FieldDescription {
  name: string;
  /** OID of the table of a plain column, else 0. */
  tableOid?: number;
  /** Attribute number of the column in that table, else 0. */
  columnAttr?: number;
  typeOid: number;
  /** pg_type.typlen: -1 variable, -2 cstring. */
  typeSize?: number;
  typeModifier?: number;
  /** 0 text, 1 binary. */
  format?: number;
}

export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const names = fields.map((f) => wireString(f.name));
  let length = 2;
  for (const name of names) length += cstringLength(name) + 18;
  const buf = allocMessage(BackendCode.RowDescription, length);
  buf.writeInt16BE(fields.length, HEADER);
  let offset = HEADER + 2;
  for (const [i, field] of fields.entries()) {
    offset = writeCString(buf, offset, names[i] as string);
    offset = buf.writeUInt32BE((field.tableOid ?? 0) >>> 0, offset);
    offset = buf.writeInt16BE(field.columnAttr ?? 0, offset);
    offset = buf.writeUInt32BE(field.typeOid >>> 0, offset);
    offset = buf.writeInt16BE(field.typeSize ?? -1, offset);
    offset = buf.writeInt32BE(field.typeModifier ?? -1, offset);
    offset = buf.writeInt16BE(field.format ?? 0, offset);
  }
  return buf;
}

export function parameterDescription(typeOids: readonly number[]): Buffer {
  const buf = allocMessage(BackendCode.ParameterDescription, 2 + 4 * typeOids.length);
  buf.writeInt16BE(typeOids.length, HEADER);
  let offset = HEADER + 2;
  for (const oid of typeOids) offset = buf.writeUInt32BE(oid >>> 0, offset);
  return buf;
}

/** A DataRow; strings are written as UTF-8 (text format), null as SQL NULL. */
export function dataRow(values: readonly (Buffer | string | null)[]): Buffer {
  let length = 2;
  for (const value of values) {
    length += 4;
    if (value === null) continue;
    length += typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
  }
  const buf = allocMessage(BackendCode.DataRow, length);
  buf.writeInt16BE(values.length, HEADER);
  let offset = HEADER + 2;
  for (const value of values) {
    if (value === null) {
      offset = buf.writeInt32BE(-1, offset);
    } else if (typeof value === 'string') {
      const written = buf.write(value, offset + 4, 'utf8');
      buf.writeInt32BE(written, offset);
      offset += 4 + written;
    } else {
      buf.writeInt32BE(value.length, offset);
      offset += 4 + value.copy(buf, offset + 4);
    }
  }
  return buf;
}

/** CommandComplete with its tag: `SELECT 3`, `INSERT 0 1`, `UPDATE 2`, `BEGIN`. */
export function commandComplete(tag: string): Buffer {
  const t = wireString(tag);
  const buf = allocMessage(BackendCode.CommandComplete, cstringLength(t));
  writeCString(buf, HEADER, t);
  return buf;
}

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/** Fields of an ErrorResponse or NoticeResponse. */
export interface NoticeFields {
  severity: Severity;
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the query text. */
  position?: number;
  where?: string;
  schemaName?: string;
  tableName?: string;
  columnName?: string;
  dataTypeName?: string;
  constraintName?: string;
}

export function errorResponse(fields: NoticeFields): Buffer {
  return notice(BackendCode.ErrorResponse, fields);
}

export function noticeResponse(fields: NoticeFields): Buffer {
  return notice(BackendCode.NoticeResponse, fields);
}

function notice(type: number, fields: NoticeFields): Buffer {
  // S is the localised severity, V the fixed one (9.6+); we never localise, so both are the same.
  const pairs: [number, string][] = [
    [0x53, fields.severity], // S
    [0x56, fields.severity], // V
    [0x43, fields.code], // C
    [0x4d, fields.message], // M
  ];
  if (fields.detail !== undefined) pairs.push([0x44, fields.detail]); // D
  if (fields.hint !== undefined) pairs.push([0x48, fields.hint]); // H
  if (fields.position !== undefined) pairs.push([0x50, String(fields.position)]); // P
  if (fields.where !== undefined) pairs.push([0x57, fields.where]); // W
  if (fields.schemaName !== undefined) pairs.push([0x73, fields.schemaName]); // s
  if (fields.tableName !== undefined) pairs.push([0x74, fields.tableName]); // t
  if (fields.columnName !== undefined) pairs.push([0x63, fields.columnName]); // c
  if (fields.dataTypeName !== undefined) pairs.push([0x64, fields.dataTypeName]); // d
  if (fields.constraintName !== undefined) pairs.push([0x6e, fields.constraintName]); // n
  let length = 1;
  for (const pair of pairs) {
    pair[1] = wireString(pair[1]);
    length += 1 + cstringLength(pair[1]);
  }
  const buf = allocMessage(type, length);
  let offset = HEADER;
  for (const [code, value] of pairs) {
    buf[offset] = code;
    offset = writeCString(buf, offset + 1, value);
  }
  buf[offset] = 0;
  return buf;
}

function copyResponse(type: number, overallFormat: number, columnFormats: readonly number[]): Buffer {
  const buf = allocMessage(type, 3 + 2 * columnFormats.length);
  buf[HEADER] = overallFormat;
  buf.writeInt16BE(columnFormats.length, HEADER + 1);
  let offset = HEADER + 3;
  for (const format of columnFormats) offset = buf.writeInt16BE(format, offset);
  return buf;
}

/** CopyInResponse: 0 text / 1 binary overall, then one format per column. */
export function copyInResponse(overallFormat: number, columnFormats: readonly number[]): Buffer {
  return copyResponse(BackendCode.CopyInResponse, overallFormat, columnFormats);
}

export function copyOutResponse(overallFormat: number, columnFormats: readonly number[]): Buffer {
  return copyResponse(BackendCode.CopyOutResponse, overallFormat, columnFormats);
}

export function copyData(data: Buffer): Buffer {
  const buf = allocMessage(BackendCode.CopyData, data.length);
  data.copy(buf, HEADER);
  return buf;
}

/**
 * NegotiateProtocolVersion: the newest minor version of protocol 3 the server speaks and the
 * `_pq_.` startup options it did not recognise.
 */
export function negotiateProtocolVersion(
  newestMinor: number,
  unrecognizedOptions: readonly string[],
): Buffer {
  const options = unrecognizedOptions.map(wireString);
  let length = 8;
  for (const option of options) length += cstringLength(option);
  const buf = allocMessage(BackendCode.NegotiateProtocolVersion, length);
  buf.writeInt32BE(newestMinor, HEADER);
  buf.writeInt32BE(options.length, HEADER + 4);
  let offset = HEADER + 8;
  for (const option of options) offset = writeCString(buf, offset, option);
  return buf;
}

/** Several messages as one buffer, allocated once (for a single socket write). */
export function concatMessages(messages: readonly Buffer[]): Buffer {
  let length = 0;
  for (const m of messages) length += m.length;
  const out = Buffer.allocUnsafe(length);
  let offset = 0;
  for (const m of messages) offset += m.copy(out, offset);
  return out;
}
