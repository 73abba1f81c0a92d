import { isIPv4, isIPv6 } from 'node:net';
import type { DETECTORS } from '../config/schema.js';

export type DetectorName = (typeof DETECTORS)[number];

/**
 * Cheap facts about a value, gathered in one pass. Each detector first asks these whether the
 * value could hold what it looks for; only candidates pay for a regular expression or checksum.
 */
export interface TextFeatures {
  at: number;
  digits: number;
  dots: number;
  colons: number;
  /** ASCII capital letters (an IBAN starts with two). */
  upper: number;
  /** Longest run of [A-Za-z0-9_-]: tokens, keys, IBANs, JWT segments. */
  longestWord: number;
}

export const newFeatures = (): TextFeatures => ({
  at: 0,
  digits: 0,
  dots: 0,
  colons: 0,
  upper: 0,
  longestWord: 0,
});

/*
 * One lookup per byte: bit flags of the ASCII characters the features count. Word characters
 * (of tokens) are A-Z a-z 0-9 _ -; anything at or above 128 only ends a word.
 */
const DIGIT = 1;
const AT_SIGN = 2;
const DOT = 4;
const COLON = 8;
const UPPER = 16;
const WORD = 32;
const CHAR_FLAGS: Readonly<Uint8Array> = Uint8Array.from({ length: 128 }, (_, c) => {
  const ch = String.fromCharCode(c);
  let flags = /[A-Za-z0-9_-]/.test(ch) ? WORD : 0;
  if (/[0-9]/.test(ch)) flags |= DIGIT;
  if (/[A-Z]/.test(ch)) flags |= UPPER;
  if (ch === '@') flags |= AT_SIGN;
  if (ch === '.') flags |= DOT;
  if (ch === ':') flags |= COLON;
  return flags;
});

/** CHAR_FLAGS for every byte value; HIGH marks the bytes of non-ASCII characters. */
const HIGH = 64;
export const BYTE_FLAGS: Readonly<Uint8Array> = Uint8Array.from({ length: 256 }, (_, c) =>
  c < 128 ? (CHAR_FLAGS[c] as number) : HIGH,
);

/** Counts in locals and stores once: property writes per byte would cost more than the scan. */
function scan(f: TextFeatures, length: number, codeAt: (i: number) => number): TextFeatures {
  let at = 0;
  let digits = 0;
  let dots = 0;
  let colons = 0;
  let upper = 0;
  let longest = 0;
  let run = 0;
  for (let i = 0; i < length; i++) {
    const c = codeAt(i);
    const flags = c < 128 ? (CHAR_FLAGS[c] as number) : 0;
    if (flags & WORD) {
      run++;
      if (run > longest) longest = run;
      if (flags & DIGIT) digits++;
      else if (flags & UPPER) upper++;
    } else {
      run = 0;
      if (flags & AT_SIGN) at++;
      else if (flags & DOT) dots++;
      else if (flags & COLON) colons++;
    }
  }
  f.at = at;
  f.digits = digits;
  f.dots = dots;
  f.colons = colons;
  f.upper = upper;
  f.longestWord = longest;
  return f;
}

/** Fills `f` from the UTF-8 bytes buf[start, end). */
export function scanBytes(buf: Uint8Array, start: number, end: number, f: TextFeatures): TextFeatures {
  return scan(f, end - start, (i) => buf[start + i] as number);
}

export function scanText(text: string, f: TextFeatures): TextFeatures {
  return scan(f, text.length, (i) => text.charCodeAt(i));
}

/**
 * A detector's pre-filter as data: the least count of each feature a value must have. A detector
 * has one or more of them (any may hold). Data rather than code, so that a row masker can merge
 * the pre-filters of all configured detectors into a few comparisons.
 */
export interface Prefilter {
  readonly at?: number;
  readonly digits?: number;
  readonly dots?: number;
  readonly colons?: number;
  readonly upper?: number;
  readonly longestWord?: number;
}

export const FEATURE_KEYS = ['at', 'digits', 'dots', 'colons', 'upper', 'longestWord'] as const;
/** FEATURE_KEYS indexes, rarest in ordinary text first: '@', ':', long words, dots, digits, capitals. */
const QUICK_ORDER = [0, 3, 5, 2, 1, 4] as const;

/** One pre-filter as a function on features (for decoded values: the MCP path, policy checks). */
function prefilterFunction(p: Prefilter): (f: TextFeatures) => boolean {
  const [at, digits, dots, colons, upper, longestWord] = FEATURE_KEYS.map((k) => p[k] ?? 0) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return (f) =>
    f.at >= at &&
    f.digits >= digits &&
    f.dots >= dots &&
    f.colons >= colons &&
    f.upper >= upper &&
    f.longestWord >= longestWord;
}

/** A detector's pre-filters (any may hold) as one function. */
function candidateFunction(prefilters: readonly Prefilter[]): (f: TextFeatures) => boolean {
  const [first, second, ...rest] = prefilters.map(prefilterFunction);
  if (first === undefined) return () => true;
  if (second === undefined) return first;
  if (rest.length === 0) return (f) => first(f) || second(f);
  const all = [first, second, ...rest];
  return (f) => all.some((p) => p(f));
}

/** Whether `a` holds for every value `b` holds for (so `b` need not be checked). */
function covers(a: Prefilter, b: Prefilter): boolean {
  for (const k of FEATURE_KEYS) if ((a[k] ?? 0) > (b[k] ?? 0)) return false;
  return true;
}

/**
 * The merged pre-filter of a set of detectors, for the wire row path: one byte loop per field
 * fills `features` and answers whether any of the detectors could find something. A value it
 * rejects is certainly clean for all of them, so no string is made for it.
 */
export class DetectorPrefilter {
  readonly features: TextFeatures = newFeatures();
  /**
   * The alternatives, each as its count of conditions then (feature index, least value) pairs:
   * only the features an alternative names are compared (most name one or two).
   */
  readonly #conditions: Int32Array;
  /**
   * One condition each alternative needs (the one rarest in ordinary text), merged per feature:
   * a value below all of these fails every alternative, and is rejected with no further work.
   */
  readonly #quick = new Int32Array(FEATURE_KEYS.length).fill(0x7fffffff);
  /** The counts of the last scanned value, by FEATURE_KEYS index. */
  readonly #counts = new Int32Array(FEATURE_KEYS.length);
  /** Whether the last scanned value was all ASCII (then latin1 and UTF-8 decode alike). */
  ascii = true;

  /** The quick thresholds and the alternatives, as data (for the WebAssembly row kernel). */
  get data(): { readonly quick: Int32Array; readonly conditions: Int32Array } {
    return { quick: this.#quick, conditions: this.#conditions };
  }

  constructor(detectors: readonly Detector[]) {
    const all = detectors.flatMap((d) => d.prefilters);
    // Drop an alternative when another, weaker one holds whenever it does.
    const kept = all.filter(
      (b, i) => !all.some((a, j) => j !== i && covers(a, b) && (!covers(b, a) || j < i)),
    );
    const flat: number[] = [];
    for (const p of kept) {
      const named = FEATURE_KEYS.flatMap((k, j) => ((p[k] ?? 0) > 0 ? [j, p[k] ?? 0] : []));
      flat.push(named.length / 2, ...named);
    }
    this.#conditions = Int32Array.from(flat);
    for (const p of kept) {
      const j = QUICK_ORDER.find((k) => (p[FEATURE_KEYS[k]] ?? 0) > 0);
      // An alternative that names nothing holds for every value: nothing can be rejected early.
      if (j === undefined) this.#quick.fill(0);
      else this.#quick[j] = Math.min(this.#quick[j] as number, p[FEATURE_KEYS[j]] ?? 0);
    }
  }

  /**
   * Scans buf[start, end); false when no detector could match the value. When true, `features`
   * and `ascii` describe the value (when false they are left as they were).
   */
  candidate(buf: Uint8Array, start: number, end: number): boolean {
    let at = 0;
    let digits = 0;
    let dots = 0;
    let colons = 0;
    let upper = 0;
    let longest = 0;
    let run = 0;
    let high = 0;
    for (let i = start; i < end; i++) {
      const flags = BYTE_FLAGS[buf[i] as number] as number;
      if (flags === WORD) {
        // Most bytes of text: a lower-case letter, '_' or '-'.
        run++;
        continue;
      }
      if (flags & WORD) {
        run++;
        if (flags & DIGIT) digits++;
        else upper++;
        continue;
      }
      if (run > longest) longest = run;
      run = 0;
      if (flags === 0) continue;
      if (flags & AT_SIGN) at++;
      else if (flags & DOT) dots++;
      else if (flags & COLON) colons++;
      else high = 1;
    }
    if (run > longest) longest = run;
    const q = this.#quick;
    if (
      at < (q[0] as number) &&
      digits < (q[1] as number) &&
      dots < (q[2] as number) &&
      colons < (q[3] as number) &&
      upper < (q[4] as number) &&
      longest < (q[5] as number)
    ) {
      return false;
    }
    const f = this.features;
    f.at = at;
    f.digits = digits;
    f.dots = dots;
    f.colons = colons;
    f.upper = upper;
    f.longestWord = longest;
    this.ascii = high === 0;
    const counts = this.#counts;
    counts[0] = at;
    counts[1] = digits;
    counts[2] = dots;
    counts[3] = colons;
    counts[4] = upper;
    counts[5] = longest;
    const conditions = this.#conditions;
    for (let k = 0; k < conditions.length;) {
      const end = k + 1 + 2 * (conditions[k] as number);
      let holds = true;
      for (k++; k < end; k += 2) {
        if ((counts[conditions[k] as number] as number) < (conditions[k + 1] as number)) {
          holds = false;
          k = end;
          break;
        }
      }
      if (holds) return true;
    }
    return false;
  }
}

export interface Detector {
  readonly name: DetectorName;
  /** The pre-filter as data: a value that passes none of these holds nothing this detector finds. */
  readonly prefilters: readonly Prefilter[];
  /** The pre-filter: false means the value certainly holds nothing this detector finds. */
  candidate(f: TextFeatures): boolean;
  /** The full check, run only on candidates. */
  matches(text: string): boolean;
  /**
   * The same check on the UTF-8 bytes of the text, where it can be done without a string (the
   * row path then makes none). Must answer exactly as `matches` on the decoded text: ASCII
   * characters are single bytes and every byte of any other character is 0x80 or above, so a
   * pattern over ASCII classes matches at the same places in both.
   */
  readonly matchesBytes?: (buf: Uint8Array, start: number, end: number) => boolean;
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
const CARD_RUN = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g;
const SSN = /(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])/g;
const PHONE =
  /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\w)|(?<![\w+])\+\d{10,15}(?!\w)/;
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])/g;
const IPV4 = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d]|\.\d)/g;
const IPV6_CANDIDATE = /[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/g;
const BEARER = /\bBearer\s+[A-Za-z0-9\-._~+/]{8,}=*/i;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;
const KEY_PREFIXED =
  /\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[A-Za-z0-9_-]{35})/;
const LONG_TOKEN = /[A-Za-z0-9_\-+/=]{32,}/g;

/** The Luhn checksum of a digit string (card numbers). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 = 1. */
export function ibanValid(iban: string): boolean {
  const s = iban.replace(/ /g, '').toUpperCase();
  if (s.length < 15 || s.length > 34 || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    rem = value >= 10 ? (rem * 100 + value) % 97 : (rem * 10 + value) % 97;
  }
  return rem === 1;
}

function validSsn(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

/*
 * Byte versions of the email, SSN and phone patterns, for the row path. Each tries every start
 * position the expression would, with every choice its optional parts allow; the tests compare
 * them with the expressions on generated text.
 */
const B_DIGIT = 1;
/** [A-Za-z] */
const B_LETTER = 2;
/** [A-Za-z0-9_]: \w */
const B_WORD = 4;
/** [A-Za-z0-9-]: a domain label */
const B_LABEL = 8;
/** [A-Za-z0-9._%+-]: the local part of an address */
const B_LOCAL = 16;
/** [ .-]: a phone separator */
const B_PHONE_SEP = 32;
const BYTE_CLASS: Readonly<Uint8Array> = Uint8Array.from({ length: 256 }, (_, c) => {
  if (c >= 128) return 0;
  const ch = String.fromCharCode(c);
  let k = 0;
  if (/[0-9]/.test(ch)) k |= B_DIGIT;
  if (/[A-Za-z]/.test(ch)) k |= B_LETTER;
  if (/\w/.test(ch)) k |= B_WORD;
  if (/[A-Za-z0-9-]/.test(ch)) k |= B_LABEL;
  if (/[A-Za-z0-9._%+-]/.test(ch)) k |= B_LOCAL;
  if (/[ .-]/.test(ch)) k |= B_PHONE_SEP;
  return k;
});

/** Whether buf[i] (i < end) is in class `k`. */
const is = (buf: Uint8Array, i: number, end: number, k: number): boolean =>
  i < end && ((BYTE_CLASS[buf[i] as number] as number) & k) !== 0;

function digits(buf: Uint8Array, i: number, n: number, end: number): boolean {
  if (i + n > end) return false;
  for (let j = i; j < i + n; j++)
    if (!(((BYTE_CLASS[buf[j] as number] as number) & B_DIGIT) !== 0)) return false;
  return true;
}

/** EMAIL on bytes: some '@' with a local character before it and a domain after it. */
function emailInBytes(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start + 1; i < end; i++) {
    if (buf[i] !== 0x40 || !is(buf, i - 1, end, B_LOCAL)) continue;
    // [A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}: labels joined by single dots, and some dot
    // (after a label) followed by two letters.
    for (let j = i + 1; j < end; j++) {
      const c = buf[j] as number;
      if (c === 0x2e) {
        if (j === i + 1 || buf[j - 1] === 0x2e) break;
        if (is(buf, j + 1, end, B_LETTER) && is(buf, j + 2, end, B_LETTER)) return true;
      } else if (!is(buf, j, end, B_LABEL)) break;
    }
  }
  return false;
}

const ZERO = 0x30;

/** SSN on bytes, with the validity check: matches of the expression cannot overlap, so every start is tried. */
function ssnInBytes(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i + 11 <= end; i++) {
    if (!digits(buf, i, 3, end)) continue;
    if (i > start && (is(buf, i - 1, end, B_DIGIT) || buf[i - 1] === 0x2d)) continue;
    const sep = buf[i + 3];
    if (sep !== 0x2d && sep !== 0x20) continue;
    if (!digits(buf, i + 4, 2, end) || buf[i + 6] !== sep || !digits(buf, i + 7, 4, end)) continue;
    if (is(buf, i + 11, end, B_DIGIT) || (i + 11 < end && buf[i + 11] === 0x2d)) continue;
    const area = (buf[i] as number) * 10000 + (buf[i + 1] as number) * 100 + (buf[i + 2] as number);
    if (area === ZERO * 10101 || area === 0x36 * 10101 || buf[i] === 0x39) continue;
    if (buf[i + 4] === ZERO && buf[i + 5] === ZERO) continue;
    if (buf[i + 7] === ZERO && buf[i + 8] === ZERO && buf[i + 9] === ZERO && buf[i + 10] === ZERO) continue;
    return true;
  }
  return false;
}

/** \d{3}[ .-]\d{4}(?!\w) after the area code, from r. */
function phoneTail(buf: Uint8Array, r: number, end: number): boolean {
  return (
    digits(buf, r, 3, end) &&
    is(buf, r + 3, end, B_PHONE_SEP) &&
    digits(buf, r + 4, 4, end) &&
    !is(buf, r + 8, end, B_WORD)
  );
}

/** (?:\(\d{3}\)[ .-]?|\d{3}[ .-]) then the tail, from q. */
function phoneCore(buf: Uint8Array, q: number, end: number): boolean {
  if (buf[q] === 0x28 && q < end && digits(buf, q + 1, 3, end) && q + 4 < end && buf[q + 4] === 0x29) {
    if (phoneTail(buf, q + 5, end)) return true;
    if (is(buf, q + 5, end, B_PHONE_SEP) && phoneTail(buf, q + 6, end)) return true;
  }
  return digits(buf, q, 3, end) && is(buf, q + 3, end, B_PHONE_SEP) && phoneTail(buf, q + 4, end);
}

/** PHONE on bytes: both alternatives at every start the lookbehind allows. */
function phoneInBytes(buf: Uint8Array, start: number, end: number): boolean {
  for (let p = start; p < end; p++) {
    if (p > start && (is(buf, p - 1, end, B_WORD) || buf[p - 1] === 0x2b)) continue;
    if (phoneCore(buf, p, end)) return true;
    if (buf[p] !== 0x2b) continue;
    // (?:\+\d{1,3}[ .-]?) before the core
    for (let k = 1; k <= 3 && is(buf, p + k, end, B_DIGIT); k++) {
      const q = p + 1 + k;
      if (phoneCore(buf, q, end)) return true;
      if (is(buf, q, end, B_PHONE_SEP) && phoneCore(buf, q + 1, end)) return true;
    }
    // \+\d{10,15}(?!\w): the whole digit run, as a shorter one would be followed by a digit
    let run = 0;
    while (is(buf, p + 1 + run, end, B_DIGIT)) run++;
    if (run >= 10 && run <= 15 && !is(buf, p + 1 + run, end, B_WORD)) return true;
  }
  return false;
}

/** Shannon entropy in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A long token that looks random: mixed case and digits, high entropy (not a word, hex id or UUID). */
function looksLikeSecret(token: string): boolean {
  return /[a-z]/.test(token) && /[A-Z]/.test(token) && /\d/.test(token) && entropy(token) >= 4;
}

/**
 * Every match, as strings. String#match with a global expression starts from lastIndex 0 and
 * leaves it at 0, so the shared expression carries no state from one call to the next.
 */
const all = (re: RegExp, text: string): readonly string[] => text.match(re) ?? [];

const DETECTOR_DEFINITIONS: Readonly<Record<DetectorName, Omit<Detector, 'candidate'>>> = {
  email: {
    name: 'email',
    prefilters: [{ at: 1, dots: 1 }],
    matches: (text) => EMAIL.test(text),
    matchesBytes: emailInBytes,
  },
  'credit-card': {
    name: 'credit-card',
    prefilters: [{ digits: 13 }],
    matches(text) {
      for (const m of all(CARD_RUN, text)) {
        const digits = m.replace(/[ -]/g, '');
        if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
      }
      return false;
    },
  },
  'us-ssn': {
    name: 'us-ssn',
    prefilters: [{ digits: 9 }],
    matches(text) {
      // A match is ddd-dd-dddd (one separator, repeated): the parts are at fixed places.
      for (const m of all(SSN, text)) if (validSsn(m.slice(0, 3), m.slice(4, 6), m.slice(7))) return true;
      return false;
    },
    matchesBytes: ssnInBytes,
  },
  phone: {
    name: 'phone',
    prefilters: [{ digits: 10 }],
    matches: (text) => PHONE.test(text),
    matchesBytes: phoneInBytes,
  },
  iban: {
    name: 'iban',
    prefilters: [{ digits: 8, upper: 2 }],
    matches(text) {
      for (const m of all(IBAN, text)) if (ibanValid(m)) return true;
      return false;
    },
  },
  ip: {
    name: 'ip',
    prefilters: [{ dots: 3, digits: 4 }, { colons: 2 }],
    matches(text) {
      for (const m of all(IPV4, text)) if (isIPv4(m)) return true;
      if (text.indexOf(':') < 0) return false;
      for (const m of all(IPV6_CANDIDATE, text)) if (m.length >= 2 && isIPv6(m)) return true;
      return false;
    },
  },
  'bearer-token': {
    name: 'bearer-token',
    // A JWT's first segment, or a bearer token worth the name, is at least 16 word characters.
    prefilters: [{ longestWord: 16 }],
    matches: (text) => BEARER.test(text) || JWT.test(text),
  },
  'api-key': {
    name: 'api-key',
    prefilters: [{ longestWord: 16 }],
    matches(text) {
      if (KEY_PREFIXED.test(text)) return true;
      for (const m of all(LONG_TOKEN, text)) if (looksLikeSecret(m)) return true;
      return false;
    },
  },
};

/** Every detector by name; `candidate` is its pre-filter data as a function. */
export const DETECTOR_TABLE: Readonly<Record<DetectorName, Detector>> = Object.fromEntries(
  Object.entries(DETECTOR_DEFINITIONS).map(([name, d]) => [
    name,
    { ...d, candidate: candidateFunction(d.prefilters) },
  ]),
) as Record<DetectorName, Detector>;
