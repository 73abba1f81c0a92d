import t from 'tap';
import { createStatementAnalyzer } from '../../src/guard/analyzer.js';
import { compileStatementPolicy } from '../../src/guard/policy.js';
import { testPolicies } from './fixtures/policies.js';
import { rows } from './fixtures/statement-rows.js';

t.test('the statement table is large enough to mean something', async (t) => {
  t.ok(rows.length >= 150, `${rows.length} statements`);
  t.ok(rows.filter((r) => r[0] === 'mysql').length >= 50, 'MySQL is covered too');
});

t.test('each statement gets its expected decision under both policies', async (t) => {
  const analyzer = createStatementAnalyzer();
  const { readOnly, readWrite } = testPolicies();
  const ro = compileStatementPolicy(readOnly);
  const rw = compileStatementPolicy(readWrite);
  for (const [dialect, sql, expectRo, expectRw, effects, unbounded] of rows) {
    const analysis = await analyzer.analyze(sql, dialect);
    const label = `${dialect}: ${sql.replace(/\s+/g, ' ').slice(0, 100)}`;
    const roVerdict = ro.decide(analysis);
    const rwVerdict = rw.decide(analysis);
    t.equal(roVerdict.action, expectRo, `read-only ${label} (${roVerdict.reason})`);
    t.equal(rwVerdict.action, expectRw, `read-write ${label} (${rwVerdict.reason})`);
    if (effects !== undefined) {
      t.ok(analysis.ok, `${label} is understood`);
      if (analysis.ok) {
        const found = [...new Set(analysis.statements.flatMap((s) => s.effects))].sort();
        t.same(found, [...effects].sort(), `effects of ${label}`);
      }
    }
    if (unbounded !== undefined && analysis.ok) {
      t.equal(
        analysis.statements.some((s) => s.unbounded),
        unbounded,
        `unbounded of ${label}`,
      );
    }
  }
});
