import type { Dialect, ResultColumn } from '../gateway/types.js';
import { newFeatures, scanBytes } from './detectors.js';
import type { MaskingPlan } from './plan.js';
import type { MaskStrategy } from './strategies.js';

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
  readonly #plan: MaskingPlan;
  readonly #rewrites: (FieldRewrite | null)[];
  readonly #features = newFeatures();

  constructor(plan: MaskingPlan, columns: readonly ResultColumn[]) {
    this.#plan = plan;
    this.#rewrites = fieldRewrites(plan, columns, 'mysql', undefined);
    this.masked = this.#rewrites.map((r) => r !== null);
  }

  /**
   * `payload` is one row packet's payload (without the 4-byte packet header; the listener frames
   * it). Returns the same Buffer when nothing changes.
   */
  maskMysqlTextRow(payload: Buffer): Buffer {
    const n = this.#rewrites.length;
    const parts: { start: number; end: number; headerStart: number; out: Buffer | null | undefined }[] = [];
    let pos = 0;
    let changed = false;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const [len, used] = readLenEnc(payload, pos);
      const headerStart = pos;
      pos += used;
      const end = len < 0 ? pos : pos + len;
      if (end > payload.length) throw new Error('row is truncated');
      const rw = this.#rewrites[i];
      let out: Buffer | null | undefined;
      if (rw && len >= 0) out = rewriteField(rw, this.#plan, payload, pos, end, this.#features);
      if (out !== undefined) changed = true;
      total += out === undefined ? end - headerStart : out === null ? 1 : lenEncSize(out.length) + out.length;
      parts.push({ start: pos, end, headerStart, out });
      pos = end;
    }
    if (pos !== payload.length) throw new Error(`row has more than ${n} fields`);
    if (!changed) return payload;
    const out = Buffer.allocUnsafe(total);
    let w = 0;
    for (const p of parts) {
      if (p.out === undefined) w += payload.copy(out, w, p.headerStart, p.end);
      else if (p.out === null) w = out.writeUInt8(0xfb, w);
      else {
        w = writeLenEnc(out, p.out.length, w);
        w += p.out.copy(out, w);
      }
    }
    return out;
  }
}
