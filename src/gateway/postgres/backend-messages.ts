import { typeName } from '../../../protocols/postgres/client/values.js';
import type { ResultColumn } from '../types.js';

/**
 * Reading the few backend messages the relay must understand (RowDescription, CommandComplete,
 * ErrorResponse, ReadyForQuery). Every other message is forwarded by its header alone. Each reader
 * takes the message inside a received chunk as [start, end) of `buf` (type byte at `start`), so the
 * hot loop creates no view per message.
 */

/** Type bytes of backend messages the relay looks at. */
export const Backend = {
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NotificationResponse: 0x41, // A
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  EmptyQueryResponse: 0x49, // I
  NoticeResponse: 0x4e, // N
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  FunctionCallResponse: 0x56, // V
  CopyBothResponse: 0x57, // W
  ReadyForQuery: 0x5a, // Z
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  NoData: 0x6e, // n
  PortalSuspended: 0x73, // s
  ParameterDescription: 0x74, // t
} as const;

export class BackendProtocolError extends Error {
  override readonly name = 'BackendProtocolError';
}

/** A result's columns as the masking stage wants them, and the format code of each. */
export interface RowShape {
  columns: ResultColumn[];
  formats: number[];
}

function cstringEnd(buf: Buffer, from: number, end: number): number {
  const at = buf.indexOf(0, from);
  if (at < 0 || at >= end)
    throw new BackendProtocolError('malformed message from the target: unterminated string');
  return at;
}

/** Decodes a RowDescription ('T') message at buf[start, end). */
export function readRowDescription(buf: Buffer, start: number, end: number): RowShape {
  let pos = start + 5;
  if (pos + 2 > end) throw new BackendProtocolError('malformed RowDescription');
  const count = buf.readInt16BE(pos);
  pos += 2;
  const columns: ResultColumn[] = new Array(count);
  const formats: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const nameEnd = cstringEnd(buf, pos, end);
    const name = buf.toString('utf8', pos, nameEnd);
    pos = nameEnd + 1;
    if (pos + 18 > end) throw new BackendProtocolError('malformed RowDescription');
    const tableOid = buf.readUInt32BE(pos);
    const columnAttr = buf.readInt16BE(pos + 4);
    const typeOid = buf.readUInt32BE(pos + 6);
    formats[i] = buf.readInt16BE(pos + 16);
    pos += 18;
    columns[i] = { name, type: typeName(typeOid) ?? 'unknown', typeOid, tableOid, columnAttr };
  }
  return { columns, formats };
}

/** The tag of a CommandComplete ('C') message: `SELECT 3`, `INSERT 0 1`. */
export function readCommandTag(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start + 5, cstringEnd(buf, start + 5, end));
}

/** SQLSTATE and message of an ErrorResponse ('E'). */
export function readErrorFields(buf: Buffer, start: number, end: number): { code: string; message: string } {
  const fields = readNoticeFieldMap(buf, start, end);
  return { code: fields.get(0x43) ?? 'XX000', message: fields.get(0x4d) ?? '' };
}

/** Every field of an ErrorResponse or NoticeResponse, by its field type byte. */
export function readNoticeFieldMap(buf: Buffer, start: number, end: number): Map<number, string> {
  const fields = new Map<number, string>();
  let pos = start + 5;
  while (pos < end && buf[pos] !== 0) {
    const field = buf[pos] as number;
    const valueEnd = cstringEnd(buf, pos + 1, end);
    fields.set(field, buf.toString('utf8', pos + 1, valueEnd));
    pos = valueEnd + 1;
  }
  return fields;
}

/** Name and value of a ParameterStatus ('S'). */
export function readParameterStatus(buf: Buffer, start: number, end: number): [string, string] {
  const nameEnd = cstringEnd(buf, start + 5, end);
  const valueEnd = cstringEnd(buf, nameEnd + 1, end);
  return [buf.toString('utf8', start + 5, nameEnd), buf.toString('utf8', nameEnd + 1, valueEnd)];
}

/** Rows a command tag reports (`SELECT 3` → 3, `INSERT 0 1` → 1), 0 when it reports none. */
export function tagRowCount(tag: string): number {
  const space = tag.lastIndexOf(' ');
  if (space < 0) return 0;
  const n = Number(tag.slice(space + 1));
  return Number.isFinite(n) ? n : 0;
}
