import { MysqlProtocolError } from '../errors.js';
import type { ClientCharset } from './charsets.js';

/**
 * The statement text of COM_QUERY / COM_STMT_PREPARE as a string that means the same bytes.
 *
 * Clients send binary values inside string literals (`_binary'\x80\xff...'`, as PyMySQL and
 * mysqlclient do for bytes parameters). Such a literal is not UTF-8, and decoding it as UTF-8
 * would replace its bytes with U+FFFD, so the target would store something else. A text that is
 * valid UTF-8 is returned as decoded; otherwise every string literal that is not valid UTF-8 is
 * written as the hex literal of its value (`X'80ff'`, after MySQL's backslash escapes and
 * doubled quotes), which the server reads as the same bytes. The result is what the guard reads
 * and what the target receives. Bytes that are not UTF-8 outside a string literal are refused.
 */
const strict = new TextDecoder('utf-8', { fatal: true });

export function decodeStatementText(bytes: Buffer, charset?: ClientCharset): string {
  if (charset !== undefined && !charset.utf8) return decodeInCharset(bytes, charset);
  try {
    return strict.decode(bytes);
  } catch {
    return rewriteBinaryLiterals(bytes);
  }
}

/** Quoted identifiers, string literals and comments, in the order they start. */
const TOKENS =
  /`(?:[^`]|``)*`|'(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*"|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\//g;
const BINARY_INTRODUCER = /_binary\s*$/i;

/**
 * A statement from a client of another character set (cp1251, koi8r, sjis, ...): decoded from it,
 * so the guard reads, and the target (spoken to in UTF-8) receives, the same characters the
 * client meant. Decoding first, not scanning bytes, is what keeps multi-byte sets right, where
 * a trailing byte can be 0x5c (a backslash) or a quote. A `_binary'...'` literal holds bytes,
 * not characters: it becomes the hex literal of the bytes the client sent in it.
 */
function decodeInCharset(bytes: Buffer, charset: ClientCharset): string {
  const text = charset.decode(bytes);
  if (!/_binary/i.test(text)) return text;
  return text.replace(TOKENS, (token, offset: number) => {
    const quote = token[0];
    if (
      (quote !== "'" && quote !== '"') ||
      !BINARY_INTRODUCER.test(text.slice(Math.max(0, offset - 64), offset))
    )
      return token;
    return ` X'${charset.encode(unescapeText(token)).toString('hex')}'`;
  });
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
};

/** What a quoted literal (decoded text, quotes included) stands for, as the server unescapes it. */
function unescapeText(literal: string): string {
  const quote = literal[0] as string;
  return literal.slice(1, -1).replace(/\\([\s\S])|(['"])\2/g, (_m, escaped?: string, doubled?: string) => {
    if (doubled !== undefined) return doubled === quote ? doubled : doubled + doubled;
    const e = escaped as string;
    // \% and \_ keep their backslash (they matter to LIKE).
    if (e === '%' || e === '_') return `\\${e}`;
    return TEXT_ESCAPES[e] ?? e;
  });
}

const QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;
const BACKTICK = 0x60;
const BACKSLASH = 0x5c;

const ESCAPES: Readonly<Record<number, number>> = {
  0x30: 0x00, // \0
  0x62: 0x08, // \b
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x5a: 0x1a, // \Z
};

function rewriteBinaryLiterals(bytes: Buffer): string {
  const out: string[] = [];
  let plainStart = 0;
  let i = 0;
  const n = bytes.length;
  const flushPlain = (end: number) => {
    if (end > plainStart) out.push(decodeOrRefuse(bytes.subarray(plainStart, end), plainStart));
  };
  while (i < n) {
    const c = bytes[i] as number;
    if (c === QUOTE || c === DOUBLE_QUOTE) {
      const end = literalEnd(bytes, i, c);
      const raw = bytes.subarray(i, end);
      if (!isUtf8(raw)) {
        flushPlain(i);
        // `_binary'...'` stays `_binary X'...'`: the introducer applies to a hex literal too.
        const glued = i > 0 && isWordByte(bytes[i - 1] as number);
        out.push(`${glued ? ' ' : ''}X'${unescapeLiteral(raw).toString('hex')}'`);
        plainStart = end;
      }
      i = end;
    } else if (c === BACKTICK) {
      i = literalEnd(bytes, i, c);
    } else if (c === 0x23 /* # */ || (c === 0x2d && bytes[i + 1] === 0x2d)) {
      const nl = bytes.indexOf(0x0a, i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === 0x2f && bytes[i + 1] === 0x2a) {
      const close = bytes.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
    } else {
      i++;
    }
  }
  flushPlain(n);
  return out.join('');
}

/** The index after the literal opened at `open` (backslash escapes outside backticks, doubled quotes). */
function literalEnd(bytes: Buffer, open: number, quote: number): number {
  let i = open + 1;
  while (i < bytes.length) {
    const c = bytes[i];
    if (c === BACKSLASH && quote !== BACKTICK) i += 2;
    else if (c === quote) {
      if (bytes[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  throw new MysqlProtocolError('ERR_TEXT_ENCODING', 'the statement ends inside a quoted string');
}

/** The bytes a quoted literal stands for. */
function unescapeLiteral(raw: Buffer): Buffer {
  const quote = raw[0] as number;
  const out: number[] = [];
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i] as number;
    if (c === BACKSLASH && i + 1 < raw.length - 1) {
      const next = raw[++i] as number;
      // \% and \_ keep their backslash (they matter to LIKE); others stand for a byte.
      if (next === 0x25 || next === 0x5f) out.push(BACKSLASH, next);
      else out.push(ESCAPES[next] ?? next);
    } else if (c === quote && raw[i + 1] === quote) {
      out.push(quote);
      i++;
    } else out.push(c);
  }
  return Buffer.from(out);
}

function isWordByte(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f ||
    c === 0x24
  );
}

function isUtf8(bytes: Buffer): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function decodeOrRefuse(bytes: Buffer, offset: number): string {
  try {
    return strict.decode(bytes);
  } catch {
    throw new MysqlProtocolError(
      'ERR_TEXT_ENCODING',
      `the statement holds bytes that are not UTF-8 outside a string literal (near byte ${offset + 1}); send binary values as parameters or hex literals`,
    );
  }
}
