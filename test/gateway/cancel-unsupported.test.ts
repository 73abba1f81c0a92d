import t from 'tap';
import type pg from 'pg';
import { sendCancelRequest } from '../../protocols/postgres/client/index.js';
import { startHarness } from './postgres-listener-harness.js';

/**
 * A target marked `cancel: false` (the demo's embedded Postgres cannot cancel): a client's
 * CancelRequest is answered on its session with a NOTICE saying the statement runs on, instead
 * of a silent wait; the statement then ends normally. A target that can cancel still does.
 */
const pgSleep = 'guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }';
const cannot = await startHarness(t, { target: 'cancel: false', extra: pgSleep });
const can = await startHarness(t, { extra: pgSleep });

function keyOf(client: pg.Client): { processId: number; secretKey: number } {
  const c = client as unknown as { processID: number; secretKey: number };
  return { processId: c.processID, secretKey: c.secretKey };
}

t.test('cancel: false answers a cancel with a NOTICE; the statement runs to its end', async (t) => {
  const client = await cannot.client();
  t.teardown(() => client.end());
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  const running = client.query("SELECT pg_sleep(1.2)::text AS slept, 'yes' AS done");
  await new Promise((r) => setTimeout(r, 300));
  await sendCancelRequest('127.0.0.1', cannot.port, keyOf(client));
  const result = await running;
  t.same(result.rows, [{ slept: '', done: 'yes' }], 'the statement ended normally');
  t.match(
    notices.join('\n'),
    /cancel requested, but database "shop" cannot cancel a running statement: it runs until it ends or reaches the statement timeout \(\d+s\)/,
  );
});

t.test('a target that can cancel still cancels (57014)', async (t) => {
  const client = await can.client();
  t.teardown(() => client.end());
  const running = client.query('SELECT pg_sleep(5)');
  await new Promise((r) => setTimeout(r, 300));
  await sendCancelRequest('127.0.0.1', can.port, keyOf(client));
  await t.rejects(running, { code: '57014' });
});
