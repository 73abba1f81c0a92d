import { BYTE_FLAGS, type Detector, FEATURE_KEYS, type Prefilter } from '../detectors.js';
import { FieldOp, type FieldMaskerData, MASK_BYTES } from '../wire.js';
import { ROW_KERNEL_WASM } from './row-kernel-binary.js';

/**
 * The WebAssembly row kernel (assembly/mask-rows.ts) as the Postgres row masker uses it: a run of
 * whole DataRows is copied into the kernel's memory, masked there in one call, and the result
 * copied out. One instance serves the process; it is synchronous, so a call never interleaves
 * with another masker's. A plan is encoded once per masker (`encodeKernelPlan`) and loaded into
 * the kernel's memory when a call comes from a different masker than the last.
 */

/** Why a run stopped (assembly/mask-rows.ts). */
export const KernelStop = { End: 0, NotARow: 1, RowForJs: 2, OutputFull: 3, RowLimit: 4 } as const;

// Kernel operations (assembly/mask-rows.ts).
const K_PASS = 0;
const K_CONSTANT = 1;
const K_PARTIAL = 2;
const K_EMAIL = 3;
const K_DETECT = 4;
const K_BY_JS = 5;
// Detector kinds with a byte check in the kernel; 0 is any other (the row goes to JavaScript).
const KERNEL_DETECTORS: Readonly<Record<string, number>> = { email: 1, 'us-ssn': 2, phone: 3 };
/**
 * The kinds in the order the kernel tries them within a rule, then kind 0. Phone before SSN: a
 * value that passes phone's pre-filter (10 digits) passes SSN's (9) too, so this spares a phone
 * number the SSN scan and costs an SSN (9 digits, failing phone's mask test) nothing.
 */
const KERNEL_ORDER: readonly number[] = [1, 3, 2, 0];
/** The rule's output for a value class is not a constant: JavaScript applies the strategy. */
const NOT_CONSTANT = -2;

// The plan's header, in i32 words (assembly/mask-rows.ts: P_*, R_*); offsets are from the plan's start.
const HEADER_WORDS = 32;
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
const R_STATUS = 12;
const R_WRITTEN = 13;
const R_ROWS = 14;
const R_CHANGED = 15;

const PLAN_BYTES = 64 * 1024;
const INPUT_BYTES = 256 * 1024;
const OUTPUT_BYTES = 320 * 1024;

/** Builds a plan's bytes: i32 words little-endian, with byte arrays padded to 4. */
class PlanWriter {
  bytes = new Uint8Array(1024);
  view = new DataView(this.bytes.buffer);
  length = HEADER_WORDS * 4;
  #room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    next.set(this.bytes);
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  header(word: number, value: number): void {
    this.view.setInt32(word * 4, value, true);
  }
  int(value: number): number {
    this.#room(4);
    const at = this.length;
    this.view.setInt32(at, value, true);
    this.length += 4;
    return at;
  }
  set(at: number, value: number): void {
    this.view.setInt32(at, value, true);
  }
  raw(data: Uint8Array): number {
    const padded = (data.length + 3) & ~3;
    this.#room(padded);
    const at = this.length;
    this.bytes.set(data, at);
    this.length += padded;
    return at;
  }
  /** A pool constant: its length (-1 for NULL), then its bytes. */
  constant(value: Uint8Array | null): number {
    const at = this.int(value === null ? -1 : value.length);
    if (value !== null) this.raw(value);
    return at;
  }
}

/** At most this many distinct pre-filter alternatives: one bit each in the kernel's u32 `held`. */
const MAX_ALTERNATIVES = 32;
/** The kernel compares counts as i16, capped at this. */
const MAX_LEAST = 0x7fff;

/**
 * The distinct pre-filter alternatives of the plan, each as its least count by FEATURE_KEYS
 * index (0 where it names none). The kernel tests them all at once per candidate value; the
 * pre-filter and each detector are masks of them.
 */
class AlternativeTable {
  readonly list: number[][] = [];
  #bit(least: readonly number[]): number {
    let k = this.list.findIndex((a) => a.every((x, j) => x === least[j]));
    if (k < 0) {
      k = this.list.length;
      this.list.push([...least]);
    }
    return k;
  }
  /** The mask of a detector's alternatives; no pre-filter at all holds for every value (as `candidateFunction` does). */
  detector(prefilters: readonly Prefilter[]): number {
    const list = prefilters.length === 0 ? [{}] : prefilters;
    let mask = 0;
    for (const p of list) mask |= 1 << this.#bit(FEATURE_KEYS.map((k) => p[k] ?? 0));
    return mask | 0;
  }
  /** The mask of the merged pre-filter's alternatives (DetectorPrefilter conditions: n, n × (feature, least)). */
  conditions(conditions: Int32Array): number {
    let mask = 0;
    for (let k = 0; k < conditions.length;) {
      const least = FEATURE_KEYS.map(() => 0);
      const end = k + 1 + 2 * (conditions[k] as number);
      for (k++; k < end; k += 2) least[conditions[k] as number] = conditions[k + 1] as number;
      mask |= 1 << this.#bit(least);
    }
    return mask | 0;
  }
  /** Whether the kernel can test them: few enough, and every least count within its i16 compare. */
  get fits(): boolean {
    return this.list.length <= MAX_ALTERNATIVES && this.list.every((a) => a.every((x) => x <= MAX_LEAST));
  }
  /** Groups of 8 alternatives, each as 6 vectors (by feature) of 8 i16 least counts; unused lanes are in no mask. */
  vectors(): Uint8Array {
    const groups = Math.ceil(this.list.length / 8);
    const bytes = new Uint8Array(groups * 6 * 16);
    const view = new DataView(bytes.buffer);
    for (let g = 0; g < groups; g++) {
      for (let f = 0; f < FEATURE_KEYS.length; f++) {
        for (let lane = 0; lane < 8; lane++) {
          const least = this.list[g * 8 + lane]?.[f] ?? MAX_LEAST;
          view.setInt16(((g * 6 + f) * 8 + lane) * 2, least, true);
        }
      }
    }
    return bytes;
  }
}

/**
 * The kernel's plan for a compiled field masker, or null when the kernel would hand every row
 * back (no column it can mask itself) or the plan is too large for its region.
 */
export function encodeKernelPlan(data: FieldMaskerData): Uint8Array | null {
  const n = data.ops.length;
  const w = new PlanWriter();
  w.header(P_COLUMNS, n);
  const ops = new Uint8Array(n);
  const args = new Int32Array(n);
  let growth = 0;
  let kernelColumns = 0;
  // Per value class, the largest detector constant: how much a detected field may grow.
  const detectGrowth = [0, 0, 0, 0];
  for (const rule of data.detectorRules) {
    rule.constants.forEach((c, cls) => {
      if (c) detectGrowth[cls] = Math.max(detectGrowth[cls] as number, c.length);
    });
  }
  const constantAt = new Map<Buffer | null, number>();
  const poolStart = w.length;
  w.header(P_POOL, poolStart);
  const mask = w.constant(MASK_BYTES);
  w.header(P_MASK, mask - poolStart);
  const poolRef = (c: Buffer | null): number => {
    let at = constantAt.get(c);
    if (at === undefined) {
      at = w.constant(c) - poolStart;
      constantAt.set(c, at);
    }
    return at;
  };
  for (let i = 0; i < n; i++) {
    switch (data.ops[i]) {
      case FieldOp.PASS:
        ops[i] = K_PASS;
        continue;
      case FieldOp.CONSTANT: {
        const c = data.constants[i] ?? null;
        ops[i] = K_CONSTANT;
        args[i] = poolRef(c);
        growth += c?.length ?? 0;
        break;
      }
      case FieldOp.PARTIAL:
        ops[i] = K_PARTIAL;
        args[i] = data.keep[i] as number;
        break;
      case FieldOp.EMAIL:
        ops[i] = K_EMAIL;
        growth += MASK_BYTES.length;
        break;
      case FieldOp.DETECT: {
        const cls = data.classIndex[i] as number;
        ops[i] = K_DETECT;
        args[i] = cls;
        growth += detectGrowth[cls] as number;
        break;
      }
      default:
        ops[i] = K_BY_JS;
        continue;
    }
    kernelColumns++;
  }
  if (kernelColumns === 0) return null;
  // Detector rules: each detector's alternatives mask and kind in place, then constants per value class.
  const ruleRefs = data.detectorRules.map((rule) =>
    rule.constants.map((c) => (c === undefined ? NOT_CONSTANT : poolRef(c))),
  );
  w.header(P_OPS, w.raw(ops));
  w.header(P_ARGS, w.length);
  for (const x of args) w.int(x);
  const { quick, conditions } = data.prefilter.data;
  w.header(P_QUICK, w.length);
  for (const x of quick) w.int(x);
  const table = new AlternativeTable();
  const prefilterMask = table.conditions(conditions);
  w.header(P_RULES, w.int(data.detectorRules.length));
  data.detectorRules.forEach((rule, r) => {
    const kindOf = (d: Detector): number => (d.matchesBytes ? (KERNEL_DETECTORS[d.name] ?? 0) : 0);
    // Within a rule the order does not change the answer (FieldMasker.detected), so the kernel
    // takes its byte detectors in KERNEL_ORDER and the others last.
    const rank = (d: Detector): number => KERNEL_ORDER.indexOf(kindOf(d));
    const detectors = [...rule.detectors].sort((a, b) => rank(a) - rank(b));
    w.int(detectors.length);
    for (const d of detectors) {
      w.int(table.detector(d.prefilters));
      w.int(kindOf(d));
    }
    for (const ref of ruleRefs[r] as number[]) w.int(ref);
  });
  if (!table.fits) return null;
  w.header(P_ALTERNATIVES, w.int(Math.ceil(table.list.length / 8)));
  w.int(prefilterMask);
  w.raw(table.vectors());
  w.header(P_FLAGS, w.raw(BYTE_FLAGS));
  w.header(P_GROWTH, growth);
  if (w.length > PLAN_BYTES) return null;
  return w.bytes.slice(0, w.length);
}

/** The part of the WebAssembly API used here (TypeScript's ES and Node libraries do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};
interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

type KernelMaskRows = (
  plan: number,
  input: number,
  length: number,
  output: number,
  room: number,
  max: number,
) => number;

/** The process's kernel instance and the regions of its memory. */
export class RowKernel {
  /** After `maskRows`: why the run stopped (`KernelStop`), bytes written, rows done and rows changed. */
  status = 0;
  written = 0;
  rows = 0;
  changed = 0;
  readonly #mask: KernelMaskRows;
  readonly #memory: Uint8Array;
  readonly #results: Int32Array;
  readonly #plan: number;
  readonly #input: number;
  readonly #output: number;
  #loaded: Uint8Array | null = null;

  constructor() {
    const module = new WebAssembly.Module(Buffer.from(ROW_KERNEL_WASM, 'base64'));
    const instance = new WebAssembly.Instance(module, {});
    const exports = instance.exports as {
      memory: KernelMemory;
      maskRows: KernelMaskRows;
      heapBase: () => number;
    };
    const base = (exports.heapBase() + 63) & ~63;
    this.#plan = base;
    this.#input = base + PLAN_BYTES;
    this.#output = this.#input + INPUT_BYTES;
    // Slack after the output region: the kernel's copies write whole 16-byte blocks.
    const needed = this.#output + OUTPUT_BYTES + 16;
    const memory = exports.memory;
    memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    this.#memory = new Uint8Array(memory.buffer);
    this.#results = new Int32Array(memory.buffer, this.#plan, HEADER_WORDS);
    this.#mask = exports.maskRows;
  }

  /**
   * Masks whole DataRows from buf[start, end) into out[offset...], at most `maxRows`; returns the
   * input bytes consumed (0 when the first row is not done: see `status`).
   */
  maskRows(
    plan: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    offset: number,
    maxRows: number,
  ): number {
    const memory = this.#memory;
    const room = Math.min(OUTPUT_BYTES, out.length - offset);
    const length = Math.min(end - start, INPUT_BYTES, room);
    if (this.#loaded !== plan) {
      memory.set(plan, this.#plan);
      this.#loaded = plan;
    }
    memory.set(buf.subarray(start, start + length), this.#input);
    const consumed = this.#mask(
      this.#plan,
      this.#input,
      length,
      this.#output,
      room,
      Math.min(maxRows, 0x7fffffff),
    );
    const results = this.#results;
    this.status = results[R_STATUS] as number;
    this.written = results[R_WRITTEN] as number;
    this.rows = results[R_ROWS] as number;
    this.changed = results[R_CHANGED] as number;
    if (this.written > 0) out.set(memory.subarray(this.#output, this.#output + this.written), offset);
    return consumed;
  }
}

let shared: RowKernel | null | undefined;

/** The process's kernel; null where WebAssembly (with SIMD) is not available: JavaScript masks then. */
export function rowKernel(): RowKernel | null {
  if (shared === undefined) {
    try {
      shared = new RowKernel();
    } catch {
      shared = null;
    }
  }
  return shared;
}
