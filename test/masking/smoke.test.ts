import t from 'tap';
import { compiledPolicy, computed, pgVerdict, session, stage } from './fixtures.js';

t.test('smoke', async (t) => {
  const s = stage(compiledPolicy());
  const sql = 'SELECT id, lower(email) AS e, ssn, name FROM customers';
  const plan = await s.maskingPlan(computed('id', 'e', 'ssn', 'name'), {
    session: session(),
    sql,
    verdict: await pgVerdict(sql),
  });
  t.same(
    plan?.actions.map((a) => (a?.kind === 'mask' ? a.strategy.name : (a?.kind ?? null))),
    [null, 'redact', 'partial', null],
  );
  t.same(plan?.maskValues([1, 'A@B.com', '123-45-6789', 'Ann']), [1, '****', '*******6789', 'Ann']);
});
