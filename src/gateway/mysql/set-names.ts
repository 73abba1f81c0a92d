import { clientCharsetByName, UTF8MB4, type ClientCharset } from '../../../protocols/mysql/codec/charsets.js';

/** What a character-set statement changes: the set statements arrive in, the set results go out in. */
export interface CharsetChange {
  client?: ClientCharset;
  results?: ClientCharset;
  /** A set named that Sluice cannot convert. */
  unknown?: string;
}

const NAME = String.raw`(?:'(\w+)'|"(\w+)"|` + '`' + String.raw`(\w+)` + '`' + String.raw`|(\w+))`;
const NAMES = new RegExp(
  String.raw`^(?:NAMES|CHARACTER\s+SET|CHARSET)\s+${NAME}(?:\s+COLLATE\s+${NAME})?$`,
  'i',
);
const VARIABLE = new RegExp(
  String.raw`^(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?(character_set_client|character_set_results|character_set_connection)\s*(?::=|=)\s*${NAME}$`,
  'i',
);

function charsetNamed(match: RegExpExecArray, from: number): ClientCharset | string {
  const name = (match[from] ?? match[from + 1] ?? match[from + 2] ?? match[from + 3] ?? '').toLowerCase();
  // DEFAULT is the server's; NULL (results only) is "as each column is stored", which reaches
  // the client as UTF-8 here, each column announced so.
  if (name === 'default' || name === 'null') return UTF8MB4;
  return clientCharsetByName(name) ?? name;
}

/**
 * `SET NAMES x [COLLATE y]`, `SET CHARACTER SET x`, and `SET character_set_client / _results /
 * _connection = x` (alone or together in one SET): the sets the client speaks and reads from now
 * on, which the listener honours itself. The target connection stays utf8mb4 (Sluice decodes and
 * encodes the client's sets): passing such a statement on would make the target read Sluice's
 * UTF-8 in another set, or answer in one the relayed column definitions do not describe.
 * Undefined for any other text, including a SET that also assigns anything else.
 */
export function charsetChange(sql: string): CharsetChange | undefined {
  const body = /^\s*SET\s+([\s\S]*?)\s*;?\s*$/i.exec(sql)?.[1];
  if (body === undefined || !/char|names/i.test(body)) return undefined;
  const change: CharsetChange = {};
  for (const part of body.split(',')) {
    const item = part.trim();
    const names = NAMES.exec(item);
    if (names) {
      const charset = charsetNamed(names, 1);
      if (typeof charset === 'string') change.unknown = charset;
      else {
        change.client = charset;
        change.results = charset;
      }
      continue;
    }
    const variable = VARIABLE.exec(item);
    if (!variable) return undefined;
    const charset = charsetNamed(variable, 2);
    if (typeof charset === 'string') {
      change.unknown = charset;
      continue;
    }
    const which = (variable[1] as string).toLowerCase();
    if (which === 'character_set_client') change.client = charset;
    else if (which === 'character_set_results') change.results = charset;
  }
  return change;
}

/**
 * A prepared character-set statement (`SET character_set_results = ?`) with its parameters in
 * place: the text the listener answers, and what it changes. Undefined when the statement is not
 * one, or a parameter is not a bare set name (anything else is left to the target, which the
 * guard decides as usual).
 */
export function charsetStatementWith(
  sql: string,
  params: readonly unknown[],
): { sql: string; change: CharsetChange } | undefined {
  if (params.length === 0 || !/char|names/i.test(sql)) return undefined;
  if (!params.every((p) => typeof p === 'string' && /^\w+$/.test(p))) return undefined;
  let next = 0;
  const text = sql.replace(/\?/g, () => `'${params[next++] as string}'`);
  if (next !== params.length) return undefined;
  const change = charsetChange(text);
  return change === undefined ? undefined : { sql: text, change };
}

/**
 * The text the guard decides a character-set statement the listener answers itself by. The guard
 * never lets a text that changes the client's set to anything but UTF-8 run (the target would
 * read Sluice's UTF-8 text in that set), but this one does not reach the target: the listener
 * transcodes. It is decided as a change of a session setting, as it always was (an agent policy
 * denies it), under a name of its own: an UTF-8 change keeps its own text (`routine`).
 */
export function charsetDecisionText(sql: string, change: CharsetChange): string {
  const client = change.client;
  if (change.unknown === undefined && (client === undefined || client.utf8)) return sql;
  const name = change.unknown ?? client?.name ?? '';
  return `SET SESSION sluice_client_character_set = '${name.replace(/[^\w]/g, '')}'`;
}
