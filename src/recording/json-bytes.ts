/**
 * JSON strings written straight from UTF-8 bytes, byte for byte what `JSON.stringify` writes for
 * the decoded text (and so what `canonical.ts` hashes): a received value is recorded without ever
 * becoming a JS string.
 *
 * For well-formed UTF-8 this is exact: decoding yields no lone surrogates (the only other thing
 * JSON.stringify escapes), so only `"`, `\` and the controls below 0x20 are escaped and every
 * other byte is copied (U+2028 and U+2029 included: JSON.stringify leaves them as they are).
 * Malformed UTF-8 is not handled here: the caller decodes that value as `toString('utf8')` does
 * (U+FFFD for each bad sequence, by the WHATWG rules) and stringifies it, so the record is the
 * same either way.
 */

/** The value is not well-formed UTF-8: the caller takes the string path. */
export const NOT_UTF8 = -1;
/** `out` lacks room from the escape found on: the caller reserves `jsonStringBound` and retries. */
export const NEEDS_ROOM = -2;

/** Most bytes the JSON string of `length` bytes of UTF-8 can take (`\u001f` for every byte). */
export function jsonStringBound(length: number): number {
  return 6 * length + 2;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Two lowercase hex digits per byte value, as one little-endian 16-bit store writes them. */
const HEX_PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) {
  HEX_PAIRS[b] = (HEX_DIGITS[b >> 4] as number) | ((HEX_DIGITS[b & 0x0f] as number) << 8);
}

/** The letter of a two-character escape (`\n`), or 0 where JSON.stringify writes `\u00xx`. */
const SHORT_ESCAPES = new Uint8Array(0x60);
SHORT_ESCAPES[0x08] = 0x62; // \b
SHORT_ESCAPES[0x09] = 0x74; // \t
SHORT_ESCAPES[0x0a] = 0x6e; // \n
SHORT_ESCAPES[0x0c] = 0x66; // \f
SHORT_ESCAPES[0x0d] = 0x72; // \r
SHORT_ESCAPES[0x22] = 0x22; // \"
SHORT_ESCAPES[0x5c] = 0x5c; // \\

/**
 * Writes the JSON string of the UTF-8 text at `src[start, end)`, quotes included, into `out` from
 * `at`; returns where it ends, NOT_UTF8, or NEEDS_ROOM. `out` must have room for `end - start + 2`
 * bytes from `at` (what text without escapes takes; escapes check for more as they come) and
 * `limit` is where that room ends.
 *
 * Both sides are DataViews: V8 compiles their loads and stores inline, and four bytes that need
 * nothing (the common case) are checked and copied as one 32-bit word.
 */
export function writeJsonString(
  src: DataView,
  start: number,
  end: number,
  out: DataView,
  at: number,
  limit: number,
): number {
  let o = at;
  out.setUint8(o++, 0x22); // "
  let p = start;
  while (p < end) {
    // Four bytes at a time while none is >= 0x80, < 0x20, '"' or '\\' (the classic "has a byte
    // less than n" and "has a zero byte" tests; exact for the question "any byte?").
    while (p + 4 <= end) {
      const x = src.getUint32(p, true);
      const quote = x ^ 0x22222222;
      const backslash = x ^ 0x5c5c5c5c;
      if (
        (x & 0x80808080) !== 0 ||
        ((x - 0x20202020) & ~x & 0x80808080) !== 0 ||
        ((quote - 0x01010101) & ~quote & 0x80808080) !== 0 ||
        ((backslash - 0x01010101) & ~backslash & 0x80808080) !== 0
      ) {
        break;
      }
      out.setUint32(o, x, true);
      o += 4;
      p += 4;
    }
    if (p >= end) break;
    const b = src.getUint8(p);
    if (b < 0x80) {
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
        out.setUint8(o++, b);
        p++;
        continue;
      }
      // Copies take no more room than they consume; an escape takes up to 6 bytes for one.
      if (o + 6 + (end - p) > limit) return NEEDS_ROOM;
      out.setUint8(o++, 0x5c); // \
      const letter = SHORT_ESCAPES[b] as number;
      if (letter !== 0) {
        out.setUint8(o++, letter);
      } else {
        out.setUint8(o++, 0x75); // u
        out.setUint16(o, 0x3030); // 00
        out.setUint16(o + 2, HEX_PAIRS[b] as number, true);
        o += 4;
      }
      p++;
      continue;
    }
    // A multi-byte sequence, checked as the WHATWG decoder (and so Buffer#toString) checks it:
    // no overlong forms, no surrogates, nothing above U+10FFFF.
    if (b < 0xc2 || b > 0xf4) return NOT_UTF8;
    if (b < 0xe0) {
      if (p + 1 >= end || (src.getUint8(p + 1) & 0xc0) !== 0x80) return NOT_UTF8;
      out.setUint16(o, src.getUint16(p));
      o += 2;
      p += 2;
      continue;
    }
    if (p + 2 >= end) return NOT_UTF8;
    const c1 = src.getUint8(p + 1);
    const low = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const high = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (c1 < low || c1 > high || (src.getUint8(p + 2) & 0xc0) !== 0x80) return NOT_UTF8;
    if (b < 0xf0) {
      out.setUint16(o, src.getUint16(p));
      out.setUint8(o + 2, src.getUint8(p + 2));
      o += 3;
      p += 3;
      continue;
    }
    if (p + 3 >= end || (src.getUint8(p + 3) & 0xc0) !== 0x80) return NOT_UTF8;
    out.setUint32(o, src.getUint32(p));
    o += 4;
    p += 4;
  }
  out.setUint8(o++, 0x22); // "
  return o;
}

/**
 * Writes `"\\x<hex>"`, the JSON string of `\x` followed by the lowercase hex of `src[start, end)`
 * (how a binary-format value is recorded: what bytea looks like, so a reader can tell it is not
 * text). Needs `2 * (end - start) + 5` bytes of room.
 */
export function writeJsonHexString(
  src: DataView,
  start: number,
  end: number,
  out: DataView,
  at: number,
): number {
  let o = at;
  out.setUint32(o, 0x785c5c22, true); // "\\x
  o += 4;
  for (let p = start; p < end; p++) {
    out.setUint16(o, HEX_PAIRS[src.getUint8(p)] as number, true);
    o += 2;
  }
  out.setUint8(o++, 0x22); // "
  return o;
}
