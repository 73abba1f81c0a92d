import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { MaskingPlan, type ColumnAction } from '../../src/masking/plan.js';
import { compileStrategy, REDACT } from '../../src/masking/strategies.js';
import { PostgresRowMasker } from '../../src/masking/postgres-row.js';
import { MysqlRowMasker, valueClass } from '../../src/masking/wire.js';
import { compiledPolicy } from './fixtures/shop.js';

/** Builds a DataRow message independently of the code under test. */
function dataRow(fields: (string | Buffer | null)[]): Buffer {
  const parts = fields.map((f) => {
    if (f === null) {
      const b = Buffer.alloc(4);
      b.writeInt32BE(-1);
      return b;
    }
    const v = typeof f === 'string' ? Buffer.from(f) : f;
    const b = Buffer.alloc(4 + v.length);
    b.writeInt32BE(v.length);
    v.copy(b, 4);
    return b;
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(7);
  head[0] = 0x44;
  head.writeInt32BE(6 + body.length, 1);
  head.writeInt16BE(fields.length, 5);
  return Buffer.concat([head, body]);
}

/** Reads a DataRow back into values (null for NULL). */
function fieldsOf(msg: Buffer): (Buffer | null)[] {
  t.equal(msg.readInt32BE(1), msg.length - 1, 'length header matches');
  const n = msg.readInt16BE(5);
  const out: (Buffer | null)[] = [];
  let pos = 7;
  for (let i = 0; i < n; i++) {
    const len = msg.readInt32BE(pos);
    pos += 4;
    out.push(len < 0 ? null : msg.subarray(pos, pos + len));
    if (len > 0) pos += len;
  }
  t.equal(pos, msg.length);
  return out;
}

const text = (name: string): ResultColumn => ({ name, type: 'text', typeOid: 25 });
const int4 = (name: string): ResultColumn => ({ name, type: 'int4', typeOid: 23 });
const policy = compiledPolicy('', '      - detect: [email, credit-card]\n        strategy: redact');
const key = Buffer.from('k');

function plan(actions: ColumnAction[]): MaskingPlan {
  return new MaskingPlan(actions, policy);
}

t.test('a DataRow with no masked field is returned as the same Buffer', async (t) => {
  const masker = new PostgresRowMasker(plan([null, { kind: 'mask', strategy: REDACT, because: 'x' }]), [
    int4('id'),
    text('e'),
  ]);
  const row = dataRow(['1', null]);
  t.equal(masker.maskDataRow(row), row, 'a NULL in a masked column stays NULL, untouched');
  const detecting = new PostgresRowMasker(plan([{ kind: 'detect' }]), [text('note')]);
  const clean = dataRow(['nothing to see']);
  t.equal(detecting.maskDataRow(clean), clean);
});

t.test('masked fields are replaced, untouched fields are byte-identical, NULLs are kept', async (t) => {
  const email = compileStrategy('email', 4, key);
  const partial = compileStrategy('partial', 4, key);
  const masker = new PostgresRowMasker(
    plan([
      null,
      { kind: 'mask', strategy: email, because: 'e' },
      null,
      { kind: 'mask', strategy: partial, because: 's' },
      { kind: 'mask', strategy: REDACT, because: 'r' },
      { kind: 'detect' },
    ]),
    [int4('id'), text('email'), text('name'), text('ssn'), text('x'), text('note')],
  );
  const row = dataRow(['42', 'alice@example.com', 'Ålice', '123-45-6789', null, 'card 4111111111111111']);
  const out = fieldsOf(masker.maskDataRow(row));
  t.same(
    out.map((f) => f?.toString() ?? null),
    ['42', '****@example.com', 'Ålice', '*******6789', null, '****'],
  );
  t.same(masker.masked, [false, true, false, true, true, true]);
});

t.test(
  'non-text types become NULL; json gets a JSON string; binary jsonb keeps its version byte',
  async (t) => {
    const columns: ResultColumn[] = [
      int4('n'),
      { name: 'j', type: 'json', typeOid: 114 },
      { name: 'jb', type: 'jsonb', typeOid: 3802 },
      { name: 'd', type: 'date', typeOid: 1082 },
    ];
    const mask: ColumnAction = { kind: 'mask', strategy: compileStrategy('partial', 2, key), because: 'x' };
    const textFormat = new PostgresRowMasker(plan([mask, mask, mask, mask]), columns, [0, 0, 0, 0]);
    const out = fieldsOf(textFormat.maskDataRow(dataRow(['123', '"abcd"', '{"a":1}', '2024-01-01'])));
    t.same(
      out.map((f) => f?.toString() ?? null),
      [null, JSON.stringify('****d"'), '"*****1}"', null],
    );
    const binary = new PostgresRowMasker(plan([null, null, mask, null]), columns, [1, 1, 1, 1]);
    const jb = Buffer.concat([Buffer.from([1]), Buffer.from('{"a":1}')]);
    const outB = fieldsOf(binary.maskDataRow(dataRow([Buffer.alloc(4), '"x"', jb, Buffer.alloc(4)])));
    t.equal(outB[2]?.[0], 1, 'jsonb version byte');
    t.equal(outB[2]?.subarray(1).toString(), '"*****1}"');
    t.equal(valueClass({ name: 'c', type: 'citext', typeOid: 70000 }, 'postgres', 0), 'text');
    t.equal(valueClass({ name: 'c', type: 'citext', typeOid: 70000 }, 'postgres', 1), 'other');
    t.equal(valueClass({ name: 'c', type: 'varchar' }, 'postgres', 0), 'text');
  },
);

t.test('the null strategy writes NULL', async (t) => {
  const masker = new PostgresRowMasker(
    plan([{ kind: 'mask', strategy: compileStrategy('null', 4, key), because: 'x' }]),
    [text('a')],
  );
  t.same(fieldsOf(masker.maskDataRow(dataRow(['secret']))), [null]);
});

t.test('a malformed DataRow is refused, never forwarded', async (t) => {
  const masker = new PostgresRowMasker(plan([{ kind: 'mask', strategy: REDACT, because: 'x' }]), [text('a')]);
  t.throws(() => masker.maskDataRow(dataRow(['a', 'b'])), /2 fields, the plan has 1/);
  t.throws(() => masker.maskDataRow(Buffer.from([0x43, 0, 0, 0, 6, 0, 1])), /not a DataRow/);
  const truncated = dataRow(['abcdef']).subarray(0, 12);
  t.throws(() => masker.maskDataRow(truncated), /truncated/);
  const long = Buffer.concat([dataRow(['a']), Buffer.from('zz')]);
  t.throws(() => masker.maskDataRow(long), /does not match/);
});

/** A MySQL text-protocol row payload. */
function mysqlRow(fields: (string | null)[]): Buffer {
  return Buffer.concat(
    fields.map((f) => {
      if (f === null) return Buffer.from([0xfb]);
      const v = Buffer.from(f);
      if (v.length < 251) return Buffer.concat([Buffer.from([v.length]), v]);
      const h = Buffer.alloc(3);
      h[0] = 0xfc;
      h.writeUInt16LE(v.length, 1);
      return Buffer.concat([h, v]);
    }),
  );
}

function mysqlFields(payload: Buffer, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const first = payload[pos] as number;
    if (first === 0xfb) {
      out.push(null);
      pos++;
      continue;
    }
    let len = first;
    pos++;
    if (first === 0xfc) {
      len = payload.readUInt16LE(pos);
      pos += 2;
    }
    out.push(payload.toString('utf8', pos, pos + len));
    pos += len;
  }
  t.equal(pos, payload.length);
  return out;
}

t.test('MySQL text rows: masked fields rewritten, others byte-identical, NULL kept', async (t) => {
  const columns: ResultColumn[] = [
    { name: 'id', type: 'LONG' },
    { name: 'email', type: 'VAR_STRING' },
    { name: 'bio', type: 'BLOB' },
    { name: 'n', type: 'LONGLONG' },
  ];
  const masker = new MysqlRowMasker(
    plan([
      null,
      { kind: 'mask', strategy: compileStrategy('email', 4, key), because: 'e' },
      { kind: 'detect' },
      { kind: 'mask', strategy: REDACT, because: 'n' },
    ]),
    columns,
  );
  const long = `${'x'.repeat(300)} mail me at a@example.com`;
  const out = masker.maskMysqlTextRow(mysqlRow(['7', 'bob@example.org', long, '99']));
  t.same(mysqlFields(out, 4), ['7', '****@example.org', '****', null]);
  const untouched = mysqlRow(['7', null, 'just text', null]);
  t.equal(masker.maskMysqlTextRow(untouched), untouched, 'returned as the same Buffer');
  t.throws(
    () => masker.maskMysqlTextRow(Buffer.concat([untouched, Buffer.from([1, 65])])),
    /more than 4 fields/,
  );
  t.throws(() => masker.maskMysqlTextRow(Buffer.from([5, 65])), /truncated/);
});

t.test('MySQL length-encoded lengths survive growth past 250 bytes', async (t) => {
  const hash = compileStrategy('partial', 300, key);
  const masker = new MysqlRowMasker(plan([{ kind: 'mask', strategy: hash, because: 'x' }]), [
    { name: 'a', type: 'VARCHAR' },
  ]);
  const value = 'y'.repeat(260);
  const out = masker.maskMysqlTextRow(mysqlRow([value]));
  t.same(mysqlFields(out, 1), ['*'.repeat(260)]);
  t.equal(valueClass({ name: 'j', type: 'JSON' }, 'mysql', 0), 'json');
});

t.test('the MCP path masks decoded values of every type, copy-on-write', async (t) => {
  const p = plan([
    { kind: 'mask', strategy: REDACT, because: 'x' },
    { kind: 'mask', strategy: compileStrategy('hash', 4, key), because: 'y' },
    { kind: 'detect' },
    null,
  ]);
  const date = new Date('2024-01-02T03:04:05Z');
  const row = [123, date, { contact: 'a@example.com' }, 'keep'];
  const out = p.maskValues(row);
  t.not(out, row);
  t.same(row, [123, date, { contact: 'a@example.com' }, 'keep'], 'the input row is not modified');
  t.equal(out[0], '****');
  t.equal(out[1], compileStrategy('hash', 4, key).apply(date.toISOString()));
  t.equal(out[2], '****', 'a JSON document with an email is caught by the detector');
  t.equal(out[3], 'keep');
  const nulls = [null, undefined, 5, 'x'];
  t.same(p.maskValues(nulls).slice(0, 2), [null, undefined]);
  t.equal(p.mask([null, null, 'plain', 1]).length, 4);
  t.equal(
    plan([{ kind: 'mask', strategy: REDACT, because: 'x' }]).maskValues([Buffer.from('ab')])[0],
    '****',
  );
});

t.test('maskDataRowInto writes into a shared output buffer, the same bytes as maskDataRow', async (t) => {
  const masker = new PostgresRowMasker(
    plan([
      { kind: 'mask', strategy: compileStrategy('email', 4, key), because: 'e' },
      null,
      { kind: 'mask', strategy: compileStrategy('hash', 4, key), because: 'h' },
      { kind: 'mask', strategy: compileStrategy('null', 4, key), because: 'n' },
      { kind: 'mask', strategy: compileStrategy('partial', 2, key), because: 'p' },
    ]),
    [text('a'), text('b'), text('c'), text('d'), text('e')],
  );
  const rows = [
    dataRow(['alice@example.com', 'keep me', 'x', 'gone', 'abcdef']),
    dataRow(['not-an-email', 'b', 'a much longer value than its hash would be, surely', 'd', 'é?']),
    dataRow([null, 'only kept', null, null, null]),
  ];
  const out = Buffer.alloc(4096);
  let pos = 0;
  const expected: Buffer[] = [];
  for (const row of rows) {
    expected.push(masker.maskDataRow(row));
    pos = masker.maskDataRowInto(row, out, pos);
  }
  t.same(out.subarray(0, pos), Buffer.concat(expected));
  t.same(
    fieldsOf(expected[0] as Buffer).map((f) => f?.toString() ?? null),
    ['****@example.com', 'keep me', compileStrategy('hash', 4, key).apply('x'), null, '****ef'],
  );
  t.same(
    fieldsOf(expected[1] as Buffer).map((f) => f?.toString() ?? null),
    [
      '****',
      'b',
      compileStrategy('hash', 4, key).apply('a much longer value than its hash would be, surely'),
      null,
      '**',
    ],
  );
  t.equal(expected[2], rows[2], 'an all-NULL masked row is forwarded as is');
  t.equal(masker.maskDataRowInto(rows[0] as Buffer, Buffer.alloc(10), 0), -1, 'no room: -1, flush and retry');
});

t.test('the byte path and the decoded-value path agree on random rows', async (t) => {
  // A small deterministic generator, so a failure reproduces.
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ['a', 'Z', '9', '@', '.', ' ', '-', 'é', '😀', 'example', 'com', '\t', '@@', 'x.y'];
  const value = () => {
    if (rand(8) === 0) return null;
    let s = '';
    for (let i = rand(12); i > 0; i--) s += pieces[rand(pieces.length)];
    return s;
  };
  const strategies = ['email', 'partial', 'redact', 'hash', 'null'] as const;
  let checked = 0;
  for (let round = 0; round < 40; round++) {
    const width = 1 + rand(6);
    const actions: ColumnAction[] = Array.from({ length: width }, () =>
      rand(3) === 0
        ? null
        : {
            kind: 'mask',
            strategy: compileStrategy(strategies[rand(5)] as (typeof strategies)[number], rand(5), key),
            because: 'r',
          },
    );
    const p = plan(actions);
    const masker = new PostgresRowMasker(
      p,
      Array.from({ length: width }, (_, i) => text(`c${i}`)),
    );
    for (let r = 0; r < 20; r++) {
      const values = Array.from({ length: width }, value);
      const bytes = fieldsOf(masker.maskDataRow(dataRow(values))).map((f) => f?.toString('utf8') ?? null);
      t.same(bytes, p.maskValues(values), JSON.stringify(values));
      checked++;
    }
  }
  t.equal(checked, 800);
});
