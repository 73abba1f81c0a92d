import t from 'tap';
import type { StatementSummary } from '../../src/gateway/types.js';
import type { Analysis } from '../../src/guard/analyzer.js';
import { compileStatementPolicy } from '../../src/guard/policy.js';
import { policyFrom } from './fixtures/policies.js';

function statement(partial: Partial<StatementSummary>): StatementSummary {
  return { text: 'x', command: 'SELECT', effects: ['read'], objects: [], unbounded: false, ...partial };
}

function analysis(...statements: StatementSummary[]): Analysis {
  return { ok: true, statements, parsed: { marker: true } };
}

t.test('deny wins over review, review over allow, and unlisted effects get the default', async (t) => {
  const policy = compileStatementPolicy(
    policyFrom('{ default: review, allow: [read, write], review: [write], deny: [write, ddl] }'),
  );
  const write = policy.decide(analysis(statement({ command: 'UPDATE', effects: ['write'] })));
  t.equal(write.action, 'deny');
  t.equal(write.rule, 'p: deny write');
  const lock = policy.decide(analysis(statement({ effects: ['read', 'lock'] })));
  t.equal(lock.action, 'review');
  t.equal(lock.rule, 'p: default review');
  const read = policy.decide(analysis(statement({ effects: ['read'] })));
  t.equal(read.action, 'allow');
  t.equal(read.rule, 'p: allow read');
  t.equal(read.reason, 'allowed by p: allow read');
  t.same(read.parsed, { marker: true }, 'the parse is passed on for masking');
});

t.test('unknown is denied even when the policy allows it or allows by default', async (t) => {
  const policy = compileStatementPolicy(policyFrom('{ default: allow, allow: [unknown, read] }'));
  const v = policy.decide(analysis(statement({ command: 'DO', effects: ['read', 'unknown'] })));
  t.equal(v.action, 'deny');
  t.equal(v.rule, 'p: unknown is always denied');
  t.match(v.reason, /cannot classify/);
});

t.test('a statement with no effect at all is denied', async (t) => {
  const policy = compileStatementPolicy(policyFrom('{ default: allow }'));
  t.equal(policy.decide(analysis(statement({ effects: [] }))).action, 'deny');
});

t.test('a failed analysis is denied with its error', async (t) => {
  const policy = compileStatementPolicy(policyFrom('{ default: allow }'));
  const v = policy.decide({ ok: false, code: 'ERR_GUARD_PARSE', error: 'syntax error at or near "x"' });
  t.equal(v.action, 'deny');
  t.match(v.reason, /syntax error at or near "x"/);
  t.equal(v.rule, 'p: statements that do not parse are denied');
  t.same(v.statements, []);
});

t.test('an empty text is allowed: it runs nothing', async (t) => {
  const policy = compileStatementPolicy(policyFrom('{ default: deny }'));
  const v = policy.decide(analysis());
  t.equal(v.action, 'allow');
  t.equal(v.rule, 'p: empty text');
});

t.test('the strictest statement decides a multi-statement text and is named', async (t) => {
  const policy = compileStatementPolicy(
    policyFrom('{ default: deny, allow: [read], review: [{ effect: write, unbounded: true }] }'),
  );
  const v = policy.decide(
    analysis(
      statement({}),
      statement({ command: 'UPDATE', effects: ['write'], unbounded: true }),
      statement({}),
    ),
  );
  t.equal(v.action, 'review');
  t.equal(v.rule, 'p: review {effect: write, unbounded: true}');
  t.equal(
    v.reason,
    'statement 2 of 3 (UPDATE) has effect write without a limiting WHERE, which needs approval under p: review {effect: write, unbounded: true}',
  );
  const bounded = policy.decide(analysis(statement({ command: 'UPDATE', effects: ['write'] })));
  t.equal(bounded.action, 'deny', 'a bounded write does not match the unbounded rule');
  t.equal(bounded.reason, 'UPDATE has effect write, denied by p: default deny');
});

t.test('allow rules with objects must cover every object of the statement', async (t) => {
  const policy = compileStatementPolicy(
    policyFrom('{ default: deny, allow: [{ effect: read, objects: [orders, "sales.*", "lower()"] }] }'),
  );
  const decide = (objects: string[]) => policy.decide(analysis(statement({ objects }))).action;
  t.equal(decide(['orders']), 'allow');
  t.equal(decide(['public.orders', 'sales.q1']), 'allow', 'an unqualified pattern matches any schema');
  t.equal(decide(['orders', 'secrets']), 'deny', 'one object outside the rule is enough to fall through');
  t.equal(decide(['q1']), 'deny', 'sales.* does not vouch for an unqualified name');
  t.equal(decide(['ORDERS']), 'allow', 'names compare case-insensitively');
  t.equal(decide([]), 'deny', 'a statement naming no relation is not covered by a relation rule');
  t.equal(decide(['orders', 'lower()']), 'allow');
  t.equal(decide(['orders', 'upper()']), 'deny', 'function patterns cover functions the same way');
  t.equal(decide(['db.sales.q1']), 'allow', 'a catalog prefix is ignored');
});

t.test('deny and review rules with objects match when any object may be one of them', async (t) => {
  const policy = compileStatementPolicy(
    policyFrom(
      '{ default: allow, deny: [{ effect: read, objects: ["hr.salaries", "pg_read_*()"] }], review: [{ effect: write, objects: [orders] }] }',
    ),
  );
  const decide = (effects: StatementSummary['effects'], objects: string[]) =>
    policy.decide(analysis(statement({ effects, objects }))).action;
  t.equal(decide(['read'], ['hr.salaries']), 'deny');
  t.equal(decide(['read'], ['salaries']), 'deny', 'an unqualified name may resolve to hr.salaries');
  t.equal(decide(['read'], ['public.salaries']), 'allow', 'another schema is another table');
  t.equal(decide(['read'], ['pg_catalog.pg_read_file()']), 'deny');
  t.equal(decide(['read'], ['customers', 'pg_ls_dir()']), 'allow');
  t.equal(decide(['write'], ['x', 'shop.orders']), 'review');
  t.equal(decide(['write'], ['x']), 'allow');
});

t.test('an allow verdict lists every allow rule used', async (t) => {
  const policy = compileStatementPolicy(
    policyFrom('{ default: deny, allow: [read, { effect: write, unbounded: false }] }'),
  );
  const v = policy.decide(
    analysis(statement({}), statement({ command: 'INSERT', effects: ['read', 'write'] })),
  );
  t.equal(v.action, 'allow');
  t.equal(v.rule, 'p: allow read, allow {effect: write, unbounded: false}');
});

t.test('rules with objects are labelled with them', async (t) => {
  const policy = compileStatementPolicy(policyFrom('{ deny: [{ effect: delete, objects: [a, b] }] }'));
  const v = policy.decide(analysis(statement({ command: 'DELETE', effects: ['delete'], objects: ['a'] })));
  t.equal(v.rule, 'p: deny {effect: delete, objects: [a, b]}');
  t.equal(policy.name, 'p');
});

t.test('an allow rule naming only functions does not constrain relations', async (t) => {
  const policy = compileStatementPolicy(
    policyFrom('{ default: deny, allow: [read, { effect: write, objects: ["nextval()"] }] }'),
  );
  const decide = (objects: string[]) =>
    policy.decide(analysis(statement({ effects: ['read', 'write'], objects }))).action;
  t.equal(decide(['nextval()', 'orders']), 'allow');
  t.equal(decide(['setval()', 'nextval()']), 'deny');
  t.equal(decide(['orders']), 'deny', 'no function matched');
});
