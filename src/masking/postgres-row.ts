import type { ResultColumn } from '../gateway/types.js';
import { newFeatures } from './detectors.js';
import type { MaskingPlan } from './plan.js';
import { REDACTED } from './strategies.js';
import { type FieldRewrite, fieldRewrites, rewriteField } from './wire.js';

/*
 * What happens to one field of the current row (scratch state, reset per row). Plain numbers:
 * with verbatimModuleSyntax a const enum stays an object, and this is read per field.
 */
const KEEP = 0;
const NULL = 1;
/** Replaced by the bytes in `replaced[i]`. */
const BYTES = 2;
/** partial on an ASCII value: stars, then the last `keep` bytes of the original. */
const STARS = 3;
/** email on an ASCII address: `****`, then the original bytes from the '@'. */
const EMAIL = 4;

const STAR = 0x2a;
const AT = 0x40;
const MASK_BYTES: Readonly<Buffer> = Buffer.from(REDACTED);

/** Copies src[start, end) to dst at `at`; a byte loop beats the native call for a few bytes only. */
function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, at: number): number {
  const n = end - start;
  if (n > 32) return at + src.copy(dst, at, start, end);
  for (let i = 0; i < n; i++) dst[at + i] = src[start + i] as number;
  return at + n;
}

/** Big-endian int32 without Buffer's argument checks (bounds are checked by the caller). */
function readInt32(buf: Buffer, at: number): number {
  return (
    ((buf[at] as number) << 24) |
    ((buf[at + 1] as number) << 16) |
    ((buf[at + 2] as number) << 8) |
    (buf[at + 3] as number)
  );
}

function writeInt32(buf: Buffer, value: number, at: number): number {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
  return at + 4;
}

/** Whether buf[start, end) is printable ASCII with no whitespace (so byte and string rules agree). */
function plainAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/**
 * The '@' of an address the email strategy keeps the domain of (`local@domain.tld`, one '@',
 * a dot inside the domain), or -1. Only for values `plainAscii` accepted.
 */
function emailAt(buf: Buffer, start: number, end: number): number {
  let at = -1;
  for (let i = start; i < end; i++) {
    if (buf[i] === AT) {
      if (at >= 0) return -1;
      at = i;
    }
  }
  if (at <= start) return -1;
  for (let i = at + 2; i < end - 1; i++) if (buf[i] === 0x2e) return at;
  return -1;
}

/**
 * Rewrites Postgres DataRow messages ('D', int32 length, int16 count, then per field an int32
 * length, -1 for NULL, and the bytes). Two passes: the first walks the fields and decides each
 * one's replacement and the output length; the second copies the row once and rewrites the
 * masked fields in place.
 */
export class PostgresRowMasker {
  readonly dialect = 'postgres' as const;
  /** Columns whose fields may be rewritten: rule-masked, or scanned by detectors. */
  readonly masked: readonly boolean[];
  /** Columns a rule always masks: what the caller and the recording are told is masked. */
  readonly ruleMasked: readonly boolean[];
  readonly #plan: MaskingPlan;
  readonly #rewrites: (FieldRewrite | null)[];
  readonly #features = newFeatures();
  // Scratch space reused for every row (one masker serves one result set, synchronously).
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;
  readonly #ops: Uint8Array;
  readonly #aux: Int32Array;
  readonly #replaced: (Buffer | null)[];
  /** Sum of the growth of fields that get longer: the room #write needs beyond the original row. */
  #grow = 0;

  constructor(plan: MaskingPlan, columns: readonly ResultColumn[], formats?: readonly number[]) {
    this.#plan = plan;
    this.#rewrites = fieldRewrites(plan, columns, 'postgres', formats);
    this.masked = this.#rewrites.map((r) => r !== null);
    this.ruleMasked = plan.masked;
    const n = columns.length;
    this.#starts = new Int32Array(n);
    this.#lengths = new Int32Array(n);
    this.#ops = new Uint8Array(n);
    this.#aux = new Int32Array(n);
    this.#replaced = new Array<Buffer | null>(n).fill(null);
  }

  /**
   * `message` is one whole DataRow message, type byte included. Returns it unchanged (the same
   * Buffer) when no field is rewritten, else a new message. Throws on a malformed message or a
   * field count that does not match the plan: the caller must not forward what it cannot mask.
   */
  maskDataRow(message: Buffer): Buffer {
    const total = this.#decide(message);
    if (total < 0) return message;
    const room = message.length + this.#grow;
    const out = Buffer.allocUnsafe(room);
    this.#write(message, out, 0, total);
    return total < room ? out.subarray(0, total) : out;
  }

  /**
   * Writes the (masked or original) row into `out` at `offset`, for a listener that coalesces
   * rows into one output buffer: no allocation per row. Returns the offset after the row, or -1
   * when it does not fit (flush `out` and call again). Needs room for the
   * original row plus the growth of the fields that get longer.
   */
  maskDataRowInto(message: Buffer, out: Buffer, offset: number): number {
    const total = this.#decide(message);
    if (offset + message.length + (total < 0 ? 0 : this.#grow) > out.length) return -1;
    if (total < 0) return offset + message.copy(out, offset);
    this.#write(message, out, offset, total);
    return offset + total;
  }

  /** First pass: the output length, or -1 when the row stays as it is. */
  #decide(message: Buffer): number {
    const n = this.#rewrites.length;
    if (message.length < 7 || message[0] !== 0x44) throw new Error('not a DataRow message');
    const count = message.readInt16BE(5);
    if (count !== n) throw new Error(`DataRow has ${count} fields, the plan has ${n}`);
    const starts = this.#starts;
    const lengths = this.#lengths;
    const ops = this.#ops;
    let pos = 7;
    let delta = 0;
    let grow = 0;
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (pos + 4 > message.length) throw new Error('DataRow is truncated');
      const len = readInt32(message, pos);
      pos += 4;
      const end = len < 0 ? pos : pos + len;
      if (end > message.length) throw new Error('DataRow is truncated');
      starts[i] = pos;
      lengths[i] = len;
      ops[i] = KEEP;
      const rw = this.#rewrites[i];
      if (rw && len >= 0) {
        const newLength = this.#decideField(i, rw, message, pos, end);
        if (newLength !== -2) {
          changed = true;
          const d = Math.max(newLength, 0) - len;
          delta += d;
          if (d > 0) grow += d;
        }
      }
      pos = end;
    }
    if (pos !== message.length || readInt32(message, 1) !== message.length - 1) {
      throw new Error('DataRow length does not match its fields');
    }
    this.#grow = grow;
    return changed ? message.length + delta : -1;
  }

  /** Decides one field: its new length (-1 for NULL), or -2 when it stays. */
  #decideField(i: number, rw: FieldRewrite, message: Buffer, start: number, end: number): number {
    const ops = this.#ops;
    const s = rw.strategy;
    if (
      s &&
      !rw.detect &&
      rw.cls === 'text' &&
      rw.constant === undefined &&
      plainAscii(message, start, end)
    ) {
      // The common cases rewritten straight from the bytes, with no string in between.
      if (s.name === 'partial') {
        ops[i] = STARS;
        this.#aux[i] = Math.min(s.keep, end - start);
        if (end - start <= s.keep) this.#aux[i] = 0;
        return end - start;
      }
      if (s.name === 'email') {
        const at = emailAt(message, start, end);
        if (at < 0) {
          ops[i] = BYTES;
          this.#replaced[i] = MASK_BYTES;
          return MASK_BYTES.length;
        }
        ops[i] = EMAIL;
        this.#aux[i] = at;
        return MASK_BYTES.length + end - at;
      }
    }
    const out = rewriteField(rw, this.#plan, message, start, end, this.#features);
    if (out === undefined) return -2;
    if (out === null) {
      ops[i] = NULL;
      return -1;
    }
    ops[i] = BYTES;
    this.#replaced[i] = out;
    return out.length;
  }

  /**
   * Second pass: copies the whole row once (one native copy), then rewrites the masked fields in
   * place, moving the rest of the row with copyWithin when a field changes length. Cheaper in
   * Node than one copy per run of kept fields: each Buffer#copy call allocates a view.
   * Fields are rewritten in order, so the row may be longer midway than at the end: it needs
   * room for the original row plus every field's growth at `offset`.
   */
  #write(message: Buffer, out: Buffer, offset: number, total: number): void {
    const n = this.#rewrites.length;
    message.copy(out, offset, 0, message.length);
    let end = offset + message.length;
    let shift = offset;
    for (let i = 0; i < n; i++) {
      const op = this.#ops[i] as number;
      if (op === KEEP) continue;
      const value = (this.#starts[i] as number) + shift;
      const len = this.#lengths[i] as number;
      let to = value + len;
      let from = to;
      let newLength = len;
      if (op === NULL) {
        to = value;
        newLength = -1;
      } else if (op === BYTES) {
        const r = this.#replaced[i] as Buffer;
        to = value + r.length;
        newLength = r.length;
      } else if (op === EMAIL) {
        from = (this.#aux[i] as number) + shift;
        to = value + MASK_BYTES.length;
        newLength = MASK_BYTES.length + value + len - from;
      }
      if (from !== to) {
        out.copyWithin(to, from, end);
        end += to - from;
        shift += to - from;
      }
      writeInt32(out, newLength, value - 4);
      if (op === BYTES) {
        const r = this.#replaced[i] as Buffer;
        copyBytes(r, 0, r.length, out, value);
        this.#replaced[i] = null;
      } else if (op === STARS) {
        const stars = len - (this.#aux[i] as number);
        for (let k = 0; k < stars; k++) out[value + k] = STAR;
      } else if (op === EMAIL) {
        for (let k = 0; k < MASK_BYTES.length; k++) out[value + k] = MASK_BYTES[k] as number;
      }
    }
    writeInt32(out, total - 1, offset + 1);
  }
}
