import t from 'tap';
import { serialize } from 'pg-protocol/dist/serializer';
import { startHarness } from './postgres-listener-harness.js';
import { RawClient, sqlstate } from './postgres-raw-client.js';

// Session state that follows from a statement (a cursor's lineage, a prepared statement's body) is
// taken up only when the target confirms it: a DECLARE or Parse the target refuses changes nothing.
const h = await startHarness(t);
const RAW_SSN = ['123-45-6789', '987-65-4321'];

function leaks(text: string): string[] {
  return RAW_SSN.filter((v) => text.includes(v) || text.includes(v.replace(/-/g, '')));
}

t.test('a refused second DECLARE of a held cursor leaves the first one masked', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  await client.query("DECLARE c CURSOR WITH HOLD FOR SELECT id, ssn || '' AS s FROM customers ORDER BY id");
  await t.rejects(client.query("DECLARE c CURSOR WITH HOLD FOR SELECT 1 AS id, 'x' AS s"), { code: '42P03' });
  const rows = await client.query('FETCH ALL FROM c');
  t.equal(rows.rows.length, 3);
  t.same(leaks(JSON.stringify(rows.rows)), [], 'no raw ssn');
  t.equal(rows.rows[2].s, null, 'the NULL stays NULL');
  await client.query('CLOSE c');
});

t.test('a refused DECLARE inside a savepoint does not replace the live cursor', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  await client.query('BEGIN');
  await client.query("DECLARE c CURSOR FOR SELECT id, ssn || '' AS s FROM customers ORDER BY id");
  await client.query('SAVEPOINT s');
  await t.rejects(client.query("DECLARE c CURSOR FOR SELECT 1 AS id, 'x' AS s"), { code: '42P03' });
  await client.query('ROLLBACK TO SAVEPOINT s');
  const rows = await client.query('FETCH ALL FROM c');
  t.equal(rows.rows.length, 3);
  t.same(leaks(JSON.stringify(rows.rows)), [], 'no raw ssn');
  await client.query('COMMIT');
});

t.test('a cursor declared again after CLOSE is masked by its new lineage', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  await client.query('BEGIN');
  await client.query("DECLARE c CURSOR FOR SELECT 'x' AS s");
  await client.query('CLOSE c');
  await client.query("DECLARE c CURSOR FOR SELECT ssn || '' AS s FROM customers ORDER BY id");
  const rows = await client.query('FETCH ALL FROM c');
  t.same(leaks(JSON.stringify(rows.rows)), [], 'no raw ssn');
  await client.query('COMMIT');
});

t.test('extended protocol: a Parse the target refuses keeps the old statement and its masking', async (t) => {
  const client = await RawClient.login(h.port, h.token);
  t.teardown(() => client.close());
  client.send(
    Buffer.concat([
      serialize.parse({ name: 's1', text: "SELECT ssn || '' AS s FROM customers ORDER BY id" }),
      serialize.sync(),
    ]),
  );
  const first = await client.until('Z');
  t.ok(
    first.some(([type]) => type === '1'),
    'ParseComplete',
  );
  // The same name again (Postgres refuses it, 42P05), then in a new pipeline a Bind of it.
  client.send(
    Buffer.concat([serialize.parse({ name: 's1', text: "SELECT 'x'::text AS s" }), serialize.sync()]),
  );
  const refused = await client.until('Z');
  const error = refused.find(([type]) => type === 'E');
  t.ok(error, 'the target refused the second Parse');
  t.equal(error ? sqlstate(error[1]) : undefined, '42P05');
  client.send(
    Buffer.concat([
      serialize.bind({ statement: 's1' }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]),
  );
  const answer = await client.until('Z');
  const all = answer.map(([, body]) => body.toString('latin1')).join('|');
  t.ok(
    answer.some(([type]) => type === 'D'),
    'rows came back',
  );
  t.same(leaks(all), [], 'no raw ssn in anything the client received');
});

t.test('extended protocol: two Parses of one name in a failed pipeline restore the name', async (t) => {
  const client = await RawClient.login(h.port, h.token);
  t.teardown(() => client.close());
  client.send(
    Buffer.concat([
      serialize.parse({ name: 's2', text: "SELECT ssn || '' AS s FROM customers ORDER BY id" }),
      serialize.sync(),
    ]),
  );
  await client.until('Z');
  client.send(
    Buffer.concat([
      serialize.parse({ name: 's2', text: "SELECT 'x'::text AS s" }),
      serialize.parse({ name: 's2', text: "SELECT 'y'::text AS s" }),
      serialize.sync(),
    ]),
  );
  await client.until('Z');
  client.send(Buffer.concat([serialize.bind({ statement: 's2' }), serialize.execute({}), serialize.sync()]));
  const answer = await client.until('Z');
  t.ok(
    answer.some(([type]) => type === 'D'),
    'rows came back',
  );
  t.same(leaks(answer.map(([, body]) => body.toString('latin1')).join('|')), [], 'no raw ssn');
});
