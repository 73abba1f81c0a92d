import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { MaskingPlan, type ColumnAction } from '../../src/masking/plan.js';
import { PostgresRowMasker } from '../../src/masking/postgres-row.js';
import { compileStrategy, REDACT } from '../../src/masking/strategies.js';
import { compileKernel } from '../../src/masking/wasm/compile-kernel.js';
import { ROW_KERNEL_WASM } from '../../src/masking/wasm/row-kernel-binary.js';
import { rowKernel } from '../../src/masking/wasm/row-kernel.js';
import { dataRow, generator, key, randomPlan, values } from './fixtures/random-rows.js';
import { compiledPolicy } from './fixtures/shop.js';

/*
 * The WebAssembly kernel masks runs of DataRows (maskRowsInto) where it can answer exactly as the
 * JavaScript masker does, and hands every other row back. A run must come out as the very bytes
 * of maskDataRow applied row by row, wherever it stops.
 */

const kernel = rowKernel();
/** Rows the kernel itself masked, so each test can show it was the kernel that did the work. */
let kernelRows = 0;
if (kernel !== null) {
  const maskRows = kernel.maskRows.bind(kernel);
  kernel.maskRows = (...args: Parameters<typeof maskRows>) => {
    const consumed = maskRows(...args);
    kernelRows += kernel.rows;
    return consumed;
  };
}

const commandComplete = (() => {
  const tag = Buffer.from('SELECT 1\0');
  const b = Buffer.alloc(5);
  b[0] = 0x43;
  b.writeInt32BE(4 + tag.length, 1);
  return Buffer.concat([b, tag]);
})();

/**
 * Masks all rows of `stream` with maskRowsInto through an output buffer of `room` bytes, flushed
 * whenever the masker stops for room, `maxRows` a call. Returns what was written and the totals.
 */
function runThrough(
  masker: PostgresRowMasker,
  stream: Buffer,
  room: number,
  maxRows: number,
): { bytes: Buffer; consumed: number; rows: number; changed: number } {
  const parts: Buffer[] = [];
  const out = Buffer.alloc(room, 0xee);
  let w = 0;
  let pos = 0;
  let rows = 0;
  let changed = 0;
  for (;;) {
    const before = w;
    w = masker.maskRowsInto(stream, pos, stream.length, out, w, maxRows);
    pos += masker.consumed;
    rows += masker.rows;
    changed += masker.changedRows;
    if (masker.rows > maxRows) throw new Error('more rows than asked for');
    if (masker.consumed > 0) continue;
    // Nothing done: out of room (flush and go on), or the end of the run.
    if (before === 0 || w === 0) break;
    parts.push(Buffer.from(out.subarray(0, w)));
    w = 0;
  }
  parts.push(Buffer.from(out.subarray(0, w)));
  return { bytes: Buffer.concat(parts), consumed: pos, rows, changed };
}

t.test('the kernel is available here, and its module is built from its source', async (t) => {
  t.not(kernel, null, 'WebAssembly with SIMD instantiates on this Node');
  const fresh = await compileKernel();
  t.ok(
    Buffer.from(fresh).equals(Buffer.from(ROW_KERNEL_WASM, 'base64')),
    'row-kernel-binary.ts is current (npm run build:wasm regenerates it)',
  );
});

t.test('runs give the bytes of maskDataRow row by row, on random plans, rows and room', async (t) => {
  const rand = generator(19);
  const startKernelRows = kernelRows;
  let total = 0;
  for (let round = 0; round < 400; round++) {
    const width = 1 + rand(12);
    const { plan, columns } = randomPlan(rand, width);
    const formats = columns.map(() => (rand(3) === 0 ? 1 : 0));
    const binaryAt = new Set(columns.flatMap((c, i) => (c.typeOid === 3802 && formats[i] === 1 ? [i] : [])));
    const masker = new PostgresRowMasker(plan, columns, formats);
    const reference = new PostgresRowMasker(plan, columns, formats);
    const rows = Array.from({ length: 1 + rand(60) }, () => dataRow(values(rand, width, binaryAt)));
    const expected = rows.map((r) => reference.maskDataRow(r));
    const changed = expected.filter((e, i) => e !== rows[i]).length;
    // What follows the run: nothing, another message, or the start of a row still to come.
    const tail = [Buffer.alloc(0), commandComplete, (rows[0] as Buffer).subarray(0, 9)][rand(3)] as Buffer;
    const stream = Buffer.concat([...rows, tail]);
    const room = rand(2) === 0 ? 1 << 16 : 600 + rand(2000);
    const maxRows = rand(3) === 0 ? 1 + rand(10) : 1000;
    const got = runThrough(masker, stream, room, maxRows);
    const want = Buffer.concat(expected);
    if (!got.bytes.equals(want) || got.rows !== rows.length || got.changed !== changed) {
      t.fail(
        `round ${round}: ${got.rows}/${rows.length} rows, ${got.changed}/${changed} changed, bytes equal ${got.bytes.equals(want)}`,
      );
      return;
    }
    t.equal(got.consumed, stream.length - tail.length, 'stops before what is not a whole DataRow');
    total += rows.length;
  }
  t.ok(
    kernelRows - startKernelRows > total / 4,
    `${kernelRows - startKernelRows} of ${total} rows by the kernel`,
  );
});

/** Values around what the email, SSN and phone detectors look for. */
const DETECTOR_PIECES = [
  '123',
  '45',
  '6789',
  '000',
  '00',
  '0000',
  '666',
  '9',
  '415',
  '555',
  '2671',
  '1',
  '12',
  '-',
  ' ',
  '.',
  '+',
  '+1',
  '(',
  ')',
  '(415)',
  '@',
  'a',
  'B',
  'x_y',
  'example',
  'co',
  '.com',
  '..',
  '%',
  'user.name+tag',
  'é',
  '4111111111111111',
  '10.0.0.1',
  ':',
  'Bearer ',
  'GB82WEST1234',
];

function detectorValue(rand: (n: number) => number): Buffer {
  let s = '';
  for (let k = 1 + rand(8); k > 0; k--) s += DETECTOR_PIECES[rand(DETECTOR_PIECES.length)] as string;
  return Buffer.from(s);
}

t.test('the detectors in the kernel decide as the JavaScript ones', async (t) => {
  const rand = generator(23);
  const policies = [
    // Only detectors the kernel checks on bytes: it decides every row itself.
    compiledPolicy('', '      - detect: [email, us-ssn, phone]\n        strategy: redact'),
    compiledPolicy(
      '',
      '      - detect: [phone]\n        strategy: "null"\n      - detect: [email, us-ssn]\n        strategy: redact',
    ),
    // Others, and strategies that are not constant: those rows go to JavaScript.
    compiledPolicy(
      '',
      '      - detect: [email, credit-card, us-ssn, phone, iban, ip, bearer-token, api-key]\n        strategy: redact',
    ),
    compiledPolicy(
      '',
      '      - detect: [us-ssn]\n        strategy: partial\n        keep: 4\n      - detect: [email]\n        strategy: redact',
    ),
  ];
  const columns: ResultColumn[] = [
    { name: 'a', type: 'text', typeOid: 25 },
    { name: 'b', type: 'varchar', typeOid: 1043 },
    { name: 'j', type: 'json', typeOid: 114 },
    { name: 'n', type: 'int4', typeOid: 23 },
  ];
  const actions: ColumnAction[] = [{ kind: 'detect' }, { kind: 'detect' }, { kind: 'detect' }, null];
  let byteOnlyRows = 0;
  let byteOnlyKernelRows = 0;
  let masked = 0;
  for (const [p, policy] of policies.entries()) {
    const plan = new MaskingPlan(actions, policy);
    const masker = new PostgresRowMasker(plan, columns);
    const reference = new PostgresRowMasker(plan, columns);
    for (let round = 0; round < 150; round++) {
      const rows = Array.from({ length: 40 }, () =>
        dataRow([detectorValue(rand), detectorValue(rand), detectorValue(rand), Buffer.from('7')]),
      );
      const expected = rows.map((r) => reference.maskDataRow(r));
      masked += expected.filter((e, i) => e !== rows[i]).length;
      const before = kernelRows;
      const got = runThrough(masker, Buffer.concat(rows), 1 << 16, 1000);
      if (!got.bytes.equals(Buffer.concat(expected))) {
        const at = expected.findIndex((e, i) => !masker.maskDataRow(rows[i] as Buffer).equals(e));
        t.fail(`policy ${p}: differs (row ${at}: ${(rows[at] as Buffer | undefined)?.toString('latin1')})`);
        return;
      }
      if (p < 2) {
        byteOnlyRows += rows.length;
        byteOnlyKernelRows += kernelRows - before;
      }
    }
  }
  t.equal(byteOnlyKernelRows, byteOnlyRows, 'with byte detectors only, the kernel masks every row');
  t.ok(masked > 1000, `${masked} rows had something detected`);
});

t.test('a malformed row in a run throws, as maskDataRowInto does', async (t) => {
  const columns: ResultColumn[] = [
    { name: 'a', type: 'text', typeOid: 25 },
    { name: 'b', type: 'text', typeOid: 25 },
  ];
  const plan = new MaskingPlan([{ kind: 'mask', strategy: REDACT, because: 'x' }, null], compiledPolicy());
  const masker = new PostgresRowMasker(plan, columns);
  const good = dataRow([Buffer.from('secret'), Buffer.from('kept')]);
  const bad = [
    Buffer.concat([good.subarray(0, 5), Buffer.from([0, 3]), good.subarray(7)]), // three fields announced
    Buffer.from(good).fill(0x7f, 7, 11), // a field length past the row's end
    (() => {
      const b = Buffer.from(good);
      b.writeInt32BE(b.readInt32BE(1) + 2, 1);
      return Buffer.concat([b, Buffer.from('zz')]); // bytes after the last field
    })(),
  ];
  for (const row of bad) {
    const stream = Buffer.concat([good, good, row, good]);
    t.throws(() => masker.maskRowsInto(stream, 0, stream.length, Buffer.alloc(4096), 0, 100));
  }
});

t.test('partial and email on ASCII text stay in the kernel; other values go to JavaScript', async (t) => {
  const columns: ResultColumn[] = [
    { name: 'e', type: 'text', typeOid: 25 },
    { name: 'p', type: 'text', typeOid: 25 },
    { name: 'h', type: 'text', typeOid: 25 },
  ];
  const plan = new MaskingPlan(
    [
      { kind: 'mask', strategy: compileStrategy('email', 0, key), because: 'e' },
      { kind: 'mask', strategy: compileStrategy('partial', 4, key), because: 'p' },
      { kind: 'mask', strategy: compileStrategy('hash', 0, key), because: 'h' },
    ],
    compiledPolicy(),
  );
  const masker = new PostgresRowMasker(plan, columns);
  const reference = new PostgresRowMasker(plan, columns);
  const rows = [
    dataRow([Buffer.from('ana@example.com'), Buffer.from('123-45-6789'), null]),
    dataRow([Buffer.from('not-an-address'), Buffer.from('12'), null]),
    dataRow([Buffer.from('zoë@example.com'), Buffer.from('ß-1234'), null]),
    dataRow([Buffer.from('b@c.io'), Buffer.from(''), Buffer.from('hashed')]),
    dataRow([null, null, null]),
  ];
  const before = kernelRows;
  const got = runThrough(masker, Buffer.concat(rows), 4096, 100);
  t.same(got.bytes, Buffer.concat(rows.map((r) => reference.maskDataRow(r))));
  t.equal(kernelRows - before, 3, 'the three rows of plain ASCII and NULLs, not the others');
});

t.test('values around the 64-byte vector path and longer, with PII at either end', async (t) => {
  const columns: ResultColumn[] = [
    { name: 'a', type: 'text', typeOid: 25 },
    { name: 'b', type: 'text', typeOid: 25 },
  ];
  const policy = compiledPolicy(
    '',
    '      - detect: [email, us-ssn, phone]\n        strategy: redact\n      - detect: [ip]\n        strategy: "null"',
  );
  const plan = new MaskingPlan([{ kind: 'detect' }, { kind: 'detect' }], policy);
  const masker = new PostgresRowMasker(plan, columns);
  const reference = new PostgresRowMasker(plan, columns);
  const pii = ['a@b.co', '123-45-6789', '+1 415-555-2671', '(415) 555-2671', 'x', '12345678901'];
  const rows: Buffer[] = [];
  for (let length = 56; length <= 72; length++) {
    for (const p of pii) {
      const filler = 'q'.repeat(Math.max(0, length - p.length - 1));
      rows.push(dataRow([Buffer.from(`${p} ${filler}`), Buffer.from(`${filler} ${p}`)]));
    }
  }
  for (const p of pii)
    rows.push(dataRow([Buffer.from(`${'w'.repeat(200)} ${p}`), Buffer.from(`${p} ${'Z'.repeat(300)}`)]));
  const expected = rows.map((r) => reference.maskDataRow(r));
  t.ok(expected.filter((e, i) => e !== rows[i]).length > 50, 'most rows have something detected');
  for (const room of [1 << 16, 700]) {
    const got = runThrough(masker, Buffer.concat(rows), room, 1000);
    t.ok(got.bytes.equals(Buffer.concat(expected)), `the same bytes, output room ${room}`);
  }
});
