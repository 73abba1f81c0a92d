import t from 'tap';
import { PgClientError, PgConnection, PgPool } from '../../../protocols/postgres/client/index.js';
import { PG_HOST, PG_PORT, PG_SUPERUSER } from '../../support/postgres.js';

function pool(max: number, extra: { idleTimeoutMs?: number } = {}) {
  let opened = 0;
  const p = new PgPool({
    max,
    ...extra,
    connect: () => {
      opened++;
      return PgConnection.connect({
        host: PG_HOST,
        port: PG_PORT,
        user: PG_SUPERUSER,
        database: 'postgres',
        tls: 'disable',
      });
    },
  });
  return { pool: p, opened: () => opened };
}

async function backendPid(conn: PgConnection): Promise<string | null | undefined> {
  let pid: string | null | undefined;
  await conn.query('SELECT pg_backend_pid()', { row: (v) => void (pid = v[0]) });
  return pid;
}

t.test('an idle connection is reused', async (t) => {
  const { pool: p, opened } = pool(2);
  t.teardown(() => p.close());
  const first = await p.use(backendPid);
  const second = await p.use(backendPid);
  t.equal(first, second);
  t.equal(opened(), 1);
  t.equal(p.idleCount, 1);
});

t.test('no more than max connections open; waiters get released ones in order', async (t) => {
  const { pool: p, opened } = pool(2);
  t.teardown(() => p.close());
  const a = await p.acquire();
  const b = await p.acquire();
  t.equal(p.size, 2);
  const order: string[] = [];
  const c = p.acquire().then((conn) => {
    order.push('c');
    return conn;
  });
  const d = p.acquire().then((conn) => {
    order.push('d');
    return conn;
  });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(p.waitingCount, 2);
  t.same(order, []);
  p.release(a);
  t.equal(await c, a);
  p.release(b);
  t.equal(await d, b);
  t.same(order, ['c', 'd']);
  t.equal(opened(), 2);
  p.release(a);
  p.release(b);
});

t.test('a connection left in a transaction or with session state is discarded on release', async (t) => {
  const { pool: p, opened } = pool(1);
  t.teardown(() => p.close());
  const pid1 = await p.use(async (conn) => {
    await conn.query('BEGIN', {});
    return backendPid(conn);
  });
  t.equal(p.idleCount, 0);
  const pid2 = await p.use(async (conn) => {
    await conn.query("SET application_name = 'x'", {});
    return backendPid(conn);
  });
  const pid3 = await p.use(backendPid);
  t.not(pid1, pid2);
  t.not(pid2, pid3);
  t.equal(opened(), 3);
});

t.test(
  'a connection whose query was cancelled is discarded; one whose query errored is reused',
  async (t) => {
    const { pool: p } = pool(1);
    t.teardown(() => p.close());
    const errored = await p.use(async (conn) => {
      await conn.query('SELECT 1/0', {}).catch(() => undefined);
      return backendPid(conn);
    });
    t.equal(await p.use(backendPid), errored, 'a plain error leaves the connection clean');
    const cancelled = await p.use(async (conn) => {
      const pid = await backendPid(conn);
      await conn.query('SELECT pg_sleep(5)', {}, { timeoutMs: 50 }).catch(() => undefined);
      return pid;
    });
    t.not(await p.use(backendPid), cancelled);
  },
);

t.test('a broken idle connection is skipped at acquire', async (t) => {
  const { pool: p, opened } = pool(1);
  t.teardown(() => p.close());
  const conn = await p.acquire();
  p.release(conn);
  conn.destroy();
  const fresh = await p.acquire();
  t.not(fresh, conn);
  t.equal(opened(), 2);
  p.release(fresh);
});

t.test('a failed connect frees its slot for the next waiter', async (t) => {
  let attempts = 0;
  const p = new PgPool({
    max: 1,
    connect: () => {
      attempts++;
      if (attempts === 1) return Promise.reject(new PgClientError('ERR_PG_UNREACHABLE', 'down'));
      return PgConnection.connect({
        host: PG_HOST,
        port: PG_PORT,
        user: PG_SUPERUSER,
        database: 'postgres',
        tls: 'disable',
      });
    },
  });
  t.teardown(() => p.close());
  const first = p.acquire();
  const second = p.acquire();
  await t.rejects(first, { code: 'ERR_PG_UNREACHABLE' });
  const conn = await second;
  t.equal(conn.state, 'idle');
  t.equal(p.size, 1);
  p.release(conn);
});

t.test('aborting a waiting acquire removes it from the queue', async (t) => {
  const { pool: p } = pool(1);
  t.teardown(() => p.close());
  const held = await p.acquire();
  const controller = new AbortController();
  const waiting = p.acquire(controller.signal);
  controller.abort();
  await t.rejects(waiting, { code: 'ERR_PG_QUERY_CANCELLED' });
  t.equal(p.waitingCount, 0);
  await t.rejects(p.acquire(AbortSignal.abort()), { code: 'ERR_PG_QUERY_CANCELLED' });
  p.release(held);
});

t.test('idle connections close after the idle timeout', async (t) => {
  const { pool: p } = pool(1, { idleTimeoutMs: 50 });
  t.teardown(() => p.close());
  const conn = await p.acquire();
  p.release(conn);
  t.equal(p.idleCount, 1);
  await new Promise((r) => setTimeout(r, 150));
  t.equal(p.idleCount, 0);
  t.equal(conn.state, 'closed');
});

t.test(
  'closing the pool ends idle connections, rejects waiters and closes busy ones on release',
  async (t) => {
    const { pool: p } = pool(1);
    const busy = await p.acquire();
    const waiting = p.acquire();
    await p.close();
    await t.rejects(waiting, { code: 'ERR_PG_POOL_CLOSED' });
    await t.rejects(p.acquire(), { code: 'ERR_PG_POOL_CLOSED' });
    p.release(busy);
    await new Promise((r) => setTimeout(r, 50));
    t.equal(busy.state, 'closed');
    await p.close();
  },
);

t.test('a pool needs a positive max', async (t) => {
  t.throws(() => new PgPool({ max: 0, connect: () => Promise.reject(new Error('unused')) }), RangeError);
});
