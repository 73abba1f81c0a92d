import t from 'tap';
import { createStatementAnalyzer } from '../../src/guard/analyzer.js';
import { compileStatementPolicy } from '../../src/guard/policy.js';
import { ATTACK_POLICY, ATTACKS } from './fixtures/adversarial-corpus.js';
import { policyFrom } from './fixtures/policies.js';

t.test('the corpus is large enough and covers both dialects', async (t) => {
  t.ok(ATTACKS.length >= 300, `${ATTACKS.length} statements`);
  t.ok(ATTACKS.filter((a) => a.dialect === 'mysql').length >= 100, 'MySQL is covered');
  t.ok(ATTACKS.filter((a) => a.expect === 'allow').length >= 50, 'benign reads are in it');
});

t.test('every statement gets its decision (cold and through the shape cache)', async (t) => {
  const policy = compileStatementPolicy(policyFrom(ATTACK_POLICY));
  const analyzer = createStatementAnalyzer();
  for (const pass of ['cold', 'warm']) {
    for (const attack of ATTACKS) {
      const verdict = policy.decide(await analyzer.analyze(attack.sql, attack.dialect));
      const label = `${pass} ${attack.dialect} [${attack.category}] ${attack.sql.replace(/\s+/g, ' ').slice(0, 90)}`;
      t.equal(
        verdict.action,
        attack.expect,
        `${label} (${verdict.reason})`,
        attack.gap ? { todo: attack.gap } : {},
      );
    }
  }
});

t.test('a text of the same shape as an allowed one is decided on its own values', async (t) => {
  // The shape cache abstracts literals: a literal that decides (an option's value) must not be.
  const policy = compileStatementPolicy(policyFrom(ATTACK_POLICY));
  const analyzer = createStatementAnalyzer();
  t.equal(
    policy.decide(await analyzer.analyze('EXPLAIN (ANALYZE 0) DELETE FROM customers', 'postgres')).action,
    'allow',
  );
  t.equal(
    policy.decide(await analyzer.analyze('EXPLAIN (ANALYZE 1) DELETE FROM customers', 'postgres')).action,
    'review',
  );
  t.equal(
    policy.decide(await analyzer.analyze("EXPLAIN (ANALYZE 'off') CREATE TABLE x AS SELECT 1", 'postgres'))
      .action,
    'allow',
  );
  t.equal(
    policy.decide(await analyzer.analyze("EXPLAIN (ANALYZE 'on') CREATE TABLE x AS SELECT 1", 'postgres'))
      .action,
    'deny',
  );
});
