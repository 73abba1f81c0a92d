import pino from 'pino';
import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { createCachedCatalog, createCatalogSnapshot } from '../../src/masking/catalog.js';
import { LineageMasking } from '../../src/masking/stage.js';
import { compiledPolicy, pgVerdict, relations, session } from './fixtures/shop.js';

const cols: ResultColumn[] = [
  { name: 'id', type: 'int4', typeOid: 23, tableOid: 16400, columnAttr: 1 },
  { name: 'email', type: 'text', typeOid: 25, tableOid: 16400, columnAttr: 3 },
];

function setup() {
  let loads = 0;
  const catalog = createCachedCatalog(async () => {
    loads++;
    return createCatalogSnapshot({ dialect: 'postgres', relations, searchPath: ['public'] });
  });
  let policy = compiledPolicy();
  const stage = new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  return {
    stage,
    catalog,
    loads: () => loads,
    replacePolicy: () => (policy = compiledPolicy()),
  };
}

t.test('a plan decided once for a parse and its columns is answered without waiting', async (t) => {
  const { stage } = setup();
  const sql = 'SELECT id, email FROM customers';
  const context = { session: session(), sql, verdict: await pgVerdict(sql) };
  t.equal(stage.cachedPlanForWire(cols, context, [0, 0]), undefined, 'nothing decided yet');
  const first = await stage.planForWire(cols, context, [0, 0]);
  const again = stage.cachedPlanForWire(cols, context, [0, 0]);
  t.same(again?.masked, first?.masked);
  t.same(again?.masked, [false, true]);
  t.not(again, first, 'a new masker per result (a masker holds the state of one result set)');
  const other = cols.map((c) => ({ ...c, name: c.name === 'email' ? 'mail' : c.name }));
  t.equal(stage.cachedPlanForWire(other, context, [0, 0]), undefined, 'other result columns');
  const fresh = { ...context, verdict: await pgVerdict(sql) };
  t.equal(stage.cachedPlanForWire(cols, fresh, [0, 0]), undefined, 'another parse object');
  t.same((await stage.maskingPlan(cols, context))?.masked, [false, true], 'maskingPlan uses it too');
});

t.test('a new catalog snapshot or a new policy decides again', async (t) => {
  const { stage, catalog, loads, replacePolicy } = setup();
  const sql = 'SELECT id, email FROM customers';
  const context = { session: session(), sql, verdict: await pgVerdict(sql) };
  await stage.planForWire(cols, context, [0, 0]);
  t.not(stage.cachedPlanForWire(cols, context, [0, 0]), undefined);
  catalog.invalidate();
  t.equal(stage.cachedPlanForWire(cols, context, [0, 0]), undefined, 'after DDL (catalog invalidated)');
  await stage.planForWire(cols, context, [0, 0]);
  t.equal(loads(), 2, 'the catalog was loaded again');
  t.not(stage.cachedPlanForWire(cols, context, [0, 0]), undefined, 'decided again under the new snapshot');
  replacePolicy();
  t.equal(stage.cachedPlanForWire(cols, context, [0, 0]), undefined, 'a reloaded policy');
});

t.test('without column rules, the plan needs no lineage and is answered at once', async (t) => {
  const catalog = createCachedCatalog(async () => {
    throw new Error('not loaded for this');
  });
  const none = new LineageMasking({
    rulesFor: () => undefined,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  const sql = 'SELECT id, email FROM customers';
  const context = { session: session(), sql, verdict: await pgVerdict(sql) };
  t.equal(none.cachedPlanForWire(cols, context, [0, 0]), null, 'no masking for the caller');
  const detectors = new LineageMasking({
    rulesFor: () => compiledPolicy('', '      - detect: [email]\n        strategy: redact\n'),
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  t.same(
    detectors.cachedPlanForWire(cols, context, [0, 0])?.masked,
    [false, true],
    'detectors: text columns',
  );
});
