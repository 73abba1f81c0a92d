import t from 'tap';
import type { Effect } from '../../src/config/schema.js';
import { createStatementAnalyzer, type Analysis } from '../../src/guard/analyzer.js';
import { PreparedStatements } from '../../src/guard/prepared.js';

function effectsOf(analysis: Analysis): Effect[][] {
  if (!analysis.ok) throw new Error(`expected an analysis, got ${analysis.error}`);
  return analysis.statements.map((s) => s.effects);
}

t.test('a Postgres syntax error is a failed analysis with the message and position', async (t) => {
  const a = await createStatementAnalyzer().analyze('SELECT 1;\nSELEC 2', 'postgres');
  t.equal(a.ok, false);
  if (!a.ok) {
    t.equal(a.code, 'ERR_GUARD_PARSE');
    t.match(a.error, /syntax error at or near "SELEC" \(at character 11\)/);
  }
});

t.test('a MySQL syntax error is a failed analysis with the position', async (t) => {
  const a = await createStatementAnalyzer().analyze('SELECT FROM WHERE', 'mysql');
  t.equal(a.ok, false);
  if (!a.ok) {
    t.equal(a.code, 'ERR_GUARD_PARSE');
    t.match(a.error, /at character \d+/);
  }
});

t.test('MySQL versioned and ambiguous comments are refused with their own codes', async (t) => {
  const analyzer = createStatementAnalyzer();
  const versioned = await analyzer.analyze("SELECT 'x' /*M!100000 , 1 */", 'mysql');
  t.same(versioned.ok ? undefined : versioned.code, 'ERR_GUARD_VERSIONED_COMMENT');
  const ambiguous = await analyzer.analyze('SELECT 1 --1', 'mysql');
  t.same(ambiguous.ok ? undefined : ambiguous.code, 'ERR_GUARD_AMBIGUOUS_COMMENT');
  // `-- ` followed by a space, a tab or the end of the text is a real comment.
  t.ok((await analyzer.analyze('SELECT 1 --\tx', 'mysql')).ok);
  t.ok((await analyzer.analyze('SELECT 1 --', 'mysql')).ok);
  // Inside strings and identifiers `--x` is data.
  t.ok((await analyzer.analyze("SELECT '--x', `a--b` FROM t", 'mysql')).ok);
});

t.test('each statement carries its own text, also after non-ASCII characters', async (t) => {
  const pg = await createStatementAnalyzer().analyze(
    "SELECT 'héllo';  UPDATE t SET a = 'ü' WHERE id = 1 ;SELECT 3",
    'postgres',
  );
  t.same(pg.ok ? pg.statements.map((s) => s.text) : [], [
    "SELECT 'héllo'",
    "UPDATE t SET a = 'ü' WHERE id = 1",
    'SELECT 3',
  ]);
  const my = await createStatementAnalyzer().analyze(
    "SELECT 'a;b' ; # note\n DELETE FROM t WHERE id = 1;",
    'mysql',
  );
  t.same(my.ok ? my.statements.map((s) => s.text) : [], [
    "SELECT 'a;b'",
    '# note\n DELETE FROM t WHERE id = 1',
  ]);
});

t.test('parsed is libpg-query output for Postgres and an AST array for MySQL', async (t) => {
  const analyzer = createStatementAnalyzer();
  const pg = await analyzer.analyze('SELECT a FROM t; SELECT 2', 'postgres');
  t.ok(pg.ok);
  if (pg.ok) {
    const parsed = pg.parsed as { version: number; stmts: { stmt: Record<string, unknown> }[] };
    t.type(parsed.version, 'number');
    t.equal(parsed.stmts.length, 2);
    t.ok(parsed.stmts[0]?.stmt.SelectStmt);
  }
  const my = await analyzer.analyze('SELECT a FROM t; KILL 3', 'mysql');
  t.ok(my.ok);
  if (my.ok) {
    const parsed = my.parsed as ({ type: string } | null)[];
    t.equal(parsed.length, 2);
    t.equal(parsed[0]?.type, 'select');
    t.equal(parsed[1], null, 'a statement classified by its keywords has no AST');
  }
});

t.test('analyses are cached by dialect and text, in a bounded LRU', async (t) => {
  const analyzer = createStatementAnalyzer({ cacheSize: 2 });
  const first = await analyzer.analyze('SELECT 1', 'postgres');
  t.equal(await analyzer.analyze('SELECT 1', 'postgres'), first, 'a repeated text is served from the cache');
  t.not(await analyzer.analyze('SELECT 1', 'mysql'), first, 'the dialect is part of the key');
  await analyzer.analyze('SELECT 2', 'postgres');
  await analyzer.analyze('SELECT 3', 'postgres');
  t.not(await analyzer.analyze('SELECT 1', 'postgres'), first, 'the least recently used entry was evicted');
  const uncached = createStatementAnalyzer({ cacheSize: 0 });
  t.not(await uncached.analyze('SELECT 1', 'postgres'), await uncached.analyze('SELECT 1', 'postgres'));
});

t.test('side-effect functions are found anywhere in the tree and the list is configurable', async (t) => {
  const analyzer = createStatementAnalyzer({
    sideEffectFunctions: {
      postgres: { audit_log: ['write'], nextval: [] },
      mysql: { SEND_MAIL: ['program'] },
    },
  });
  t.same(
    effectsOf(await analyzer.analyze('SELECT * FROM t WHERE x = (SELECT audit.audit_log(1))', 'postgres')),
    [['read', 'write']],
  );
  t.same(effectsOf(await analyzer.analyze("SELECT nextval('s')", 'postgres')), [['read']], 'declared pure');
  t.same(
    effectsOf(await analyzer.analyze("SELECT pg_read_file('x')", 'postgres')),
    [['read', 'file']],
    'defaults stay',
  );
  t.same(effectsOf(await analyzer.analyze("SELECT send_mail('x')", 'mysql')), [['read', 'program']]);
  const a = await analyzer.analyze(
    'SELECT lower(name), count(*) FROM public.customers GROUP BY 1',
    'postgres',
  );
  t.same(a.ok ? a.statements[0]?.objects : [], ['lower()', 'count()', 'public.customers']);
});

t.test('EXECUTE counts as the prepared body: same text, session registry, or unknown', async (t) => {
  const analyzer = createStatementAnalyzer();
  t.same(effectsOf(await analyzer.analyze('PREPARE d AS DELETE FROM t; EXECUTE d', 'postgres')), [
    ['delete'],
    ['delete'],
  ]);
  t.same(effectsOf(await analyzer.analyze('EXECUTE d', 'postgres')), [['unknown']], 'nobody prepared d');

  const session = new PreparedStatements();
  session.register('d', {
    text: 'DELETE FROM t',
    command: 'DELETE',
    effects: ['delete'],
    objects: ['t'],
    unbounded: true,
  });
  const executed = await analyzer.analyze('EXECUTE d', 'postgres', session);
  t.ok(executed.ok);
  if (executed.ok) {
    t.same(executed.statements[0], {
      text: 'EXECUTE d',
      command: 'EXECUTE',
      effects: ['delete'],
      objects: ['t'],
      unbounded: true,
    });
  }
  t.same(
    effectsOf(await analyzer.analyze('EXECUTE d(pg_cancel_backend(1))', 'postgres', session)),
    [['delete', 'admin']],
    'the arguments count too',
  );
  t.same(effectsOf(await analyzer.analyze('DEALLOCATE d; EXECUTE d', 'postgres', session)), [
    ['session'],
    ['unknown'],
  ]);
  t.same(effectsOf(await analyzer.analyze('DEALLOCATE ALL; EXECUTE d', 'postgres', session)), [
    ['session'],
    ['unknown'],
  ]);
  t.same(
    effectsOf(await analyzer.analyze('EXPLAIN ANALYZE EXECUTE d', 'postgres', session)),
    [['read', 'unknown']],
    'an EXECUTE run inside another statement cannot be resolved',
  );
  t.same(
    effectsOf(await analyzer.analyze('EXPLAIN EXECUTE d', 'postgres', session)),
    [['read']],
    'plain EXPLAIN runs nothing',
  );
});

t.test('PREPARE and DEALLOCATE are reported as changes for the session registry', async (t) => {
  const analyzer = createStatementAnalyzer();
  const a = await analyzer.analyze('PREPARE q AS SELECT 1; DEALLOCATE q; DEALLOCATE ALL', 'postgres');
  t.same(a.ok ? a.preparedChanges?.map((c) => c.kind) : [], ['prepare', 'deallocate', 'deallocate-all']);
  const session = new PreparedStatements();
  const prepare = [
    {
      kind: 'prepare' as const,
      name: 'q',
      body: { text: 'x', command: 'SELECT', effects: ['read' as const], objects: [], unbounded: false },
    },
  ];
  session.settle(prepare, session.anticipate(prepare));
  t.equal(session.size, 1);
  const deallocate = [{ kind: 'deallocate' as const, name: 'q' }];
  const ticket = session.anticipate(deallocate);
  t.equal(session.size, 1, 'a DEALLOCATE not yet run removes nothing');
  session.settle(deallocate, ticket);
  t.equal(session.size, 0);
  const none = await analyzer.analyze('SELECT 1', 'postgres');
  t.equal(none.ok ? none.preparedChanges : 'failed', undefined);
});

t.test('MySQL prepared statements: string bodies are analysed and names are case-insensitive', async (t) => {
  const analyzer = createStatementAnalyzer();
  t.same(
    effectsOf(
      await analyzer.analyze("PREPARE S FROM 'DELETE FROM t WHERE id = ?'; EXECUTE s USING @id", 'mysql'),
    ),
    [['delete'], ['delete']],
  );
  t.same(effectsOf(await analyzer.analyze('PREPARE `x` FROM "SELECT \'it\'\'s\', \\"q\\""', 'mysql')), [
    ['read'],
  ]);
  t.same(effectsOf(await analyzer.analyze("PREPARE x FROM 'SELECT 1; DROP TABLE t'", 'mysql')), [
    ['unknown'],
  ]);
  t.same(effectsOf(await analyzer.analyze("PREPARE x FROM 'NOT SQL AT ALL'", 'mysql')), [['unknown']]);
  const session = new PreparedStatements();
  session.registerAnalysis('s', await analyzer.analyze('UPDATE t SET a = 1', 'mysql'));
  const executed = await analyzer.analyze('EXECUTE S', 'mysql', session);
  t.same(executed.ok ? executed.statements[0]?.effects : [], ['write']);
  t.same(effectsOf(await analyzer.analyze('DEALLOCATE PREPARE s; EXECUTE s', 'mysql', session)), [
    ['session'],
    ['unknown'],
  ]);
});

t.test('a wire-prepared statement that did not analyse executes as unknown', async (t) => {
  const analyzer = createStatementAnalyzer();
  const session = new PreparedStatements();
  session.registerAnalysis('bad', await analyzer.analyze('SELEC', 'postgres'));
  session.registerAnalysis('two', await analyzer.analyze('SELECT 1; DELETE FROM t WHERE id = 2', 'postgres'));
  t.same(effectsOf(await analyzer.analyze('EXECUTE bad', 'postgres', session)), [['unknown']]);
  t.same(effectsOf(await analyzer.analyze('EXECUTE two', 'postgres', session)), [['read', 'delete']]);
  t.equal(session.get('two')?.command, 'SELECT; DELETE');
});

t.test('DO bodies are parsed: embedded statements, assignments, dynamic SQL', async (t) => {
  const analyzer = createStatementAnalyzer();
  const cases: [string, Effect[], boolean?][] = [
    ['DO $$ BEGIN UPDATE t SET a = 1 WHERE id = 1; END $$', ['write', 'procedural'], false],
    [
      "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP NULL; END LOOP; END $$",
      ['read', 'procedural'],
    ],
    ["DO $$ DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT 1'; END $$", ['read', 'procedural']],
    ["DO $$ DECLARE x int; BEGIN x = nextval('s'); END $$", ['read', 'write', 'procedural']],
    ["DO $$ BEGIN IF pg_read_file('x') IS NULL THEN RETURN; END IF; END $$", ['read', 'file', 'procedural']],
    ["DO $x$ BEGIN PERFORM '$sluice$'; END $x$", ['read', 'procedural']],
    ['DO $$ BEGIN this is not plpgsql; END $$', ['procedural', 'unknown']],
  ];
  for (const [sql, effects, unbounded] of cases) {
    const a = await analyzer.analyze(sql, 'postgres');
    t.same(effectsOf(a)[0], effects, sql);
    if (unbounded !== undefined && a.ok) t.equal(a.statements[0]?.unbounded, unbounded, `${sql} unbounded`);
  }
});

t.test('statement types the classifier does not know are unknown, nested ones too', async (t) => {
  const analyzer = createStatementAnalyzer();
  t.same(effectsOf(await analyzer.analyze('ALTER TABLE t REPLICA IDENTITY FULL', 'postgres')), [['ddl']]);
  t.same(effectsOf(await analyzer.analyze('CREATE TABLE t2 AS EXECUTE p', 'postgres')), [
    ['write', 'ddl', 'unknown'],
  ]);
  t.same(effectsOf(await analyzer.analyze("DO LANGUAGE plperlu 'system(1)'", 'postgres')), [
    ['procedural', 'unknown'],
  ]);
});

t.test('commands are named as the server tags them', async (t) => {
  const analyzer = createStatementAnalyzer();
  const sql =
    'BEGIN; SELECT 1 INTO x; GRANT a TO b; REVOKE a FROM b; VACUUM; ANALYZE; MOVE c; FETCH c; CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$; ' +
    'CREATE MATERIALIZED VIEW m AS SELECT 1; DROP VIEW v; DROP FUNCTION f(int); DROP SCHEMA s; RESET x; ALTER TABLE t ADD c int; ROLLBACK';
  const a = await analyzer.analyze(sql, 'postgres');
  t.same(a.ok ? a.statements.map((s) => s.command) : [], [
    'BEGIN',
    'SELECT INTO',
    'GRANT',
    'REVOKE',
    'VACUUM',
    'ANALYZE',
    'MOVE',
    'FETCH',
    'CREATE PROCEDURE',
    'CREATE MATERIALIZED VIEW',
    'DROP VIEW',
    'DROP FUNCTION',
    'DROP SCHEMA',
    'RESET',
    'ALTER TABLE',
    'ROLLBACK',
  ]);
  t.same(a.ok ? a.statements[11]?.objects : [], ['f()']);
  t.same(a.ok ? a.statements[12]?.objects : [], ['s']);
});

t.test('a classifier failure is refused, not passed', async (t) => {
  const analyzer = createStatementAnalyzer({
    sideEffectFunctions: { postgres: { broken: 5 as unknown as Effect[] } },
  });
  const a = await analyzer.analyze('SELECT broken()', 'postgres');
  t.equal(a.ok, false);
  if (!a.ok) t.equal(a.code, 'ERR_GUARD_INTERNAL');
});

t.test('cached summaries cannot be edited by a caller', async (t) => {
  const analyzer = createStatementAnalyzer();
  const a = await analyzer.analyze('SELECT * FROM t', 'postgres');
  if (!a.ok) throw new Error('expected an analysis');
  t.throws(() => (a.statements[0]?.effects as string[]).push('write'));
  t.throws(() => a.statements.pop());
  const again = await analyzer.analyze('SELECT * FROM t', 'postgres');
  t.same(again.ok ? again.statements[0]?.effects : [], ['read']);
});

t.test(
  'MySQL statements classified by keywords still report side-effect functions and hidden queries',
  async (t) => {
    const analyzer = createStatementAnalyzer();
    t.same(effectsOf(await analyzer.analyze("SET ROLE (SELECT LOAD_FILE('/x'))", 'mysql')), [
      ['session', 'file', 'unknown'],
    ]);
    t.same(
      effectsOf(await analyzer.analyze('CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO SELECT SLEEP(1)', 'mysql')),
      [['ddl', 'admin', 'procedural']],
    );
    t.same(
      effectsOf(await analyzer.analyze('CREATE TABLE t2 (a INT) IGNORE SELECT a FROM t FOR SHARE', 'mysql')),
      [['ddl', 'unknown']],
    );
  },
);

t.test('texts longer than the dialect limit are refused before parsing', async (t) => {
  const analyzer = createStatementAnalyzer({ maxTextLength: { mysql: 20 } });
  const long = await analyzer.analyze('SELECT 1 FROM orders WHERE id = 1', 'mysql');
  t.equal(long.ok, false);
  if (!long.ok) {
    t.equal(long.code, 'ERR_GUARD_TOO_LONG');
    t.match(long.error, /33 characters long; the guard analyses at most 20 for mysql/);
  }
  t.ok(
    (await analyzer.analyze('SELECT 1 FROM orders WHERE id = 1', 'postgres')).ok,
    'the other dialect keeps its default',
  );
});

t.test('texts of more statements than the limit are refused before they are classified', async (t) => {
  const analyzer = createStatementAnalyzer({ maxStatements: 3 });
  for (const dialect of ['postgres', 'mysql'] as const) {
    t.ok((await analyzer.analyze('SELECT 1; SELECT 2; SELECT 3', dialect)).ok, `${dialect}: three pass`);
    const four = await analyzer.analyze('SELECT 1; SELECT 2; SELECT 3; DELETE FROM t', dialect);
    t.equal(four.ok, false, `${dialect}: four are refused`);
    if (!four.ok) {
      t.equal(four.code, 'ERR_GUARD_TOO_MANY');
      t.match(four.error, /holds 4 statements; the guard analyses at most 3 in one text/);
    }
  }
  // The defaults: 1000 statements, and 256 KiB of Postgres text.
  const defaults = createStatementAnalyzer();
  const many = await defaults.analyze('SELECT 1;'.repeat(1001), 'mysql');
  t.match(many, { ok: false, code: 'ERR_GUARD_TOO_MANY' });
  t.match(await defaults.analyze('SELECT 1;'.repeat(1001), 'postgres'), {
    ok: false,
    code: 'ERR_GUARD_TOO_MANY',
  });
  t.ok((await defaults.analyze('SELECT 1;'.repeat(1000), 'postgres')).ok);
  const long = `SELECT '${'x'.repeat(256 * 1024)}'`;
  t.match(await defaults.analyze(long, 'postgres'), { ok: false, code: 'ERR_GUARD_TOO_LONG' });
});

t.test('pathologically deep expressions are refused, not crashed on', async (t) => {
  const analyzer = createStatementAnalyzer();
  const deep = 'SELECT ' + Array(20000).fill('1').join('+');
  const pg = await analyzer.analyze(deep, 'postgres');
  t.equal(pg.ok, false);
  const parens = 'SELECT ' + '('.repeat(3000) + '1' + ')'.repeat(3000);
  const my = await analyzer.analyze(parens, 'mysql');
  t.equal(my.ok, false);
});

t.test('a name prepared twice without DEALLOCATE executes as both bodies', async (t) => {
  // Postgres keeps the first body (the second PREPARE fails), MySQL takes the second; the guard
  // decides before the target answers, so EXECUTE must be judged by every effect of either.
  const analyzer = createStatementAnalyzer();
  const session = new PreparedStatements();
  for (const sql of ['PREPARE p AS DELETE FROM t', 'PREPARE p AS SELECT 1']) {
    const a = await analyzer.analyze(sql, 'postgres');
    if (a.ok && a.preparedChanges) session.anticipate(a.preparedChanges);
  }
  const run = await analyzer.analyze('EXECUTE p', 'postgres', session);
  t.same(effectsOf(run), [['read', 'delete']]);
  t.equal(run.ok && run.statements[0]?.unbounded, true, 'still unbounded');
  const deallocate = [{ kind: 'deallocate' as const, name: 'p' }];
  session.settle(deallocate, session.anticipate(deallocate));
  const again = await analyzer.analyze('PREPARE p AS SELECT 1', 'postgres');
  if (again.ok && again.preparedChanges)
    session.settle(again.preparedChanges, session.anticipate(again.preparedChanges));
  t.same(
    effectsOf(await analyzer.analyze('EXECUTE p', 'postgres', session)),
    [['read']],
    'after DEALLOCATE, only the new body',
  );
});

t.test('what a text does to prepared statements holds only once it ran', async (t) => {
  const analyzer = createStatementAnalyzer();
  const session = new PreparedStatements();
  const changes = async (sql: string) => {
    const a = await analyzer.analyze(sql, 'mysql', session);
    return a.ok ? (a.preparedChanges ?? []) : [];
  };
  const first = await changes("PREPARE p FROM 'DELETE FROM t'");
  session.settle(first, session.anticipate(first));
  // The text fails at its first statement: the DEALLOCATE and the new PREPARE never run.
  const failed = await changes("SELECT * FROM missing; DEALLOCATE PREPARE p; PREPARE p FROM 'SELECT 1'");
  session.anticipate(failed);
  t.same(effectsOf(await analyzer.analyze('EXECUTE p', 'mysql', session)), [['read', 'delete']]);
  t.equal(session.get('p')?.preparedText, undefined, 'two bodies: no one text to trace columns through');
  // Two texts in flight: the earlier one settling leaves what the later one anticipated.
  const a = await changes("PREPARE q FROM 'SELECT 1'");
  const ticketA = session.anticipate(a);
  const b = await changes("PREPARE q FROM 'DELETE FROM t'");
  session.anticipate(b);
  session.settle(a, ticketA);
  t.same(effectsOf(await analyzer.analyze('EXECUTE q', 'mysql', session)), [['read', 'delete']]);
  // DEALLOCATE ALL that ran keeps a name a later text prepared meanwhile.
  const all = await changes('DEALLOCATE PREPARE p');
  const ticketAll = session.anticipate([{ kind: 'deallocate-all' }]);
  const r = await changes("PREPARE r FROM 'SELECT 2'");
  const ticketR = session.anticipate(r);
  session.settle([{ kind: 'deallocate-all' }], ticketAll);
  t.equal(session.get('p'), undefined);
  t.not(session.get('r'), undefined);
  session.settle(r, ticketR);
  t.equal(session.get('r')?.preparedText, 'SELECT 2');
  t.same(
    all.map((c) => c.kind),
    ['deallocate'],
  );
});
