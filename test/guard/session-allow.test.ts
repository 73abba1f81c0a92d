import t from 'tap';
import { createStatementAnalyzer } from '../../src/guard/analyzer.js';
import { compileStatementPolicy } from '../../src/guard/policy.js';
import { parseConfigText } from '../../src/config/load.js';

const config = parseConfigText(`
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: x, user: x }
policies:
  - name: agents
    when: { groups: [g] }
    statements: { default: deny, allow: [read], deny: [session] }
    session: { allow: [statement_timeout, Search_Path, max_execution_time] }
`);
const policy = compileStatementPolicy(config.policies[0]!);

const cases: ['postgres' | 'mysql', string, 'allow' | 'deny'][] = [
  ['postgres', 'SET statement_timeout = 5000', 'allow'],
  ['postgres', 'SET statement_timeout = 0', 'allow'],
  ['postgres', 'SET LOCAL statement_timeout TO DEFAULT', 'allow'],
  ['postgres', 'RESET statement_timeout', 'allow'],
  ['postgres', 'SET search_path = public, pg_catalog', 'allow'],
  ['postgres', 'SET "search_path" TO public', 'allow'],
  ['postgres', 'SET work_mem = 1024', 'deny'],
  ['postgres', 'RESET ALL', 'deny'],
  ['postgres', 'SET ROLE postgres', 'deny'],
  ['postgres', 'SET SESSION AUTHORIZATION postgres', 'deny'],
  ['postgres', 'SET TRANSACTION READ WRITE', 'deny'],
  ['postgres', "SELECT set_config('statement_timeout', '0', false)", 'deny'],
  ['postgres', 'SET statement_timeout = 1; SET work_mem = 1', 'deny'],
  ['mysql', 'SET max_execution_time = 5', 'allow'],
  ['mysql', 'SET SESSION max_execution_time = 0', 'allow'],
  ['mysql', 'SET max_execution_time = 5, sql_log_bin = 0', 'deny'],
  ['mysql', 'SET GLOBAL max_execution_time = 5', 'deny'],
  ['mysql', 'SET max_execution_time = (SELECT GET_LOCK(1, 2))', 'deny'],
];

t.test('session.allow lets the named settings be changed, and nothing else', async (t) => {
  const analyzer = createStatementAnalyzer();
  // Twice: the second pass reads through the shape cache.
  for (const pass of ['cold', 'warm']) {
    for (const [dialect, sql, expected] of cases) {
      const verdict = policy.decide(await analyzer.analyze(sql, dialect));
      t.equal(verdict.action, expected, `${pass} ${dialect}: ${sql} (${verdict.reason})`);
    }
  }
  const verdict = policy.decide(await analyzer.analyze('SET statement_timeout = 7', 'postgres'));
  t.equal(verdict.rule, 'agents: allow session.allow [statement_timeout, search_path, max_execution_time]');
});
