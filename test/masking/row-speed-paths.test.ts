import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import {
  DETECTOR_TABLE,
  DetectorPrefilter,
  newFeatures,
  scanText,
  type DetectorName,
} from '../../src/masking/detectors.js';
import { MaskingPlan, type ColumnAction } from '../../src/masking/plan.js';
import { PostgresRowMasker } from '../../src/masking/postgres-row.js';
import { compileStrategy, REDACT } from '../../src/masking/strategies.js';
import { MysqlRowMasker } from '../../src/masking/wire.js';
import {
  COLUMN_TYPES,
  dataRow,
  DETECTOR_POLICIES,
  generator,
  key,
  mysqlRow,
  PIECES,
  randomPlan,
  reference,
  STRATEGIES,
  values,
} from './fixtures/random-rows.js';
import { compiledPolicy } from './fixtures/shop.js';

/*
 * The row maskers take fast paths (constant masks, `partial` and `email` on ASCII bytes, a merged
 * detector pre-filter, a staged copy with in-place moves). Each must give the very bytes of the
 * plain path: every field through `rewriteField` (a string, the policy, the strategy), framed
 * by the independent builders below.
 */

t.test('PostgresRowMasker gives the bytes of the plain path, text and binary formats', async (t) => {
  const rand = generator(7);
  let rows = 0;
  let changed = 0;
  for (let round = 0; round < 300; round++) {
    const width = 1 + rand(12);
    const { plan, columns } = randomPlan(rand, width);
    const formats = columns.map(() => (rand(3) === 0 ? 1 : 0));
    const binaryAt = new Set(columns.flatMap((c, i) => (c.typeOid === 3802 && formats[i] === 1 ? [i] : [])));
    const masker = new PostgresRowMasker(plan, columns, formats);
    const out = Buffer.alloc(1 << 16, 0xee);
    let offset = 0;
    const expected: Buffer[] = [];
    for (let r = 0; r < 20; r++) {
      const vals = values(rand, width, binaryAt);
      const row = dataRow(vals);
      const fields = reference(plan, columns, 'postgres', formats, vals);
      const want = dataRow(fields);
      const got = masker.maskDataRow(row);
      if (!got.equals(want)) {
        t.fail(`maskDataRow differs for ${JSON.stringify(vals.map((v) => v?.toString('latin1') ?? null))}`);
        return;
      }
      if (fields.untouched) t.equal(got, row, 'an untouched row is the same Buffer');
      else changed++;
      // Into a shared buffer at an odd offset: the bytes before it stay untouched.
      offset = masker.maskDataRowInto(row, out, offset + rand(3));
      expected.push(want);
      rows++;
    }
    t.ok(offset > 0);
    t.not(expected.length, 0);
  }
  t.equal(rows, 6000);
  t.ok(changed > 1000, `${changed} rows changed`);
});

t.test('maskDataRowInto writes the same bytes as maskDataRow, and nothing before its offset', async (t) => {
  const rand = generator(11);
  for (let round = 0; round < 200; round++) {
    const width = 1 + rand(10);
    const { plan, columns } = randomPlan(rand, width);
    const masker = new PostgresRowMasker(plan, columns);
    const out = Buffer.alloc(4096, 0xee);
    let offset = 0;
    const written: Buffer[] = [];
    const gaps: number[] = [];
    for (let r = 0; r < 10; r++) {
      const row = dataRow(values(rand, width, new Set()));
      const gap = rand(5);
      out.fill(0xee, offset, offset + gap);
      const next = masker.maskDataRowInto(row, out, offset + gap);
      if (next < 0) break;
      written.push(masker.maskDataRow(row));
      gaps.push(gap);
      t.same(out.subarray(offset + gap, next), written[written.length - 1]);
      offset = next;
    }
    // Each row left the gap before it alone (0xee), so earlier rows were not overwritten.
    let pos = 0;
    for (const [i, w] of written.entries()) {
      const gap = gaps[i] as number;
      t.ok(out.subarray(pos, pos + gap).every((b) => b === 0xee));
      t.same(out.subarray(pos + gap, pos + gap + w.length), w);
      pos += gap + w.length;
    }
  }
});

t.test('a row that grows before it shrinks is staged to the right, and fits exactly', async (t) => {
  // hash turns 'x' into 16 characters, then a long kept field, then a long value redacted.
  const hash = compileStrategy('hash', 0, key);
  const email = compileStrategy('email', 0, key);
  const long = 'a long kept value that is moved with one native call';
  const plan = new MaskingPlan(
    [
      { kind: 'mask', strategy: hash, because: 'h' },
      null,
      { kind: 'mask', strategy: email, because: 'e' },
      null,
      { kind: 'mask', strategy: REDACT, because: 'r' },
      null,
    ],
    compiledPolicy(),
  );
  const columns = Array.from({ length: 6 }, (_, i): ResultColumn => ({
    name: `c${i}`,
    type: 'text',
    typeOid: 25,
  }));
  const masker = new PostgresRowMasker(plan, columns);
  const vals = ['x', long, 'a@b.co', long, long + long, long].map((v) => Buffer.from(v));
  const row = dataRow(vals);
  const want = dataRow(reference(plan, columns, 'postgres', undefined, vals));
  t.same(masker.maskDataRow(row), want);
  // The room it asks for is the original row plus the largest growth at any point.
  const growth = 15 + 3;
  const out = Buffer.alloc(row.length + growth);
  t.equal(masker.maskDataRowInto(row, out, 0), want.length);
  t.same(out.subarray(0, want.length), want);
  t.equal(masker.maskDataRowInto(row, Buffer.alloc(row.length + growth - 1), 0), -1, 'one byte short: -1');
});

t.test('a NULL or empty field in every kind of column', async (t) => {
  const columns = COLUMN_TYPES.map((c, i) => ({ ...c, name: `c${i}` }));
  for (const name of STRATEGIES) {
    const strategy = compileStrategy(name, 2, key);
    const plan = new MaskingPlan(
      columns.map(() => ({ kind: 'mask', strategy, because: 'x' })),
      compiledPolicy(),
    );
    for (const formats of [columns.map(() => 0), columns.map(() => 1)]) {
      const masker = new PostgresRowMasker(plan, columns, formats);
      for (const vals of [columns.map(() => null), columns.map(() => Buffer.alloc(0))]) {
        const want = dataRow(reference(plan, columns, 'postgres', formats, vals));
        t.same(
          masker.maskDataRow(dataRow(vals)),
          want,
          `${name} ${formats[0]} ${vals[0] === null ? 'NULL' : 'empty'}`,
        );
      }
    }
  }
});

t.test('malformed rows still throw, before anything is written', async (t) => {
  const plan = new MaskingPlan([{ kind: 'mask', strategy: REDACT, because: 'x' }, null], compiledPolicy());
  const columns: ResultColumn[] = [
    { name: 'a', type: 'text', typeOid: 25 },
    { name: 'b', type: 'text', typeOid: 25 },
  ];
  const masker = new PostgresRowMasker(plan, columns);
  const good = dataRow([Buffer.from('secret'), Buffer.from('kept')]);
  const bad = [
    good.subarray(0, good.length - 1),
    Buffer.concat([good, Buffer.from('z')]),
    Buffer.from(good).fill(0x7f, 7, 11), // first field length far past the end
    (() => {
      const b = Buffer.from(good);
      b.writeInt32BE(-5, 7 + 4 + 6); // a negative length other than -1 in a kept field
      return b;
    })(),
  ];
  for (const row of bad) {
    const out = Buffer.alloc(256, 0xee);
    t.throws(() => masker.maskDataRowInto(row, out, 0));
    t.ok(
      out.every((b) => b === 0xee),
      'nothing written',
    );
  }
});

t.test('the merged pre-filter accepts whatever a detector does', async (t) => {
  const rand = generator(3);
  const names = Object.keys(DETECTOR_TABLE) as DetectorName[];
  for (let round = 0; round < 40; round++) {
    const chosen = names.filter(() => rand(2) === 0);
    const detectors = chosen.map((n) => DETECTOR_TABLE[n]);
    const prefilter = new DetectorPrefilter(detectors);
    for (let k = 0; k < 100; k++) {
      let s = '';
      for (let j = rand(8); j > 0; j--) s += PIECES[rand(PIECES.length)] as string;
      const b = Buffer.from(`..${s}..`);
      const merged = prefilter.candidate(b, 2, b.length - 2);
      const f = scanText(s, newFeatures());
      const any = detectors.some((d) => d.candidate(f));
      if (merged !== any) t.fail(`${chosen.join(',')} on ${JSON.stringify(s)}: ${merged} vs ${any}`);
      if (!merged) continue;
      for (const key of ['at', 'digits', 'dots', 'colons', 'upper', 'longestWord'] as const) {
        if (prefilter.features[key] !== f[key]) t.fail(`${key} of ${JSON.stringify(s)}`);
      }
      if (prefilter.ascii !== !/[^\p{ASCII}]/u.test(s)) t.fail(`ascii of ${JSON.stringify(s)}`);
    }
  }
  t.pass('checked');
});

t.test('MysqlRowMasker gives the bytes of the plain path', async (t) => {
  const rand = generator(5);
  for (let round = 0; round < 200; round++) {
    const width = 1 + rand(10);
    const policy = DETECTOR_POLICIES[rand(2)] as (typeof DETECTOR_POLICIES)[number];
    const columns = Array.from({ length: width }, (_, i): ResultColumn => ({
      name: `c${i}`,
      type: ['varchar', 'json', 'int', 'text'][rand(4)] as string,
    }));
    const actions: ColumnAction[] = columns.map(() => {
      const r = rand(4);
      if (r === 0) return null;
      if (r === 1) return { kind: 'detect' };
      const name = STRATEGIES[rand(STRATEGIES.length)] as (typeof STRATEGIES)[number];
      return { kind: 'mask', strategy: compileStrategy(name, rand(6), key), because: 'r' };
    });
    const plan = new MaskingPlan(actions, policy);
    const masker = new MysqlRowMasker(plan, columns);
    for (let r = 0; r < 20; r++) {
      const vals = values(rand, width, new Set());
      if (rand(10) === 0) vals[0] = Buffer.alloc(300, 0x61); // a two-byte length
      const row = mysqlRow(vals);
      const fields = reference(plan, columns, 'mysql', undefined, vals);
      const want = mysqlRow(fields);
      const got = masker.maskMysqlTextRow(row);
      if (!got.equals(want)) {
        t.fail(`differs for ${JSON.stringify(vals.map((v) => v?.toString('latin1') ?? null))}`);
        return;
      }
      if (fields.untouched) t.equal(got, row, 'an untouched row is the same Buffer');
    }
  }
});

t.test('email and partial on the byte path: the edges of the address shape', async (t) => {
  const columns: ResultColumn[] = [
    { name: 'e', type: 'text', typeOid: 25 },
    { name: 'p', type: 'text', typeOid: 25 },
  ];
  const plan = new MaskingPlan(
    [
      { kind: 'mask', strategy: compileStrategy('email', 0, key), because: 'e' },
      { kind: 'mask', strategy: compileStrategy('partial', 3, key), because: 'p' },
    ],
    compiledPolicy(),
  );
  const masker = new PostgresRowMasker(plan, columns);
  const edges = [
    'a@b.co',
    'a@.co',
    '@a.co',
    'a@b.',
    'a@b.c',
    'a@bc',
    'a@@b.co',
    'a@b@c.co',
    'a@b.co ',
    ' a@b.co',
    'a@b..',
    'a.b@c',
    'a.b@c.d',
    'a@b.c.',
    'a@.c.d',
    'a@b\u007f.co',
    'a@b\t.co',
    'ä@b.co',
    '',
    'ab',
    'abc',
    'abcd',
    '😀abcd',
    'abc😀',
  ];
  for (const e of edges) {
    const vals = [Buffer.from(e), Buffer.from(e)];
    const want = dataRow(reference(plan, columns, 'postgres', undefined, vals));
    t.same(masker.maskDataRow(dataRow(vals)), want, JSON.stringify(e));
  }
});

t.test('rows read at any byte offset of any ArrayBuffer, interleaved', async (t) => {
  const plan = new MaskingPlan(
    [null, { kind: 'mask', strategy: REDACT, because: 'x' }, null],
    compiledPolicy(),
  );
  const columns = Array.from({ length: 3 }, (_, i): ResultColumn => ({
    name: `c${i}`,
    type: 'text',
    typeOid: 25,
  }));
  const masker = new PostgresRowMasker(plan, columns);
  const vals = ['kept', 'secret value', 'kept too'].map((v) => Buffer.from(v));
  const row = dataRow(vals);
  const want = dataRow(reference(plan, columns, 'postgres', undefined, vals));
  const chunk = Buffer.alloc(1000, 0x44);
  for (let offset = 1; offset < 40; offset += 3) {
    row.copy(chunk, offset);
    t.same(masker.maskDataRow(chunk.subarray(offset, offset + row.length)), want, `at ${offset}`);
    t.same(masker.maskDataRow(Buffer.from(row)), want, 'a fresh buffer');
    const other = Buffer.from(row);
    other.writeInt32BE(999, 7); // a first field running past the end, in another ArrayBuffer
    t.throws(() => masker.maskDataRow(other), /truncated/);
  }
});

t.test('a row can be rewritten over itself (masking in place), with the same bytes', async (t) => {
  const hash = compileStrategy('hash', 0, key);
  const plan = new MaskingPlan(
    [
      { kind: 'mask', strategy: hash, because: 'h' },
      null,
      { kind: 'mask', strategy: REDACT, because: 'x' },
      null,
    ],
    compiledPolicy(),
  );
  const columns = Array.from({ length: 4 }, (_, i): ResultColumn => ({
    name: `c${i}`,
    type: 'text',
    typeOid: 25,
  }));
  const masker = new PostgresRowMasker(plan, columns);
  const long = 'a kept value long enough to be moved with copyWithin';
  for (const vals of [
    ['x', long, 'secret value', 'kept'],
    ['a longer value than its hash', 'k', 'secret value that is long', long],
  ]) {
    const row = dataRow(vals.map((v) => Buffer.from(v)));
    const want = masker.maskDataRow(Buffer.from(row));
    for (const [at, into] of [
      [10, 10],
      [10, 0],
      [10, 4],
      [0, 20],
      [3, 9],
    ] as const) {
      const shared = Buffer.alloc(row.length + 100, 0xee);
      row.copy(shared, at);
      const next = masker.maskDataRowInto(shared.subarray(at, at + row.length), shared, into);
      t.same(shared.subarray(into, next), want, `row at ${at}, written at ${into}`);
    }
  }
});
