/**
 * The Postgres DataRow masker's inner loop, in AssemblyScript (compiled to WebAssembly by
 * `npm run build:wasm`; the module is kept in ../row-kernel-binary.ts). JavaScript reads bytes at
 * 1-2 ns each and a field header at ~4 ns; this loop reads them at a fraction of that.
 *
 * It masks a run of whole DataRow messages from an input region into an output region, with a
 * plan written into memory by `row-kernel.ts`, and does only what it can answer exactly as the
 * JavaScript masker (`FieldMasker` in ../../wire.ts) would: constant masks, `partial` and `email`
 * on ASCII text, the detectors' merged pre-filter, and the email, US SSN and phone detectors on
 * bytes. Any other row (a value that is not ASCII, a detector without a byte version, a strategy
 * that needs a string, a malformed row) stops the run at that row's first byte, and the caller
 * masks it in JavaScript (which also throws for a malformed row).
 */

// Column operations.
const PASS: u8 = 0;
/** Writes pool constant `arg` (a length, -1 for NULL, then the bytes). */
const CONSTANT: u8 = 1;
/** Stars, keeping the last `arg` bytes (all stars when the value is not longer than that). */
const PARTIAL: u8 = 2;
/** The mask, then the domain from the '@'; the mask alone when the value is not an address. */
const EMAIL: u8 = 3;
/** The detectors; `arg` is the column's value class (0 text, 1 json, 2 jsonb-binary, 3 other). */
const DETECT: u8 = 4;
/** Any non-NULL value: the row goes to JavaScript. */
const BY_JS: u8 = 5;

// Why a run stopped.
const END: i32 = 0;
const NOT_A_ROW: i32 = 1;
const ROW_FOR_JS: i32 = 2;
const OUTPUT_FULL: i32 = 3;
const ROW_LIMIT: i32 = 4;

// Plan header, in i32 words at `plan`.
const P_COLUMNS = 0;
const P_OPS = 1;
const P_ARGS = 2;
const P_POOL = 3;
const P_QUICK = 4;
const P_RULES = 5;
const P_MASK = 7;
const P_FLAGS = 8;
const P_ALTERNATIVES = 9;
const P_GROWTH = 10;
// Results, in i32 words at `plan`.
const R_STATUS = 12;
const R_WRITTEN = 13;
const R_ROWS = 14;
const R_CHANGED = 15;

// Feature flags of a byte (detectors.ts, BYTE_FLAGS).
const F_DIGIT: u32 = 1;
const F_AT: u32 = 2;
const F_DOT: u32 = 4;
const F_COLON: u32 = 8;
const F_WORD: u32 = 32;

// Byte classes of the byte detectors (detectors.ts, BYTE_CLASS; see inClass).
const B_DIGIT: u32 = 1;
const B_LETTER: u32 = 2;
const B_WORD: u32 = 4;
const B_LABEL: u32 = 8;
const B_LOCAL: u32 = 16;
const B_PHONE_SEP: u32 = 32;

// Detector kinds.
const D_EMAIL: i32 = 1;
const D_SSN: i32 = 2;
const D_PHONE: i32 = 3;

/** A detector decision: keep the value, or it needs JavaScript; otherwise a pool constant. */
const KEEP: i32 = -1;
const NEEDS_JS: i32 = -2;

let plan: usize = 0;
/** The pre-filter alternatives the last candidate value meets: bit k for alternative k. */
let held: u32 = 0;

@inline function word(index: i32): i32 {
  return load<i32>(plan + (<usize>index << 2));
}

@inline function at(base: i32, offset: i32): usize {
  return plan + <usize>base + <usize>offset;
}

@inline function readInt32(p: usize): i32 {
  return <i32>bswap<u32>(load<u32>(p));
}

@inline function writeInt32(p: usize, value: i32): void {
  store<u32>(p, bswap<u32>(<u32>value));
}

/**
 * Copies n bytes forward (the regions never overlap) in whole 16-byte blocks, so a short copy
 * takes no branch on its length: up to 15 bytes after dst + n are overwritten with what follows
 * src + n. Output is only ever written forward, so those bytes are written again by what comes
 * next, or lie past what the run returns (row-kernel.ts leaves slack after the output region for
 * the last copy, and reads past the input stay inside memory).
 */
@inline function copy(dst: usize, src: usize, n: usize): void {
  for (let k: usize = 0; k < n; k += 16) v128.store(dst + k, v128.load(src + k));
}

/** Whether [start, end) is all ASCII. */
function ascii(start: usize, end: usize): bool {
  let high: u64 = 0;
  let p = start;
  while (p + 8 <= end) {
    high |= load<u64>(p);
    p += 8;
  }
  while (p < end) {
    high |= <u64>load<u8>(p);
    p++;
  }
  return (high & 0x8080808080808080) == 0;
}

/** As `plainEmailAt` in wire.ts: the '@', -1 when not plain ASCII, -2 when not an address. */
function plainEmailAt(start: usize, end: usize): isize {
  let found: isize = -1;
  let ats = 0;
  let lastDot: isize = -1;
  for (let p = start; p < end; p++) {
    const c = load<u8>(p);
    if (c <= 0x20 || c >= 0x7f) return -1;
    if (c == 0x40) {
      ats++;
      found = <isize>p;
    } else if (c == 0x2e && p < end - 1) lastDot = <isize>p;
  }
  if (ats != 1 || found == <isize>start || lastDot < found + 2) return -2;
  return found;
}

/** Writes the pool constant at `p` at `w` as a field (length, bytes); returns the position after it. */
function writeConstant(p: usize, w: usize): usize {
  const len = load<i32>(p);
  writeInt32(w, len);
  if (len > 0) copy(w + 4, p + 4, <usize>len);
  return w + 4 + (len > 0 ? <usize>len : 0);
}

// ---- the detectors' pre-filter (detectors.ts, DetectorPrefilter.candidate) ----

/**
 * Counts the features of [start, end) (see `decide`); false when no detector could match. Values
 * up to 64 bytes are classified 16 bytes at a time (the classes of BYTE_FLAGS, as bit masks);
 * longer ones byte by byte with the table. Inlined, with `candidateShort` and `decide`, in the
 * field loop: a call per scanned field (and another per candidate) cost more than the work.
 */
@inline function candidate(start: usize, end: usize, quick: usize): bool {
  const length = end - start;
  return length <= 64 ? candidateShort(start, length, quick) : candidateLong(start, end, quick);
}

/** `candidate` for a value of more than 64 bytes (a call: most values are shorter). */
function candidateLong(start: usize, end: usize, quick: usize): bool {
  const flags = at(word(P_FLAGS), 0);
  let nAt = 0;
  let nDigits = 0;
  let nDots = 0;
  let nColons = 0;
  let nUpper = 0;
  let longest = 0;
  let run = 0;
  for (let p = start; p < end; p++) {
    const f = <u32>load<u8>(flags + <usize>load<u8>(p));
    if (f == F_WORD) {
      run++;
      continue;
    }
    if (f & F_WORD) {
      run++;
      if (f & F_DIGIT) nDigits++;
      else nUpper++;
      continue;
    }
    if (run > longest) longest = run;
    run = 0;
    if (f == 0) continue;
    if (f & F_AT) nAt++;
    else if (f & F_DOT) nDots++;
    else if (f & F_COLON) nColons++;
  }
  if (run > longest) longest = run;
  return decide(quick, nAt, nDigits, nDots, nColons, nUpper, longest);
}

/** One bit per byte of a 16-byte vector whose lanes are all ones or all zeros. */
@inline function bits(v: v128, shift: usize): u64 {
  return <u64>i8x16.bitmask(v) << <u64>shift;
}

/**
 * The byte vectors `candidateShort` compares with, in memory: V8 builds a vector constant from
 * immediates with three instructions at every use, where a load from here is one.
 */
const BYTE_VECTORS = memory.data<u8>([
  0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30,
  9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
  0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
  25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25,
  0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
  0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f,
  0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d,
  0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
  0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e,
  0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a, 0x3a,
]);

/** Vector k of BYTE_VECTORS: '0', 9, 'A', 25, 'a', '_', '-', '@', '.', ':' in every lane. */
@inline function bytes(k: usize): v128 {
  return v128.load(BYTE_VECTORS + (k << 4));
}

/**
 * `candidate` for a value of at most 64 bytes: each class as a 64-bit mask (reading up to 15
 * bytes past the value, inside the input region or the output region after it; those bits are
 * cleared), counts by popcount, the longest word run by removing one bit of every run a step.
 */
@inline function candidateShort(start: usize, length: usize, quick: usize): bool {
  let word: u64 = 0;
  let digit: u64 = 0;
  let upper: u64 = 0;
  let atSign: u64 = 0;
  let dot: u64 = 0;
  let colon: u64 = 0;
  for (let k: usize = 0; k < length; k += 16) {
    const v = v128.load(start + k);
    // A range test as one unsigned comparison: c - low <= high - low.
    const d = i8x16.le_u(i8x16.sub(v, bytes(0)), bytes(1));
    const u = i8x16.le_u(i8x16.sub(v, bytes(2)), bytes(3));
    const l = i8x16.le_u(i8x16.sub(v, bytes(4)), bytes(3));
    const w = v128.or(v128.or(d, u), v128.or(l, v128.or(i8x16.eq(v, bytes(5)), i8x16.eq(v, bytes(6)))));
    word |= bits(w, k);
    digit |= bits(d, k);
    upper |= bits(u, k);
    atSign |= bits(i8x16.eq(v, bytes(7)), k);
    dot |= bits(i8x16.eq(v, bytes(8)), k);
    colon |= bits(i8x16.eq(v, bytes(9)), k);
  }
  const keep: u64 = length == 64 ? <u64>-1 : (<u64>1 << <u64>length) - 1;
  let runs = word & keep;
  let longest = 0;
  while (runs != 0) {
    runs &= runs >> 1;
    longest++;
  }
  return decide(
    quick,
    <i32>popcnt(atSign & keep),
    <i32>popcnt(digit & keep),
    <i32>popcnt(dot & keep),
    <i32>popcnt(colon & keep),
    <i32>popcnt(upper & keep),
    longest,
  );
}

/**
 * The quick thresholds, then the alternatives, on a value's feature counts. Every alternative of
 * the pre-filter and of each detector is tested here at once (8 to a vector, no branch per
 * condition) into `held`; the pre-filter and each detector then need only a mask test.
 */
@inline function decide(q: usize, nAt: i32, nDigits: i32, nDots: i32, nColons: i32, nUpper: i32, longest: i32): bool {
  if (
    nAt < load<i32>(q) &&
    nDigits < load<i32>(q, 4) &&
    nDots < load<i32>(q, 8) &&
    nColons < load<i32>(q, 12) &&
    nUpper < load<i32>(q, 16) &&
    longest < load<i32>(q, 20)
  ) {
    return false;
  }
  return alternatives(nAt, nDigits, nDots, nColons, nUpper, longest);
}

/** `decide` past the quick thresholds. */
@inline function alternatives(nAt: i32, nDigits: i32, nDots: i32, nColons: i32, nUpper: i32, longest: i32): bool {
  // The table: i32 groups, u32 mask of the pre-filter's alternatives, then per group of 8
  // alternatives 6 vectors of i16 least counts, by feature (row-kernel.ts, AlternativeTable).
  // Counts are capped at 0x7fff, which no least count exceeds.
  const table = at(word(P_ALTERNATIVES), 0);
  const groups = load<i32>(table);
  const cAt = i16x8.splat(<i16>min(nAt, 0x7fff));
  const cDigits = i16x8.splat(<i16>min(nDigits, 0x7fff));
  const cDots = i16x8.splat(<i16>min(nDots, 0x7fff));
  const cColons = i16x8.splat(<i16>min(nColons, 0x7fff));
  const cUpper = i16x8.splat(<i16>min(nUpper, 0x7fff));
  const cLongest = i16x8.splat(<i16>min(longest, 0x7fff));
  let bits: u32 = 0;
  let p = table + 8;
  for (let g = 0; g < groups; g++) {
    const meets = v128.and(
      v128.and(
        v128.and(i16x8.ge_s(cAt, v128.load(p)), i16x8.ge_s(cDigits, v128.load(p, 16))),
        v128.and(i16x8.ge_s(cDots, v128.load(p, 32)), i16x8.ge_s(cColons, v128.load(p, 48))),
      ),
      v128.and(i16x8.ge_s(cUpper, v128.load(p, 64)), i16x8.ge_s(cLongest, v128.load(p, 80))),
    );
    bits |= <u32>i16x8.bitmask(meets) << (<u32>g << 3);
    p += 96;
  }
  held = bits;
  return (bits & load<u32>(table, 4)) != 0;
}

// ---- the byte detectors (detectors.ts: emailInBytes, ssnInBytes, phoneInBytes) ----

/**
 * Whether byte c is in class k (BYTE_CLASS of detectors.ts, as arithmetic: k is a constant at
 * every call, so each test folds to a comparison or two).
 */
@inline function inClass(c: u32, k: u32): bool {
  const digit = c - 0x30 < 10;
  const letter = (c | 0x20) - 0x61 < 26;
  if (k == B_DIGIT) return digit;
  if (k == B_LETTER) return letter;
  if (k == B_WORD) return letter || digit || c == 0x5f;
  if (k == B_LABEL) return letter || digit || c == 0x2d;
  if (k == B_LOCAL) return letter || digit || c == 0x2e || c == 0x5f || c == 0x25 || c == 0x2b || c == 0x2d;
  return c == 0x20 || c == 0x2e || c == 0x2d; // B_PHONE_SEP
}

@inline function is(p: usize, end: usize, k: u32): bool {
  return p < end && inClass(<u32>load<u8>(p), k);
}

function digits(p: usize, n: usize, end: usize): bool {
  if (p + n > end) return false;
  for (let j = p; j < p + n; j++) if (<u32>load<u8>(j) - 0x30 >= 10) return false;
  return true;
}

function emailIn(start: usize, end: usize): bool {
  for (let i = start + 1; i < end; i++) {
    if (load<u8>(i) != 0x40 || !is(i - 1, end, B_LOCAL)) continue;
    for (let j = i + 1; j < end; j++) {
      const c = load<u8>(j);
      if (c == 0x2e) {
        if (j == i + 1 || load<u8>(j - 1) == 0x2e) break;
        if (is(j + 1, end, B_LETTER) && is(j + 2, end, B_LETTER)) return true;
      } else if (!is(j, end, B_LABEL)) break;
    }
  }
  return false;
}

function ssnIn(start: usize, end: usize): bool {
  for (let i = start; i + 11 <= end; i++) {
    if (!digits(i, 3, end)) continue;
    if (i > start && (is(i - 1, end, B_DIGIT) || load<u8>(i - 1) == 0x2d)) continue;
    const sep = load<u8>(i + 3);
    if (sep != 0x2d && sep != 0x20) continue;
    if (!digits(i + 4, 2, end) || load<u8>(i + 6) != sep || !digits(i + 7, 4, end)) continue;
    if (is(i + 11, end, B_DIGIT) || (i + 11 < end && load<u8>(i + 11) == 0x2d)) continue;
    const a = load<u8>(i);
    const b = load<u8>(i + 1);
    const c = load<u8>(i + 2);
    if ((a == 0x30 && b == 0x30 && c == 0x30) || (a == 0x36 && b == 0x36 && c == 0x36) || a == 0x39) continue;
    if (load<u8>(i + 4) == 0x30 && load<u8>(i + 5) == 0x30) continue;
    if (load<u32>(i + 7) == 0x30303030) continue;
    return true;
  }
  return false;
}

function phoneTail(r: usize, end: usize): bool {
  return digits(r, 3, end) && is(r + 3, end, B_PHONE_SEP) && digits(r + 4, 4, end) && !is(r + 8, end, B_WORD);
}

function phoneCore(q: usize, end: usize): bool {
  if (q < end && load<u8>(q) == 0x28 && digits(q + 1, 3, end) && q + 4 < end && load<u8>(q + 4) == 0x29) {
    if (phoneTail(q + 5, end)) return true;
    if (is(q + 5, end, B_PHONE_SEP) && phoneTail(q + 6, end)) return true;
  }
  return digits(q, 3, end) && is(q + 3, end, B_PHONE_SEP) && phoneTail(q + 4, end);
}

function phoneIn(start: usize, end: usize): bool {
  for (let p = start; p < end; p++) {
    if (p > start && (is(p - 1, end, B_WORD) || load<u8>(p - 1) == 0x2b)) continue;
    // phoneCore needs a '(' or a digit first: a '+' only starts the international form.
    const c = <u32>load<u8>(p);
    if (c != 0x2b) {
      if ((c == 0x28 || c - 0x30 < 10) && phoneCore(p, end)) return true;
      continue;
    }
    for (let k: usize = 1; k <= 3 && is(p + k, end, B_DIGIT); k++) {
      const q = p + 1 + k;
      if (phoneCore(q, end)) return true;
      if (is(q, end, B_PHONE_SEP) && phoneCore(q + 1, end)) return true;
    }
    let run: usize = 0;
    while (is(p + 1 + run, end, B_DIGIT)) run++;
    if (run >= 10 && run <= 15 && !is(p + 1 + run, end, B_WORD)) return true;
  }
  return false;
}

/**
 * The detector rules on a pre-filtered candidate (FieldMasker.detected): the first rule, in
 * config order, one of whose detectors finds something; its constant for the value class.
 * Rules: i32 count; each: i32 detectors, each one's u32 mask of its pre-filter alternatives in
 * `held` and i32 kind (0 when it has no byte version), then 4 pool constants by value class
 * (NEEDS_JS when the rule's strategy is not constant). The masks are in the rule itself: a
 * detector's mask is then one load, not three dependent ones.
 */
function detect(rules: usize, cls: i32, start: usize, end: usize): i32 {
  const from = cls == 2 ? start + 1 : start;
  const meets = held;
  const nRules = load<i32>(rules);
  let p = rules + 4;
  for (let r = 0; r < nRules; r++) {
    const n = load<i32>(p);
    const constants = p + 4 + (<usize>n << 3);
    for (let d = p + 4; d < constants; d += 8) {
      if ((meets & load<u32>(d)) == 0) continue;
      const kind = load<i32>(d, 4);
      let found = false;
      if (kind == D_EMAIL) found = emailIn(from, end);
      else if (kind == D_SSN) found = ssnIn(from, end);
      else if (kind == D_PHONE) found = phoneIn(from, end);
      else return NEEDS_JS;
      if (!found) continue;
      return load<i32>(constants + (<usize>cls << 2));
    }
    p = constants + 16;
  }
  return KEEP;
}

/**
 * Masks the whole DataRows of [input, input + length) into [output, output + room), at most
 * `maxRows` of them, stopping at the first message that is not a DataRow, is incomplete, does not
 * fit, or needs JavaScript. Returns the input bytes consumed; the status, the bytes written, the
 * rows done and how many of them changed are left in the plan's result words.
 */
export function maskRows(planAt: usize, input: usize, length: usize, output: usize, room: usize, maxRows: i32): usize {
  plan = planAt;
  const columns = word(P_COLUMNS);
  const ops = at(word(P_OPS), 0);
  const args = at(word(P_ARGS), 0);
  const growth = <usize>word(P_GROWTH);
  // The pre-filter's quick thresholds, read from here rather than through the header per field.
  const quick = at(word(P_QUICK), 0);
  const mask = word(P_MASK);
  const pool = at(word(P_POOL), 0);
  const maskBytes = pool + <usize>mask;
  const rules = at(word(P_RULES), 0);
  const maskLength = <usize>load<i32>(maskBytes);
  const end = input + length;
  let r = input;
  let w = output;
  let rows = 0;
  let changed = 0;
  let status = END;
  while (true) {
    if (rows >= maxRows) {
      status = ROW_LIMIT;
      break;
    }
    if (r + 5 > end) break;
    if (load<u8>(r) != 0x44) {
      status = NOT_A_ROW;
      break;
    }
    const size = <usize>readInt32(r + 1) + 1;
    if (size < 7 || size > 0x40000000) {
      status = ROW_FOR_JS;
      break;
    }
    if (r + size > end) break;
    if (w + size + growth > output + room) {
      status = OUTPUT_FULL;
      break;
    }
    const rowEnd = r + size;
    if (<i32>bswap<u16>(load<u16>(r + 5)) != columns) {
      status = ROW_FOR_JS;
      break;
    }
    // Kept bytes are copied in runs: from `run` up to the field being changed.
    let run = r;
    let o = w;
    let p = r + 7;
    let fallback = false;
    let rewrites = 0;
    for (let i = 0; i < columns; i++) {
      if (p + 4 > rowEnd) {
        fallback = true;
        break;
      }
      const len = readInt32(p);
      const head = p;
      p += 4;
      if (len < 0) continue;
      const fieldEnd = p + <usize>len;
      if (fieldEnd > rowEnd) {
        fallback = true;
        break;
      }
      const op = load<u8>(ops + <usize>i);
      if (op == PASS) {
        p = fieldEnd;
        continue;
      }
      if (op == CONSTANT) {
        copy(o, run, head - run);
        o = writeConstant(pool + <usize>load<i32>(args + (<usize>i << 2)), o + (head - run));
        run = fieldEnd;
      } else if (op == PARTIAL) {
        if (!ascii(p, fieldEnd)) {
          fallback = true;
          break;
        }
        const keep = <usize>load<i32>(args + (<usize>i << 2));
        const kept = <usize>len > keep ? keep : 0;
        copy(o, run, p - run);
        o += p - run;
        const stars = <usize>len - kept;
        memory.fill(o, 0x2a, stars);
        o += stars;
        run = fieldEnd - kept;
      } else if (op == EMAIL) {
        const found = plainEmailAt(p, fieldEnd);
        if (found == -1) {
          fallback = true;
          break;
        }
        copy(o, run, head - run);
        o += head - run;
        if (found == -2) {
          o = writeConstant(maskBytes, o);
          run = fieldEnd;
        } else {
          writeInt32(o, <i32>(maskLength + fieldEnd - <usize>found));
          copy(o + 4, maskBytes + 4, maskLength);
          o += 4 + maskLength;
          run = <usize>found;
        }
      } else if (op == DETECT) {
        if (!candidate(p, fieldEnd, quick)) {
          p = fieldEnd;
          continue;
        }
        const decided = detect(rules, load<i32>(args + (<usize>i << 2)), p, fieldEnd);
        if (decided == NEEDS_JS) {
          fallback = true;
          break;
        }
        if (decided == KEEP) {
          p = fieldEnd;
          continue;
        }
        copy(o, run, head - run);
        o = writeConstant(pool + <usize>decided, o + (head - run));
        run = fieldEnd;
      } else {
        fallback = true;
        break;
      }
      rewrites++;
      p = fieldEnd;
    }
    if (fallback || p != rowEnd) {
      status = ROW_FOR_JS;
      break;
    }
    copy(o, run, rowEnd - run);
    o += rowEnd - run;
    writeInt32(w + 1, <i32>(o - w - 1));
    w = o;
    r = rowEnd;
    rows++;
    if (rewrites > 0) changed++;
  }
  store<i32>(plan + (<usize>R_STATUS << 2), status);
  store<i32>(plan + (<usize>R_CHANGED << 2), changed);
  store<i32>(plan + (<usize>R_WRITTEN << 2), <i32>(w - output));
  store<i32>(plan + (<usize>R_ROWS << 2), rows);
  return r - input;
}

/** Where memory past the module's own data starts. */
export function heapBase(): usize {
  return __heap_base;
}
