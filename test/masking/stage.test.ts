import pino from 'pino';
import t from 'tap';
import { Writable } from 'node:stream';
import type { ResultColumn } from '../../src/gateway/types.js';
import {
  createCachedCatalog,
  createCatalogSnapshot,
  createStaticCatalog,
} from '../../src/masking/catalog.js';
import { LineageMasking } from '../../src/masking/stage.js';
import { compiledPolicy, mysqlVerdict, pgVerdict, relations, session } from './fixtures/shop.js';

t.test('planForWire gives a DataRow masker for Postgres sessions, null when nothing is masked', async (t) => {
  const policy = compiledPolicy();
  const catalog = createStaticCatalog({ dialect: 'postgres', relations, searchPath: ['public'] });
  const stage = new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  const cols: ResultColumn[] = [
    { name: 'id', type: 'int4', typeOid: 23, tableOid: 16400, columnAttr: 1 },
    { name: 'email', type: 'text', typeOid: 25, tableOid: 16400, columnAttr: 3 },
  ];
  const sql = 'SELECT id, email FROM customers';
  const masker = await stage.planForWire(
    cols,
    { session: session(), sql, verdict: await pgVerdict(sql) },
    [0, 0],
  );
  t.equal(masker?.dialect, 'postgres');
  t.same(masker?.masked, [false, true]);
  const none = 'SELECT id, total FROM orders';
  t.equal(
    await stage.planForWire(
      [
        { name: 'id', type: 'int4', typeOid: 23 },
        { name: 'total', type: 'int4', typeOid: 23 },
      ],
      { session: session(), sql: none, verdict: await pgVerdict(none) },
    ),
    null,
  );
});

t.test('planForWire gives a text-row masker for MySQL sessions', async (t) => {
  const policy = compiledPolicy();
  const catalog = createStaticCatalog({ dialect: 'mysql', relations, searchPath: ['shop'] });
  const stage = new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  const sql = 'SELECT id, ssn FROM customers';
  const masker = await stage.planForWire(
    [
      { name: 'id', type: 'LONG' },
      { name: 'ssn', type: 'VAR_STRING' },
    ],
    { session: session('mysql'), sql, verdict: mysqlVerdict(sql) },
  );
  t.equal(masker?.dialect, 'mysql');
  if (masker?.dialect !== 'mysql') return;
  const row = Buffer.concat([
    Buffer.from([1]),
    Buffer.from('7'),
    Buffer.from([11]),
    Buffer.from('123-45-6789'),
  ]);
  t.same(
    masker.maskMysqlTextRow(row),
    Buffer.concat([Buffer.from([1]), Buffer.from('7'), Buffer.from([11]), Buffer.from('*******6789')]),
  );
});

t.test('the plan is logged at debug level only, and hash-key warnings once per policy', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const config = `      - columns: [customers.email]
        strategy: hash`;
  const policy = compiledPolicy('', config);
  const noKey = { ...policy, warnings: ['policy agents: masking.hashKey is not set'] };
  const catalog = createStaticCatalog({ dialect: 'postgres', relations, searchPath: ['public'] });
  const stage = new LineageMasking({ rulesFor: () => noKey, catalogFor: () => catalog, logger });
  const sql = 'SELECT email FROM customers';
  for (let i = 0; i < 2; i++) {
    await stage.plan([{ name: 'email', type: 'text', typeOid: 25 }], {
      session: session(),
      sql,
      verdict: await pgVerdict(sql),
    });
  }
  const text = lines.join('');
  t.equal(text.split('hashKey is not set').length - 1, 1, 'warned once');
  t.match(text, /"masked":\["email: hash"\]/);
  t.notMatch(text, /@/, 'no value is logged');
});

t.test('cursorLineage without column rules: FETCH results are scanned by detectors only', async (t) => {
  const policy = compiledPolicy('', '      - detect: [email]\n        strategy: redact');
  const catalog = createStaticCatalog({ dialect: 'postgres', relations, searchPath: ['public'] });
  const stage = new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  const declare = 'DECLARE c CURSOR FOR SELECT email FROM customers';
  const cursor = await stage.cursorLineage({
    session: session(),
    sql: declare,
    verdict: await pgVerdict(declare),
  });
  t.equal(cursor?.name, 'c');
  t.same(cursor?.lineage.unresolved, ['no catalog was loaded for this cursor']);
  const fetch = 'FETCH 1 FROM c';
  const masker = await stage.plan([{ name: 'email', type: 'text', typeOid: 25 }], {
    session: session(),
    sql: fetch,
    verdict: await pgVerdict(fetch),
    ...(cursor ? { cursor } : {}),
  });
  t.same(masker?.mask(['a@example.com']), ['****']);
});

t.test(
  'a cached catalog loads once, shares a load in flight, retries after a failure, reloads after invalidate',
  async (t) => {
    let loads = 0;
    let fail = true;
    const catalog = createCachedCatalog(async () => {
      loads++;
      if (fail) throw new Error('target down');
      return createCatalogSnapshot({ dialect: 'postgres', relations, searchPath: ['public'] });
    });
    await t.rejects(catalog.snapshot(), /target down/);
    fail = false;
    const [a, b] = await Promise.all([catalog.snapshot(), catalog.snapshot()]);
    t.equal(a, b);
    t.equal(loads, 2, 'the failed load was not cached; the two concurrent uses shared one load');
    t.equal(await catalog.snapshot(), a);
    catalog.invalidate();
    t.not(await catalog.snapshot(), a);
    t.equal(loads, 3);
  },
);

t.test('snapshot lookups: search path, schema-qualified, by OID, user functions', async (t) => {
  const snap = createCatalogSnapshot({
    dialect: 'postgres',
    relations,
    searchPath: ['pg_catalog', 'public'],
    userFunctions: ['get_secret', 'app.lookup'],
  });
  t.equal(snap.lookup(undefined, 'CUSTOMERS')?.schema, 'public');
  t.equal(snap.lookup('shop', 'customers')?.columns.length, 4);
  t.equal(snap.lookup('nope', 'customers'), undefined);
  t.equal(snap.relationByOid(16410)?.name, 'orders');
  t.ok(snap.isUserFunction(undefined, 'GET_SECRET'));
  t.ok(snap.isUserFunction('app', 'lookup'));
  t.notOk(snap.isUserFunction('pg_catalog', 'lower'));
});
