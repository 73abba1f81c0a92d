import { parseTextArray, type TextArray } from './text-array.js';

/** Turns one non-null text-format field into a JS value. */
export type TextDecoder = (text: string) => unknown;

/** OIDs of the builtin types this client names and decodes (pg_type.oid). */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  regproc: 24,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  unknown: 705,
  money: 790,
  macaddr: 829,
  inet: 869,
  cidr: 650,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  bit: 1560,
  varbit: 1562,
  numeric: 1700,
  regclass: 2205,
  uuid: 2950,
  jsonb: 3802,
  void: 2278,
  record: 2249,
  _bool: 1000,
  _bytea: 1001,
  _char: 1002,
  _name: 1003,
  _int2: 1005,
  _int4: 1007,
  _text: 1009,
  _bpchar: 1014,
  _varchar: 1015,
  _int8: 1016,
  _float4: 1021,
  _float8: 1022,
  _oid: 1028,
  _timestamp: 1115,
  _date: 1182,
  _timestamptz: 1185,
  _interval: 1187,
  _numeric: 1231,
  _uuid: 2951,
  _json: 199,
  _jsonb: 3807,
  _inet: 1041,
} as const;

const NAME_BY_OID: ReadonlyMap<number, string> = new Map(
  Object.entries(TypeOid).map(([name, oid]) => [oid, name]),
);

/** The pg_type name of a builtin type (`int4`, `timestamptz`, `_int4` for int4[]), or undefined. */
export function typeName(oid: number): string | undefined {
  return NAME_BY_OID.get(oid);
}

const asText: TextDecoder = (text) => text;
const asNumber: TextDecoder = (text) => Number(text);
const asBool: TextDecoder = (text) => text === 't';
const asJson: TextDecoder = (text) => JSON.parse(text) as unknown;

/** bytea in hex output (`\x0a0b`) becomes base64; the older escape output stays as text. */
const asBytea: TextDecoder = (text) =>
  text.startsWith('\\x') ? Buffer.from(text.slice(2), 'hex').toString('base64') : text;

/**
 * `2024-01-02 03:04:05.123456` becomes `2024-01-02T03:04:05.123456`. Microseconds are kept (a JS
 * Date would drop them), and `infinity` or BC values stay as the server wrote them.
 */
const asTimestamp: TextDecoder = (text) => (isPlainDateTime(text) ? text.replace(' ', 'T') : text);

/** `2024-01-02 03:04:05+05:30` / `...+00` become `2024-01-02T03:04:05+05:30` / `...+00:00`. */
const asTimestamptz: TextDecoder = (text) => {
  if (!isPlainDateTime(text)) return text;
  const iso = text.replace(' ', 'T');
  return /[+-]\d\d$/.test(iso) ? `${iso}:00` : iso;
};

function isPlainDateTime(text: string): boolean {
  return text.length >= 19 && text[10] === ' ' && !text.endsWith(' BC') && /^\d{4}-\d\d-\d\d/.test(text);
}

const ELEMENT_DECODERS: ReadonlyMap<number, TextDecoder> = new Map<number, TextDecoder>([
  [TypeOid.int2, asNumber],
  [TypeOid.int4, asNumber],
  [TypeOid.oid, asNumber],
  [TypeOid.float4, asNumber],
  [TypeOid.float8, asNumber],
  [TypeOid.int8, asText],
  [TypeOid.numeric, asText],
  [TypeOid.bool, asBool],
  [TypeOid.json, asJson],
  [TypeOid.jsonb, asJson],
  [TypeOid.bytea, asBytea],
  [TypeOid.timestamp, asTimestamp],
  [TypeOid.timestamptz, asTimestamptz],
  [TypeOid.date, asText],
]);

/** Array OID → element OID, for the arrays decoded element by element. */
const ARRAY_ELEMENTS: ReadonlyMap<number, number> = new Map<number, number>([
  [TypeOid._bool, TypeOid.bool],
  [TypeOid._bytea, TypeOid.bytea],
  [TypeOid._char, TypeOid.char],
  [TypeOid._name, TypeOid.name],
  [TypeOid._int2, TypeOid.int2],
  [TypeOid._int4, TypeOid.int4],
  [TypeOid._text, TypeOid.text],
  [TypeOid._bpchar, TypeOid.bpchar],
  [TypeOid._varchar, TypeOid.varchar],
  [TypeOid._int8, TypeOid.int8],
  [TypeOid._float4, TypeOid.float4],
  [TypeOid._float8, TypeOid.float8],
  [TypeOid._oid, TypeOid.oid],
  [TypeOid._timestamp, TypeOid.timestamp],
  [TypeOid._date, TypeOid.date],
  [TypeOid._timestamptz, TypeOid.timestamptz],
  [TypeOid._interval, TypeOid.interval],
  [TypeOid._numeric, TypeOid.numeric],
  [TypeOid._uuid, TypeOid.uuid],
  [TypeOid._json, TypeOid.json],
  [TypeOid._jsonb, TypeOid.jsonb],
  [TypeOid._inet, TypeOid.inet],
]);

function arrayDecoder(element: TextDecoder): TextDecoder {
  const walk = (items: TextArray): unknown[] =>
    items.map((item) => (item === null ? null : typeof item === 'string' ? element(item) : walk(item)));
  return (text) => {
    const items = parseTextArray(text);
    return items === undefined ? text : walk(items);
  };
}

/**
 * The decoder for a column of the given type OID, chosen once per result set (not per value):
 * numbers that fit a double become numbers; int8 and numeric stay strings so no digit is lost;
 * everything without a decoder here stays text.
 */
export function decoderFor(oid: number): TextDecoder {
  const direct = ELEMENT_DECODERS.get(oid);
  if (direct !== undefined) return direct;
  const element = ARRAY_ELEMENTS.get(oid);
  if (element !== undefined) return arrayDecoder(ELEMENT_DECODERS.get(element) ?? asText);
  return asText;
}

/** Decodes one text-format value; null stays null. */
export function decodeText(oid: number, text: string | null): unknown {
  return text === null ? null : decoderFor(oid)(text);
}
