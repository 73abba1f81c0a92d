import { tokenizeMySql, type MySqlToken } from './lexer.js';

/** The sets the target connection may read statements in: the ones Sluice's text is sent in. */
const UTF8_SETS: ReadonlySet<string> = new Set(['utf8', 'utf8mb3', 'utf8mb4']);

/**
 * What a SET text does to the character set the server reads statements in
 * (`character_set_client`, which `SET NAMES`, `SET CHARACTER SET` and `SET CHARSET` change too):
 * `none` when it does not name it, `utf8` when every change is to a UTF-8 set named as a literal,
 * `other` for anything else (another set, DEFAULT, a variable, an expression, a form not read here).
 *
 * The guard reads a text as the JavaScript string it is; the target connection must read it as
 * the same characters, in UTF-8. In another set the server splits strings differently: the driver
 * encodes `¥` as the byte 0x5c in sjis (a backslash to the server), `ħ` as 0x27 in latin1 (a
 * quote), and a set whose multi-byte characters may end in 0x5c makes a UTF-8 byte swallow the
 * backslash that escapes a quote (the classic GBK injection). Either way a string the guard read
 * as one literal would end early at the server and the rest run as SQL.
 */
export function clientCharsetChange(text: string): 'none' | 'utf8' | 'other' {
  const tokens = tokenizeMySql(text);
  if (tokens[0]?.kind !== 'word' || tokens[0].text !== 'SET') return 'none';
  let result: 'none' | 'utf8' | 'other' = 'none';
  for (const item of splitItems(tokens.slice(1))) {
    const value = clientCharsetValue(item);
    if (value === undefined) {
      // Named where this reader does not expect it: not an assignment it can vouch for.
      if (item.some(namesClientCharset)) return 'other';
      continue;
    }
    if (!isUtf8Literal(value)) return 'other';
    result = 'utf8';
  }
  return result;
}

/** The items of a SET list, split at the commas outside parentheses. */
function splitItems(tokens: readonly MySqlToken[]): MySqlToken[][] {
  const items: MySqlToken[][] = [[]];
  let depth = 0;
  for (const token of tokens) {
    if (token.kind === 'punct' && token.text === '(') depth++;
    else if (token.kind === 'punct' && token.text === ')') depth--;
    if (depth === 0 && token.kind === 'punct' && (token.text === ',' || token.text === ';')) {
      items.push([]);
      continue;
    }
    items[items.length - 1]?.push(token);
  }
  return items.filter((item) => item.length > 0);
}

/** A word or a backtick-quoted name, as the server compares names: unquoted, upper case. */
function nameOf(token: MySqlToken | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (token.kind === 'word') return token.text;
  if (token.kind === 'quoted' && token.text.startsWith('`'))
    return token.text.slice(1, -1).replace(/``/g, '`').toUpperCase();
  return undefined;
}

function namesClientCharset(token: MySqlToken): boolean {
  const name = nameOf(token);
  return name === 'CHARACTER_SET_CLIENT' || name === 'NAMES' || name === 'CHARSET';
}

/**
 * The value tokens an item assigns to the client's set, or undefined when the item does not
 * assign it: `NAMES x [COLLATE y]`, `CHARACTER SET x`, `CHARSET x`,
 * `[SESSION | LOCAL | @@[session. | local.]]character_set_client {= | :=} x`.
 */
function clientCharsetValue(item: readonly MySqlToken[]): MySqlToken[] | undefined {
  let i = 0;
  const word = (k: number) => nameOf(item[k]);
  const punct = (k: number, text: string) => item[k]?.kind === 'punct' && item[k]?.text === text;
  if (word(i) === 'SESSION' || word(i) === 'LOCAL') i++;
  if (punct(i, '@') && punct(i + 1, '@')) {
    i += 2;
    if ((word(i) === 'SESSION' || word(i) === 'LOCAL') && punct(i + 1, '.')) i += 2;
  }
  const first = word(i);
  if (first === 'NAMES' || first === 'CHARSET') return item.slice(i + 1);
  if (first === 'CHARACTER' && word(i + 1) === 'SET') return item.slice(i + 2);
  if (first !== 'CHARACTER_SET_CLIENT') return undefined;
  if (punct(i + 1, '=')) return item.slice(i + 2);
  if (punct(i + 1, ':') && punct(i + 2, '=')) return item.slice(i + 3);
  return [];
}

/** `utf8mb4`, `'utf8'`, `"utf8mb3"` or a backtick name, optionally followed by `COLLATE name`. */
function isUtf8Literal(value: readonly MySqlToken[]): boolean {
  const [set, collate, collation, ...rest] = value;
  if (set === undefined || rest.length > 0) return false;
  if (collate !== undefined && (nameOf(collate) !== 'COLLATE' || collation === undefined)) return false;
  if (collation !== undefined && collation.kind === 'punct') return false;
  let name: string | undefined;
  if (set.kind === 'word') name = set.text;
  else if (set.kind === 'quoted' && set.text.length >= 2 && !set.text.includes('\\'))
    name = set.text.slice(1, -1);
  return name !== undefined && UTF8_SETS.has(name.toLowerCase());
}
