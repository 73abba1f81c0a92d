import t from 'tap';
import { startHarness } from './postgres-listener-harness.js';

const h = await startHarness(t);

t.test('psql -c SELECT through the listener prints the rows with masked columns', async (t) => {
  const out = await h.psql(['-A', '-c', 'SELECT id, name, email, ssn FROM customers ORDER BY id']);
  t.equal(out.code, 0, out.stderr);
  t.equal(
    out.stdout,
    'id|name|email|ssn\n1|Ada|****@example.com|****\n2|Bob|****@example.org|****\n3|Cy||\n(3 rows)\n',
  );
  t.notMatch(out.stdout, /ada@|123-45/);
});
