import t from 'tap';
import type { SessionContext } from '../../src/gateway/types.js';
import { createStatementAnalyzer } from '../../src/guard/analyzer.js';
import { compileStatementPolicy } from '../../src/guard/policy.js';
import { PolicyGuard } from '../../src/guard/policy-guard.js';
import { policyFrom } from './fixtures/policies.js';

function session(
  id: string,
  groups: string[] = ['g'],
  dialect: SessionContext['dialect'] = 'postgres',
): SessionContext {
  return {
    id,
    identity: { subject: 'alice', groups, issuer: 'test', via: 'operator' },
    target: 'orders',
    dialect,
    channel: 'postgres',
  };
}

const policy = compileStatementPolicy(
  policyFrom('{ default: deny, allow: [read, session], review: [{ effect: delete, unbounded: true }] }'),
);
const guard = () =>
  new PolicyGuard({
    analyzer: createStatementAnalyzer(),
    policyFor: (s) => (s.identity.groups.includes('g') ? policy : undefined),
  });

t.test('a session without a policy is denied and told why', async (t) => {
  const v = await guard().check('SELECT 1', session('s1', ['other']));
  t.equal(v.action, 'deny');
  t.equal(v.reason, 'no policy grants alice access to orders');
  t.same(v.statements, []);
});

t.test('a statement is analysed and decided under the session policy', async (t) => {
  const g = guard();
  const read = await g.check('SELECT * FROM orders', session('s1'));
  t.equal(read.action, 'allow');
  t.same(read.statements[0]?.objects, ['orders']);
  t.ok(read.parsed, 'the parse goes to masking');
  t.equal((await g.check('DROP TABLE orders', session('s1'))).action, 'deny');
  t.equal((await g.check('KILL 1', session('s1', ['g'], 'mysql'))).action, 'deny');
});

t.test('an EXECUTE is decided on what the session prepared', async (t) => {
  const g = guard();
  const s = session('s1');
  t.equal((await g.check('EXECUTE p', s)).action, 'deny', 'nothing prepared yet: unknown');
  t.equal((await g.check('PREPARE p AS SELECT * FROM orders', s)).action, 'allow');
  t.equal((await g.check('EXECUTE p', s)).action, 'allow', 'p runs a read');
  t.equal((await g.check('EXECUTE p', session('s2'))).action, 'deny', 'another session has no p');
  const deallocate = await g.check('DEALLOCATE p', s);
  t.equal(deallocate.action, 'allow');
  t.equal((await g.check('EXECUTE p', s)).action, 'allow', 'p is there until the DEALLOCATE ran');
  g.ran(deallocate, session('s2'));
  t.equal((await g.check('EXECUTE p', s)).action, 'allow', "another session's run changes nothing");
  g.ran(deallocate, s);
  t.equal((await g.check('EXECUTE p', s)).action, 'deny', 'p is gone');
});

t.test('a denied PREPARE defines nothing; a reviewed one binds its body', async (t) => {
  const g = guard();
  const s = session('s1');
  t.equal((await g.check('PREPARE p AS SELECT 1; DROP TABLE orders', s)).action, 'deny');
  t.equal(g.preparedStatements('s1').get('p'), undefined);
  t.equal((await g.check('PREPARE p AS DELETE FROM orders', s)).action, 'review');
  t.same(g.preparedStatements('s1').get('p')?.effects, ['delete']);
  t.equal((await g.check('EXECUTE p', s)).action, 'review', 'the body still needs approval each time');
});

t.test('wire protocols register prepared statements; endSession forgets them', async (t) => {
  const analyzer = createStatementAnalyzer();
  const g = new PolicyGuard({ analyzer, policyFor: () => policy });
  g.preparedStatements('s1').registerAnalysis('stmt1', await analyzer.analyze('SELECT 1', 'postgres'));
  t.equal((await g.check('EXECUTE stmt1', session('s1'))).action, 'allow');
  g.endSession('s1');
  t.equal((await g.check('EXECUTE stmt1', session('s1'))).action, 'deny');
});

t.test('prepare() decides a wire-prepared statement and binds its name unless denied', async (t) => {
  const g = guard();
  const s = session('s1');
  t.equal((await g.prepare('s_read', 'SELECT * FROM orders', s)).action, 'allow');
  t.equal((await g.check('EXECUTE s_read', s)).action, 'allow');
  t.equal((await g.prepare('s_drop', 'DROP TABLE orders', s)).action, 'deny');
  t.equal(g.preparedStatements('s1').get('s_drop'), undefined);
  t.equal((await g.check('EXECUTE s_drop', s)).action, 'deny');
});
