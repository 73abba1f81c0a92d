import type { ResultColumn } from '../gateway/types.js';
import type { MaskingPlan } from './plan.js';
import { encodeKernelPlan, KernelStop, rowKernel } from './wasm/row-kernel.js';
import { FieldMasker, MASK_BYTES, Write } from './wire.js';

const STAR = 0x2a;
/** Moves shorter than this are a byte loop; longer ones one native call (which costs ~30 ns). */
const SHORT_MOVE = 24;
const setBytes = Uint8Array.prototype.set;

/** Big-endian int32 without Buffer's argument checks (bounds are checked by the caller). */
function readInt32(buf: Buffer, at: number): number {
  return (
    ((buf[at] as number) << 24) |
    ((buf[at + 1] as number) << 16) |
    ((buf[at + 2] as number) << 8) |
    (buf[at + 3] as number)
  );
}

function writeInt32(buf: Buffer, value: number, at: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

/**
 * Rewrites Postgres DataRow messages ('D', int32 length, int16 count, then per field an int32
 * length, -1 for NULL, and the bytes).
 *
 * One walk over the fields checks the framing and decides each field (most without making a
 * string), remembering only the fields that change; a row where none does is forwarded as it is.
 * A changed row is then written in one native copy of the original, with only the changed fields
 * written over and the kept runs after them moved into place. Every check happens before the
 * first byte is written: a malformed row throws and leaves nothing to forward.
 */
export class PostgresRowMasker {
  readonly dialect = 'postgres' as const;
  /** Columns whose fields may be rewritten: rule-masked, or scanned by detectors. */
  readonly masked: readonly boolean[];
  /** Columns a rule always masks: what the caller and the recording are told is masked. */
  readonly ruleMasked: readonly boolean[];
  readonly #fields: FieldMasker;
  readonly #width: number;
  /** Columns with nothing to do are skipped without a call. */
  readonly #active: Uint8Array;
  // The changed fields of the current row (one masker serves one result set, synchronously).
  #changes = 0;
  readonly #start: Int32Array;
  readonly #end: Int32Array;
  readonly #write: Uint8Array;
  readonly #aux: Int32Array;
  readonly #bytes: Buffer[];
  /**
   * How far ahead of the original the row gets at most, after any changed field: the original is
   * staged that far to the right, so that writing never overtakes bytes still to be moved.
   */
  #lift = 0;
  /** The plan in the WebAssembly kernel's form: encoded on first use; null when it cannot help. */
  #kernelPlan: Uint8Array | null | undefined;
  /** After `maskRowsInto`: the input bytes and the rows it consumed, and the rows it changed. */
  consumed = 0;
  rows = 0;
  changedRows = 0;
  /** Whether the last row `maskDataRowInto` wrote was changed. */
  #changed = false;
  constructor(plan: MaskingPlan, columns: readonly ResultColumn[], formats?: readonly number[]) {
    this.#fields = new FieldMasker(plan, columns, 'postgres', formats);
    this.masked = this.#fields.masked;
    this.ruleMasked = plan.masked;
    const n = columns.length;
    this.#width = n;
    this.#active = Uint8Array.from(this.masked, (m) => (m ? 1 : 0));
    this.#start = new Int32Array(n);
    this.#end = new Int32Array(n);
    this.#write = new Uint8Array(n);
    this.#aux = new Int32Array(n);
    this.#bytes = new Array<Buffer>(n).fill(MASK_BYTES);
  }

  /**
   * `message` is one whole DataRow message, type byte included. Returns it unchanged (the same
   * Buffer) when no field is rewritten, else a new message. Throws on a malformed message or a
   * field count that does not match the plan: the caller must not forward what it cannot mask.
   */
  maskDataRow(message: Buffer): Buffer {
    const total = this.#decide(message);
    if (total < 0) return message;
    const room = message.length + this.#lift;
    const out = Buffer.allocUnsafe(room);
    this.#rewrite(message, out, 0, total);
    return total < room ? out.subarray(0, total) : out;
  }

  /**
   * Writes the (masked or original) row into `out` at `offset`, for a listener that coalesces
   * rows into one output buffer: no allocation per row. Returns the offset after the row, or -1
   * when it does not fit (flush `out` and call again). Needs room for the original row plus the
   * growth of the fields that get longer.
   */
  maskDataRowInto(message: Buffer, out: Buffer, offset: number): number {
    const total = this.#decide(message);
    this.#changed = total >= 0;
    if (total < 0) {
      if (offset + message.length > out.length) return -1;
      setBytes.call(out, message, offset);
      return offset + message.length;
    }
    if (offset + message.length + this.#lift > out.length) return -1;
    this.#rewrite(message, out, offset, total);
    return offset + total;
  }

  /**
   * Masks the consecutive whole DataRows at the start of buf[start, end), at most `maxRows`, into
   * `out` from `offset`: the run a listener read in one chunk. Returns the offset after what it
   * wrote; `consumed` and `rows` tell how far it got. It stops at a message that is not a
   * DataRow or is incomplete, and when `out` has no room for the next row (flush and call
   * again: with an empty `out` too small for a row, it does nothing, and `maskDataRow` is for that
   * row). Rows go through the WebAssembly kernel where it can mask them exactly as the JavaScript
   * below does, and through `maskDataRowInto` otherwise; a malformed row throws, as there.
   */
  maskRowsInto(
    buf: Buffer,
    start: number,
    end: number,
    out: Buffer,
    offset: number,
    maxRows: number,
  ): number {
    let plan = this.#kernelPlan;
    if (plan === undefined) {
      plan = rowKernel() === null ? null : encodeKernelPlan(this.#fields.data);
      this.#kernelPlan = plan;
    }
    const kernel = plan === null ? null : rowKernel();
    let r = start;
    let w = offset;
    let rows = 0;
    let changed = 0;
    // After the kernel stopped at a row it hands back, that row goes to JavaScript directly.
    let byJs = false;
    while (rows < maxRows && r + 5 <= end && buf[r] === 0x44) {
      const size = readInt32(buf, r + 1) + 1;
      if (size < 5 || r + size > end) break;
      if (kernel !== null && plan !== null && !byJs) {
        const consumed = kernel.maskRows(plan, buf, r, end, out, w, maxRows - rows);
        r += consumed;
        w += kernel.written;
        rows += kernel.rows;
        changed += kernel.changed;
        if (consumed > 0) {
          // Out of room: the caller flushes and calls again.
          if (kernel.status === KernelStop.OutputFull) break;
          byJs = kernel.status === KernelStop.RowForJs;
          continue;
        }
      }
      byJs = false;
      const next = this.maskDataRowInto(buf.subarray(r, r + size), out, w);
      if (next < 0) break;
      w = next;
      r += size;
      rows++;
      if (this.#changed) changed++;
    }
    this.consumed = r - start;
    this.rows = rows;
    this.changedRows = changed;
    return w;
  }

  /** Walks and checks the row, noting the fields that change: the output length, or -1 when none does. */
  #decide(message: Buffer): number {
    const n = this.#width;
    const length = message.length;
    if (length < 7 || message[0] !== 0x44) throw new Error('not a DataRow message');
    const count = (((message[5] as number) << 24) >> 16) | (message[6] as number);
    if (count !== n) throw new Error(`DataRow has ${count} fields, the plan has ${n}`);
    const active = this.#active;
    const fields = this.#fields;
    const detecting = fields.detecting;
    const prefilter = fields.prefilter;
    let changes = 0;
    let shift = 0;
    let lift = 0;
    let pos = 7;
    for (let i = 0; i < n; i++) {
      if (pos + 4 > length) throw new Error('DataRow is truncated');
      const len = readInt32(message, pos);
      pos += 4;
      if (len < 0) continue;
      const end = pos + len;
      if (end > length) throw new Error('DataRow is truncated');
      if (active[i] === 1) {
        // A scanned column: the pre-filter inline, as most values are rejected by it.
        const write =
          detecting[i] !== 1
            ? fields.decide(i, message, pos, end)
            : prefilter.candidate(message, pos, end)
              ? fields.detected(i, message, pos, end)
              : Write.Keep;
        if (write !== Write.Keep) {
          this.#start[changes] = pos;
          this.#end[changes] = end;
          this.#write[changes] = write;
          if (write === Write.Null) shift -= len;
          else if (write === Write.Bytes) {
            this.#bytes[changes] = fields.bytes;
            shift += fields.bytes.length - len;
          } else {
            this.#aux[changes] = fields.aux;
            if (write === Write.Email) shift += MASK_BYTES.length - (fields.aux - pos);
          }
          if (shift > lift) lift = shift;
          changes++;
        }
      }
      pos = end;
    }
    if (pos !== length || readInt32(message, 1) !== length - 1) {
      throw new Error('DataRow length does not match its fields');
    }
    this.#changes = changes;
    this.#lift = lift;
    return changes === 0 ? -1 : length + shift;
  }

  /**
   * Writes the changed row at `offset`. The original is copied once (one native call, no view),
   * `lift` bytes to the right of `offset`; then, in order, each changed field is written at the
   * output position and each kept run is moved left from the copy to join it (not at all while
   * the output is in step with the copy, as it is before the first change when lift is 0).
   */
  #rewrite(message: Buffer, out: Buffer, offset: number, total: number): void {
    const stage = offset + this.#lift;
    setBytes.call(out, message, stage);
    let w = offset;
    let r = 0;
    for (let k = 0; k < this.#changes; k++) {
      const start = this.#start[k] as number;
      const end = this.#end[k] as number;
      w = move(out, stage, r, start - 4, w);
      switch (this.#write[k]) {
        case Write.Null:
          writeInt32(out, -1, w);
          w += 4;
          break;
        case Write.Bytes: {
          const bytes = this.#bytes[k] as Buffer;
          writeInt32(out, bytes.length, w);
          w += 4;
          if (bytes.length < SHORT_MOVE)
            for (let j = 0; j < bytes.length; j++) out[w + j] = bytes[j] as number;
          else setBytes.call(out, bytes, w);
          w += bytes.length;
          this.#bytes[k] = MASK_BYTES;
          break;
        }
        case Write.Stars: {
          // The kept last bytes join the kept run that follows, and move with it.
          const kept = this.#aux[k] as number;
          w += 4;
          if (w !== stage + start) writeInt32(out, end - start, w - 4);
          const stars = w + end - start - kept;
          for (; w < stars; w++) out[w] = STAR;
          r = end - kept;
          continue;
        }
        case Write.Email: {
          // Likewise the domain, from the '@' on.
          const at = this.#aux[k] as number;
          writeInt32(out, MASK_BYTES.length + end - at, w);
          w += 4;
          for (let j = 0; j < MASK_BYTES.length; j++) out[w + j] = MASK_BYTES[j] as number;
          w += MASK_BYTES.length;
          r = at;
          continue;
        }
      }
      r = end;
    }
    move(out, stage, r, message.length, w);
    writeInt32(out, total - 1, offset + 1);
  }
}

/**
 * Moves bytes [from, to) of the row from its copy at out[stage + from] to out[w]; returns the
 * position after them. Nothing to do when the output is in step with the copy. Everything is
 * read from the copy, never from the message again: the message may even be the bytes being
 * written (a listener masking in place), and writing never overtakes what is still to be read.
 */
function move(out: Buffer, stage: number, from: number, to: number, w: number): number {
  const src = stage + from;
  const n = to - from;
  if (w !== src) {
    // w < src always, so a forward byte loop is safe even where the two ranges overlap.
    if (n < SHORT_MOVE) for (let j = 0; j < n; j++) out[w + j] = out[src + j] as number;
    else out.copyWithin(w, src, src + n);
  }
  return w + n;
}
