import type { Dialect, ResultColumn } from '../gateway/types.js';
import { type Detector, DetectorPrefilter, newFeatures, scanBytes } from './detectors.js';
import type { MaskingPlan } from './plan.js';
import type { DetectorRule } from './policy.js';
import { REDACTED, type MaskStrategy } from './strategies.js';

/**
 * Byte-level row rewriting for the wire listeners. Only masked fields are re-encoded; a row in
 * which nothing changes is returned as the very Buffer it came in, so the listener can forward it
 * (or the run it belongs to) without a copy.
 *
 * How a masked value is written depends on the column's type and format:
 * - text types (text, varchar, char, name, xml, unknown and user types in text format): the mask as UTF-8;
 * - json (text or binary) and jsonb in text format: the mask as a JSON string ("****");
 *   jsonb in binary format: version byte 1, then that JSON;
 * - every other type (numbers, dates, uuid, bytea, arrays, ...; and any non-text type in binary):
 *   SQL NULL. A text mask there would not parse as the column's type in the client, and a made-up
 *   value of the right type could be mistaken for real data.
 * The `null` strategy writes NULL whatever the type.
 */

/** How values of a column are written. */
export type ValueClass = 'text' | 'json' | 'jsonb-binary' | 'other';
const VALUE_CLASSES: readonly ValueClass[] = ['text', 'json', 'jsonb-binary', 'other'];

/** Postgres type OIDs whose text and binary forms are the same UTF-8 text. */
const PG_TEXT_OIDS = new Set([25, 1043, 1042, 19, 18, 705, 142]);
const PG_JSON = 114;
const PG_JSONB = 3802;
/** Built-in non-text types (OIDs below 16384 are built in; the rest are user types). */
const FIRST_USER_OID = 16384;
const PG_TEXT_NAMES = new Set(['text', 'varchar', 'bpchar', 'char', 'name', 'unknown', 'xml', 'citext']);
const MYSQL_OTHER =
  /^(?:tiny|short|long|longlong|int24|int|integer|smallint|mediumint|bigint|tinyint|float|double|decimal|newdecimal|numeric|year|date|time|datetime|timestamp|time2|datetime2|timestamp2|bit|bool|boolean|null|geometry)$/i;

export function valueClass(column: ResultColumn, dialect: Dialect, format: number): ValueClass {
  if (dialect === 'mysql') {
    const t = column.type.toLowerCase().replace(/\(.*$/, '');
    if (t === 'json') return 'json';
    return MYSQL_OTHER.test(t) ? 'other' : 'text';
  }
  const oid = column.typeOid;
  const name = column.type.toLowerCase();
  if (oid === PG_JSON || name === 'json') return 'json';
  if (oid === PG_JSONB || name === 'jsonb') return format === 1 ? 'jsonb-binary' : 'json';
  if (oid !== undefined && PG_TEXT_OIDS.has(oid)) return 'text';
  if (oid === undefined && PG_TEXT_NAMES.has(name)) return 'text';
  // A user type (enum, domain, citext) in text format is text to every client we know.
  if (format === 0 && oid !== undefined && oid >= FIRST_USER_OID) return 'text';
  return 'other';
}

/** Buffer's own latin1 decoder, without the argument handling of toString (checked at load). */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (start: number, end: number) => string })
  .latin1Slice;

/** The text of buf[start, end); ASCII decodes the same as latin1 and UTF-8, and latin1 is cheaper. */
function decodeText(buf: Buffer, start: number, end: number, ascii: boolean): string {
  if (!ascii) return buf.toString('utf8', start, end);
  return latin1Slice ? latin1Slice.call(buf, start, end) : buf.toString('latin1', start, end);
}

/** Encodes a mask result for a column: bytes, or null for SQL NULL. */
export function encode(masked: string | null, cls: ValueClass): Buffer | null {
  if (masked === null || cls === 'other') return null;
  if (cls === 'text') return Buffer.from(masked, 'utf8');
  const json = JSON.stringify(masked);
  if (cls === 'json') return Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(json));
  out[0] = 1;
  out.write(json, 1, 'utf8');
  return out;
}

/** The decoded text a strategy sees for a field. */
function decode(buf: Buffer, start: number, end: number, cls: ValueClass): string {
  return buf.toString('utf8', cls === 'jsonb-binary' ? start + 1 : start, end);
}

export interface FieldRewrite {
  strategy: MaskStrategy | undefined;
  /** Precomputed output of a constant strategy (redact, null). */
  constant: Buffer | null | undefined;
  /** Scan with the detectors instead of masking outright. */
  detect: boolean;
  cls: ValueClass;
}

/** Compiles the plan's actions into per-field rewrites (null: pass) for one wire format. */
export function fieldRewrites(
  plan: MaskingPlan,
  columns: readonly ResultColumn[],
  dialect: Dialect,
  formats: readonly number[] | undefined,
): (FieldRewrite | null)[] {
  return plan.actions.map((action, i) => {
    if (!action) return null;
    const column = columns[i] as ResultColumn;
    const cls = valueClass(column, dialect, formats?.[i] ?? formats?.[0] ?? 0);
    if (action.kind === 'detect') {
      // Detectors look at text values only.
      return cls === 'other' ? null : { strategy: undefined, constant: undefined, detect: true, cls };
    }
    const s = action.strategy;
    const constant =
      s.constant !== undefined || cls === 'other' ? encode(s.constant?.value ?? null, cls) : undefined;
    return { strategy: s, constant, detect: false, cls };
  });
}

/**
 * The new bytes of a field, `undefined` when it stays as it is. A field that fails to decode as
 * a value is masked anyway: fail closed.
 *
 * The plain reference: every value through a string and the policy's own functions. The row
 * maskers use `FieldMasker`, which must give the same bytes (the tests compare the two).
 */
export function rewriteField(
  rw: FieldRewrite,
  plan: MaskingPlan,
  buf: Buffer,
  start: number,
  end: number,
  features: ReturnType<typeof newFeatures>,
): Buffer | null | undefined {
  if (!rw.detect) {
    if (rw.constant !== undefined) return rw.constant;
    return encode((rw.strategy as MaskStrategy).apply(decode(buf, start, end, rw.cls)), rw.cls);
  }
  scanBytes(buf, start, end, features);
  if (!plan.policy.detectCandidate(features)) return undefined;
  const text = decode(buf, start, end, rw.cls);
  const rule = plan.policy.detect(text, features);
  if (!rule) return undefined;
  return encode(rule.strategy.apply(text), rw.cls);
}

/*
 * Per-column operations, compiled once per result set (plain numbers: with verbatimModuleSyntax
 * a const enum stays an object, and these are read per field).
 */
const PASS = 0;
/** The column's output does not depend on the value: `null`, `redact`, any rule on a non-text type. */
const CONSTANT = 1;
/** `partial` on a text column: ASCII values are starred in place. */
const PARTIAL = 2;
/** `email` on a text column: plain ASCII addresses keep their domain bytes. */
const EMAIL = 3;
/** Any other rule: through a string and the strategy. */
const APPLY = 4;
/** Scanned by the detectors. */
const DETECT = 5;

/** The operation numbers, for the WebAssembly row kernel's plan (wasm/row-kernel.ts). */
export const FieldOp = { PASS, CONSTANT, PARTIAL, EMAIL, APPLY, DETECT } as const;

/** A compiled plan as data: what the WebAssembly row kernel needs to mask as `FieldMasker` does. */
export interface FieldMaskerData {
  /** Per column, a `FieldOp`. */
  readonly ops: Uint8Array;
  /** Per column, what `partial` keeps. */
  readonly keep: Int32Array;
  /** Per column, the output of a CONSTANT operation (null: SQL NULL). */
  readonly constants: readonly (Buffer | null)[];
  /** Per column, the index of its value class in `VALUE_CLASSES`. */
  readonly classIndex: Uint8Array;
  readonly prefilter: DetectorPrefilter;
  /** The detector rules in config order, each with its detectors (byte checks first) and constant outputs. */
  readonly detectorRules: readonly {
    readonly detectors: readonly Detector[];
    readonly constants: readonly (Buffer | null | undefined)[];
  }[];
}

/** What to write for a field, as `FieldMasker.decide` answers. */
export const Write = {
  /** The original bytes. */
  Keep: 0,
  /** SQL NULL. */
  Null: 1,
  /** The bytes in `FieldMasker.bytes`. */
  Bytes: 2,
  /** Stars, then the field's last `FieldMasker.aux` bytes (same length as the field). */
  Stars: 3,
  /** `****`, then the field's bytes from `FieldMasker.aux` (the '@') to its end. */
  Email: 4,
} as const;

export const MASK_BYTES: Readonly<Buffer> = Buffer.from(REDACTED);
const EMPTY: Readonly<Buffer> = Buffer.alloc(0);

/**
 * The '@' of an address the `email` strategy keeps the domain of, or -1 when the value is not
 * plain ASCII (printable, no whitespace: then bytes and the strategy's trimmed string agree), or
 * -2 when it is plain but not an address (`local@domain.tld`: one '@', a dot inside the domain).
 */
function plainEmailAt(buf: Buffer, start: number, end: number): number {
  let at = -1;
  let ats = 0;
  let lastDot = -1;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c <= 0x20 || c >= 0x7f) return -1;
    if (c === 0x40) {
      ats++;
      at = i;
    } else if (c === 0x2e && i < end - 1) lastDot = i;
  }
  if (ats !== 1 || at === start || lastDot < at + 2) return -2;
  return at;
}

/** Whether buf[start, end) is ASCII (one byte a character, no surrogates: `partial` works on bytes). */
function ascii(buf: Buffer, start: number, end: number): boolean {
  let high = 0;
  for (let i = start; i < end; i++) high |= buf[i] as number;
  return high < 0x80;
}

/**
 * Decides, field by field, what a row masker writes: the plan compiled into an operation per
 * column, with the common cases (constant masks, `partial` and `email` on ASCII text, detector
 * pre-filters on bytes) answered without making a string. Gives the same bytes as `rewriteField`.
 */
export class FieldMasker {
  /** Per column: whether its fields may be rewritten. */
  readonly masked: readonly boolean[];
  /** Output of the last `decide`: the replacement bytes (Write.Bytes). */
  bytes: Buffer = EMPTY;
  /** Output of the last `decide`: kept bytes (Write.Stars) or the '@' (Write.Email). */
  aux = 0;
  readonly #ops: Uint8Array;
  readonly #keep: Int32Array;
  readonly #constants: (Buffer | null)[];
  readonly #rewrites: (FieldRewrite | null)[];
  /** The merged pre-filter of every detector the policy uses. */
  readonly prefilter: DetectorPrefilter;
  /** Per column, 1 when detectors scan it. */
  readonly detecting: Uint8Array;
  /**
   * The policy's detector rules, each rule's detectors with those that check bytes first, and
   * its output when constant (redact, null) encoded for each value class (VALUE_CLASSES order).
   */
  readonly #detectorRules: readonly {
    rule: DetectorRule;
    detectors: readonly Detector[];
    constants: readonly (Buffer | null | undefined)[];
  }[];
  /** Per column, the index of its value class in VALUE_CLASSES. */
  readonly #classIndex: Uint8Array;

  constructor(
    plan: MaskingPlan,
    columns: readonly ResultColumn[],
    dialect: Dialect,
    formats: readonly number[] | undefined,
  ) {
    const rewrites = fieldRewrites(plan, columns, dialect, formats);
    this.#rewrites = rewrites;
    this.masked = rewrites.map((r) => r !== null);
    this.detecting = Uint8Array.from(rewrites, (r) => (r?.detect ? 1 : 0));
    const n = rewrites.length;
    this.#ops = new Uint8Array(n);
    this.#keep = new Int32Array(n);
    this.#constants = new Array<Buffer | null>(n).fill(null);
    rewrites.forEach((rw, i) => {
      if (rw === null) return;
      const s = rw.strategy;
      let op = APPLY;
      if (rw.detect) op = DETECT;
      else if (rw.constant !== undefined) {
        op = CONSTANT;
        this.#constants[i] = rw.constant;
      } else if (rw.cls === 'text' && s?.name === 'partial') op = PARTIAL;
      else if (rw.cls === 'text' && s?.name === 'email') op = EMAIL;
      this.#ops[i] = op;
      this.#keep[i] = s?.keep ?? 0;
    });
    this.#classIndex = Uint8Array.from(rewrites, (r) =>
      Math.max(0, VALUE_CLASSES.indexOf(r?.cls ?? 'other')),
    );
    this.prefilter = new DetectorPrefilter(plan.policy.detectorRules.flatMap((r) => r.detectors));
    this.#detectorRules = plan.policy.detectorRules.map((rule) => ({
      rule,
      detectors: [...rule.detectors].sort((a, b) => Number(!a.matchesBytes) - Number(!b.matchesBytes)),
      constants: VALUE_CLASSES.map((cls) => {
        const c = rule.strategy.constant;
        return c === undefined ? undefined : encode(c.value, cls);
      }),
    }));
  }

  /** The compiled plan as data, for the WebAssembly row kernel. */
  get data(): FieldMaskerData {
    return {
      ops: this.#ops,
      keep: this.#keep,
      constants: this.#constants,
      classIndex: this.#classIndex,
      prefilter: this.prefilter,
      detectorRules: this.#detectorRules,
    };
  }

  /**
   * What to write for the non-NULL field buf[start, end) of column `i` (a `Write` value); the
   * replacement is left in `bytes` or `aux`.
   */
  decide(i: number, buf: Buffer, start: number, end: number): number {
    switch (this.#ops[i]) {
      case PASS:
        return Write.Keep;
      case CONSTANT: {
        const c = this.#constants[i] as Buffer | null;
        if (c === null) return Write.Null;
        this.bytes = c;
        return Write.Bytes;
      }
      case PARTIAL:
        if (ascii(buf, start, end)) {
          const keep = this.#keep[i] as number;
          this.aux = end - start > keep ? keep : 0;
          return Write.Stars;
        }
        break;
      case EMAIL: {
        const at = plainEmailAt(buf, start, end);
        if (at >= 0) {
          this.aux = at;
          return Write.Email;
        }
        if (at === -2) {
          this.bytes = MASK_BYTES;
          return Write.Bytes;
        }
        break;
      }
      case DETECT:
        return this.prefilter.candidate(buf, start, end) ? this.detected(i, buf, start, end) : Write.Keep;
    }
    const rw = this.#rewrites[i] as FieldRewrite;
    return this.#bytes(encode((rw.strategy as MaskStrategy).apply(decode(buf, start, end, rw.cls)), rw.cls));
  }

  /**
   * The policy's `detect` on bytes, for a field of scanned column `i` that `prefilter.candidate`
   * has just accepted: the first rule (in config order) one of whose detectors finds something.
   * Within a rule the order does not change the answer, so detectors that can check the bytes
   * go first, and a string is made only for one that cannot.
   */
  detected(i: number, buf: Buffer, start: number, end: number): number {
    const rw = this.#rewrites[i] as FieldRewrite;
    const prefilter = this.prefilter;
    const f = prefilter.features;
    const from = rw.cls === 'jsonb-binary' ? start + 1 : start;
    let text: string | undefined;
    for (const rule of this.#detectorRules) {
      for (const d of rule.detectors) {
        if (!d.candidate(f)) continue;
        const found = d.matchesBytes
          ? d.matchesBytes(buf, from, end)
          : d.matches((text ??= decodeText(buf, from, end, prefilter.ascii)));
        if (!found) continue;
        const constant = rule.constants[this.#classIndex[i] as number];
        if (constant !== undefined) return this.#bytes(constant);
        text ??= decodeText(buf, from, end, prefilter.ascii);
        return this.#bytes(encode(rule.rule.strategy.apply(text), rw.cls));
      }
    }
    return Write.Keep;
  }

  #bytes(out: Buffer | null): number {
    if (out === null) return Write.Null;
    this.bytes = out;
    return Write.Bytes;
  }
}

/** Reads a MySQL length-encoded integer at `pos`: [value, bytes used]; value -1 for 0xFB (NULL). */
function readLenEnc(buf: Buffer, pos: number): [number, number] {
  const first = buf[pos];
  if (first === undefined) throw new Error('row is truncated');
  if (first < 0xfb) return [first, 1];
  if (first === 0xfb) return [-1, 1];
  if (first === 0xfc) return [buf.readUInt16LE(pos + 1), 3];
  if (first === 0xfd) return [buf.readUIntLE(pos + 1, 3), 4];
  if (first === 0xfe) return [Number(buf.readBigUInt64LE(pos + 1)), 9];
  throw new Error('bad length-encoded integer');
}

function lenEncSize(n: number): number {
  return n < 0xfb ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9;
}

function writeLenEnc(out: Buffer, n: number, pos: number): number {
  if (n < 0xfb) return out.writeUInt8(n, pos);
  if (n < 0x10000) return out.writeUInt16LE(n, out.writeUInt8(0xfc, pos));
  if (n < 0x1000000) return out.writeUIntLE(n, out.writeUInt8(0xfd, pos), 3);
  return out.writeBigUInt64LE(BigInt(n), out.writeUInt8(0xfe, pos));
}

/** Rewrites MySQL text-protocol row payloads (length-encoded strings; 0xFB is NULL). */
export class MysqlRowMasker {
  readonly dialect = 'mysql' as const;
  readonly masked: readonly boolean[];
  readonly #fields: FieldMasker;
  readonly #width: number;
  // The changed fields of the current row: where their length header starts, the value's bounds.
  readonly #head: Int32Array;
  readonly #start: Int32Array;
  readonly #end: Int32Array;
  readonly #write: Uint8Array;
  readonly #aux: Int32Array;
  readonly #bytes: Buffer[];

  constructor(plan: MaskingPlan, columns: readonly ResultColumn[]) {
    this.#fields = new FieldMasker(plan, columns, 'mysql', undefined);
    this.masked = this.#fields.masked;
    const n = columns.length;
    this.#width = n;
    this.#head = new Int32Array(n);
    this.#start = new Int32Array(n);
    this.#end = new Int32Array(n);
    this.#write = new Uint8Array(n);
    this.#aux = new Int32Array(n);
    this.#bytes = new Array<Buffer>(n).fill(EMPTY);
  }

  /**
   * `payload` is one row packet's payload (without the 4-byte packet header; the listener frames
   * it). Returns the same Buffer when nothing changes. Every field is checked before anything
   * is written.
   */
  maskMysqlTextRow(payload: Buffer): Buffer {
    const n = this.#width;
    const fields = this.#fields;
    let pos = 0;
    let changes = 0;
    let total = payload.length;
    for (let i = 0; i < n; i++) {
      // Most values are shorter than 251 bytes: a one-byte length, read without a tuple.
      const first = payload[pos];
      let len: number;
      const head = pos;
      if (first !== undefined && first < 0xfb) {
        len = first;
        pos++;
      } else {
        const [value, used] = readLenEnc(payload, pos);
        len = value;
        pos += used;
      }
      if (len < 0) continue;
      const end = pos + len;
      if (end > payload.length) throw new Error('row is truncated');
      const write = this.masked[i] ? fields.decide(i, payload, pos, end) : Write.Keep;
      if (write !== Write.Keep) {
        let size: number;
        if (write === Write.Null) size = 1;
        else if (write === Write.Bytes) {
          this.#bytes[changes] = fields.bytes;
          size = lenEncSize(fields.bytes.length) + fields.bytes.length;
        } else {
          this.#aux[changes] = fields.aux;
          const valueLength = write === Write.Email ? MASK_BYTES.length + end - fields.aux : len;
          size = lenEncSize(valueLength) + valueLength;
        }
        total += size - (end - head);
        this.#head[changes] = head;
        this.#start[changes] = pos;
        this.#end[changes] = end;
        this.#write[changes] = write;
        changes++;
      }
      pos = end;
    }
    if (pos !== payload.length) throw new Error(`row has more than ${n} fields`);
    if (changes === 0) return payload;
    const out = Buffer.allocUnsafe(total);
    let w = 0;
    let r = 0;
    for (let k = 0; k < changes; k++) {
      const start = this.#start[k] as number;
      const end = this.#end[k] as number;
      w += payload.copy(out, w, r, this.#head[k]);
      switch (this.#write[k]) {
        case Write.Null:
          w = out.writeUInt8(0xfb, w);
          break;
        case Write.Bytes: {
          const bytes = this.#bytes[k] as Buffer;
          w = writeLenEnc(out, bytes.length, w);
          w += bytes.copy(out, w);
          this.#bytes[k] = EMPTY;
          break;
        }
        case Write.Stars: {
          const kept = this.#aux[k] as number;
          w = writeLenEnc(out, end - start, w);
          out.fill(0x2a, w, w + end - start - kept);
          w += end - start - kept;
          w += payload.copy(out, w, end - kept, end);
          break;
        }
        case Write.Email: {
          const at = this.#aux[k] as number;
          w = writeLenEnc(out, MASK_BYTES.length + end - at, w);
          w += MASK_BYTES.copy(out, w);
          w += payload.copy(out, w, at, end);
          break;
        }
      }
      r = end;
    }
    payload.copy(out, w, r);
    return out;
  }
}
