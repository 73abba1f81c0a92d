import iconv from 'iconv-lite';

/**
 * The character set a MySQL client speaks: the collation it named in its handshake response (what
 * `--default-character-set`, a driver's `charset` option or `SET NAMES` at connect choose). Its
 * statements arrive in it, and everything textual it reads back (values, column names, error
 * messages) must be in it. Sluice talks UTF-8 (utf8mb4) to the target whatever the client speaks,
 * so text is decoded from and encoded to the client's set at the listener.
 */
export interface ClientCharset {
  /** MySQL's name for the set: utf8mb4, cp1251, koi8r, ... */
  name: string;
  /** The collation a server reports for text it converts to this set (the set's default). */
  collation: number;
  /** Most bytes one character takes (column lengths are announced in bytes). */
  maxBytes: number;
  /** UTF-8 (utf8mb4 or utf8mb3): no conversion at all. */
  utf8: boolean;
  decode(bytes: Buffer): string;
  encode(text: string): Buffer;
}

interface CharsetFacts {
  /** iconv-lite's name; undefined for UTF-8. */
  encoding: string | undefined;
  collation: number;
  maxBytes: number;
  /** Collation ids (below 256, the ones a handshake can name) of this set. */
  ids: readonly number[];
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Collation ids and defaults as MariaDB 10.11 and MySQL 8 number them (information_schema.COLLATIONS). */
const CHARSETS: Readonly<Record<string, CharsetFacts>> = {
  utf8mb4: { encoding: undefined, collation: 45, maxBytes: 4, ids: [45, 46, ...range(224, 247), 255] },
  // Three bytes a character at most: characters beyond the BMP travel as CESU-8 surrogate pairs,
  // as mysql2 sends them and a server echoes them back.
  utf8mb3: { encoding: 'cesu8', collation: 33, maxBytes: 3, ids: [33, 83, ...range(192, 215), 223] },
  latin1: { encoding: 'cp1252', collation: 8, maxBytes: 1, ids: [5, 8, 15, 31, 47, 48, 49, 94] },
  latin2: { encoding: 'iso-8859-2', collation: 9, maxBytes: 1, ids: [2, 9, 21, 27, 77] },
  latin5: { encoding: 'iso-8859-9', collation: 30, maxBytes: 1, ids: [30, 78] },
  latin7: { encoding: 'iso-8859-13', collation: 41, maxBytes: 1, ids: [20, 41, 42, 79] },
  cp1250: { encoding: 'cp1250', collation: 26, maxBytes: 1, ids: [26, 34, 44, 66, 99] },
  cp1251: { encoding: 'cp1251', collation: 51, maxBytes: 1, ids: [14, 23, 50, 51, 52] },
  cp1256: { encoding: 'cp1256', collation: 57, maxBytes: 1, ids: [57, 67] },
  cp1257: { encoding: 'cp1257', collation: 59, maxBytes: 1, ids: [29, 58, 59] },
  cp850: { encoding: 'cp850', collation: 4, maxBytes: 1, ids: [4, 80] },
  cp852: { encoding: 'cp852', collation: 40, maxBytes: 1, ids: [40, 81] },
  cp866: { encoding: 'cp866', collation: 36, maxBytes: 1, ids: [36, 68] },
  koi8r: { encoding: 'koi8-r', collation: 7, maxBytes: 1, ids: [7, 74] },
  koi8u: { encoding: 'koi8-u', collation: 22, maxBytes: 1, ids: [22, 75] },
  greek: { encoding: 'iso-8859-7', collation: 25, maxBytes: 1, ids: [25, 70] },
  hebrew: { encoding: 'iso-8859-8', collation: 16, maxBytes: 1, ids: [16, 71] },
  armscii8: { encoding: 'armscii8', collation: 32, maxBytes: 1, ids: [32, 64] },
  geostd8: { encoding: 'georgianps', collation: 92, maxBytes: 1, ids: [92, 93] },
  macroman: { encoding: 'macintosh', collation: 39, maxBytes: 1, ids: [39, 53] },
  macce: { encoding: 'maccenteuro', collation: 38, maxBytes: 1, ids: [38, 43] },
  tis620: { encoding: 'tis620', collation: 18, maxBytes: 1, ids: [18, 89] },
  ascii: { encoding: 'ascii', collation: 11, maxBytes: 1, ids: [11, 65] },
  sjis: { encoding: 'shift_jis', collation: 13, maxBytes: 2, ids: [13, 88] },
  cp932: { encoding: 'cp932', collation: 95, maxBytes: 2, ids: [95, 96] },
  ujis: { encoding: 'euc-jp', collation: 12, maxBytes: 3, ids: [12, 91] },
  eucjpms: { encoding: 'euc-jp', collation: 97, maxBytes: 3, ids: [97, 98] },
  euckr: { encoding: 'euc-kr', collation: 19, maxBytes: 2, ids: [19, 85] },
  gb2312: { encoding: 'gb2312', collation: 24, maxBytes: 2, ids: [24, 86] },
  gbk: { encoding: 'gbk', collation: 28, maxBytes: 2, ids: [28, 87] },
  gb18030: { encoding: 'gb18030', collation: 248, maxBytes: 4, ids: [248, 249, 250] },
  big5: { encoding: 'big5', collation: 1, maxBytes: 2, ids: [1, 84] },
};

/**
 * Sets a server refuses as a client character set (not ASCII-based), for which it falls back to
 * its default; so does Sluice, to utf8mb4.
 */
const NOT_CLIENT_SETS = new Set([
  35,
  54,
  55,
  56,
  60,
  61,
  62,
  ...range(101, 124),
  ...range(128, 151),
  159,
  ...range(160, 183),
]);

function build(name: string, facts: CharsetFacts): ClientCharset {
  const encoding = facts.encoding;
  if (encoding === undefined) {
    return {
      name,
      collation: facts.collation,
      maxBytes: facts.maxBytes,
      utf8: true,
      decode: (bytes) => bytes.toString('utf8'),
      encode: (text) => Buffer.from(text, 'utf8'),
    };
  }
  return {
    name,
    collation: facts.collation,
    maxBytes: facts.maxBytes,
    utf8: false,
    decode:
      encoding === 'cesu8'
        ? (bytes) => decodeUtf8Or(bytes, encoding)
        : (bytes) => iconv.decode(bytes, encoding),
    encode: (text) => iconv.encode(text, encoding),
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Plain UTF-8 when the bytes are that (a 4-byte character from a client that ignores utf8mb3). */
function decodeUtf8Or(bytes: Buffer, encoding: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return iconv.decode(bytes, encoding);
  }
}

const BY_ID = new Map<number, ClientCharset>();
const BY_NAME = new Map<string, ClientCharset>();
for (const [name, facts] of Object.entries(CHARSETS)) {
  const charset = build(name, facts);
  BY_NAME.set(name, charset);
  for (const id of facts.ids) BY_ID.set(id, charset);
}
BY_NAME.set('utf8', BY_NAME.get('utf8mb3') as ClientCharset);

export const UTF8MB4 = BY_NAME.get('utf8mb4') as ClientCharset;

/**
 * The set a handshake's collation id names: a known set, utf8mb4 for the sets a server does not
 * accept from clients (UCS-2, UTF-16, UTF-32), or undefined for one Sluice cannot convert (dec8,
 * hp8, keybcs2, swe7, or an id it does not know), which the listener refuses rather than garble.
 */
export function clientCharsetById(collation: number): ClientCharset | undefined {
  if (NOT_CLIENT_SETS.has(collation)) return UTF8MB4;
  return BY_ID.get(collation);
}

/** A set by MySQL's name for it (`SET NAMES cp1251`), case-insensitive. */
export function clientCharsetByName(name: string): ClientCharset | undefined {
  return BY_NAME.get(name.toLowerCase());
}
