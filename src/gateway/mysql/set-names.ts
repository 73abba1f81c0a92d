import { clientCharsetByName, UTF8MB4, type ClientCharset } from '../../../protocols/mysql/codec/charsets.js';

const NAME = String.raw`(?:'(\w+)'|"(\w+)"|` + '`' + String.raw`(\w+)` + '`' + String.raw`|(\w+))`;
const SET_NAMES = new RegExp(
  String.raw`^\s*SET\s+(?:NAMES|CHARACTER\s+SET|CHARSET)\s+${NAME}(?:\s+COLLATE\s+${NAME})?\s*;?\s*$`,
  'i',
);

/**
 * `SET NAMES x [COLLATE y]`, `SET CHARACTER SET x`, `SET CHARSET x`: the character set the client
 * speaks from now on, which the listener honours itself. The target connection stays utf8mb4
 * (Sluice decodes and encodes the client's set); passing the statement on would make the target
 * read Sluice's UTF-8 as the client's set. Undefined for any other text; `unknown` for a set
 * Sluice cannot convert.
 */
export function setNamesCharset(sql: string): ClientCharset | 'unknown' | undefined {
  const m = SET_NAMES.exec(sql);
  if (m === null) return undefined;
  const name = (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').toLowerCase();
  if (name === 'default') return UTF8MB4;
  return clientCharsetByName(name) ?? 'unknown';
}
