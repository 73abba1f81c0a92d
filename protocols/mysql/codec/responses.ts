import { ResponseHeader, ServerStatus } from './constants.js';
import type { ClientCharset } from './charsets.js';
import { PayloadBuilder } from './payload-builder.js';

export interface OkFields {
  affectedRows?: number;
  lastInsertId?: number;
  status?: number;
  warnings?: number;
  info?: string;
}

/**
 * OK_Packet (protocol 4.1): header, affected rows, last insert id, status, warnings, info. The
 * info is the rest of the packet (what MySQL sends a client without session tracking), or with
 * `lenencInfo` a length-encoded string, which MariaDB servers always send and MariaDB's C
 * client (libmariadb: the mariadb CLI, Python's mysqlclient) always reads.
 */
export function encodeOk(fields: OkFields = {}, charset?: ClientCharset, lenencInfo = false): Buffer {
  const builder = new PayloadBuilder(16)
    .u8(ResponseHeader.Ok)
    .lenencInt(fields.affectedRows ?? 0)
    .lenencInt(fields.lastInsertId ?? 0)
    .u16(fields.status ?? ServerStatus.Autocommit)
    .u16(fields.warnings ?? 0);
  if (fields.info) {
    if (lenencInfo) builder.lenencText(fields.info, charset);
    else builder.text(fields.info, charset);
  }
  return builder.build();
}

export interface ErrFields {
  errno: number;
  /** Five characters; anything else is replaced by HY000 (general error). */
  sqlstate: string;
  message: string;
}

/** ERR_Packet (protocol 4.1): 0xff, errno, '#', SQLSTATE, message. */
export function encodeErr(fields: ErrFields, charset?: ClientCharset): Buffer {
  const sqlstate = /^[0-9A-Z]{5}$/.test(fields.sqlstate) ? fields.sqlstate : 'HY000';
  return new PayloadBuilder(16 + fields.message.length)
    .u8(ResponseHeader.Err)
    .u16(fields.errno)
    .text('#')
    .text(sqlstate)
    .text(fields.message, charset)
    .build();
}

/** EOF_Packet (protocol 4.1): ends column definitions and rows when DEPRECATE_EOF is off. */
export function encodeEof(fields: { warnings?: number; status?: number } = {}): Buffer {
  return new PayloadBuilder(5)
    .u8(ResponseHeader.EofOrAuthSwitch)
    .u16(fields.warnings ?? 0)
    .u16(fields.status ?? ServerStatus.Autocommit)
    .build();
}
