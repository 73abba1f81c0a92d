import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

// `sluice serve` with server.workers: 2, run from the built CLI as a user runs it, in front of the
// local PostgreSQL (trust auth for postgres on 127.0.0.1:5432).
const bin = join(import.meta.dirname, '..', '..', 'bin', 'sluice.js');
const dir = mkdtempSync(join(tmpdir(), 'sluice-workers-'));
const configFile = join(dir, 'sluice.yaml');
writeFileSync(
  configFile,
  `server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  workers: 2
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { allow: [read] }
guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }
recording: { store: file }
state: { dir: ${join(dir, 'state')} }
logging: { level: info }
`,
);

interface Served {
  child: ChildProcess;
  url: string;
  port: number;
  log: () => string;
  exited: Promise<number | null>;
}

async function serve(): Promise<Served> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { url, port } = await new Promise<{ url: string; port: number }>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const http = /HTTP listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      const postgres = /"channel":"postgres","host":"127\.0\.0\.1","port":(\d+)/.exec(log);
      if (http && postgres && /"event":"workers.ready"/.test(log)) {
        resolve({ url: http[1] as string, port: Number(postgres[1]) });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${log}`)));
  });
  return { child, url, port, log: () => log, exited };
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The worker processes of `primary` (Linux: the kernel lists a task's children). */
function workerPids(primary: number): number[] {
  const text = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

/** A CancelRequest on a new connection, as psql sends one on Ctrl-C. */
function sendCancel(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4);
      packet.writeInt32BE(processId, 8);
      packet.writeInt32BE(secretKey, 12);
      socket.end(packet);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

const token = spawnSync(
  process.execPath,
  [bin, 'token', '--config', configFile, '--sub', 'agent-7', '--groups', 'agents'],
  { encoding: 'utf8' },
).stdout.trim();

t.test(
  'two worker processes share the Postgres port, pass cancels between them, and sum their metrics',
  async (t) => {
    t.ok(token.length > 20, 'a token minted offline with the state directory key');
    const served = await serve();
    t.teardown(() => {
      if (served.child.exitCode === null) served.child.kill('SIGKILL');
    });
    const primary = served.child.pid as number;
    t.equal(workerPids(primary).length, 2, 'the primary runs two workers');
    await until(() => [...served.log().matchAll(/"channel":"postgres","host"/g)].length === 2, 5_000);
    const ports = [...served.log().matchAll(/"channel":"postgres","host":"127\.0\.0\.1","port":(\d+)/g)].map(
      (m) => Number(m[1]),
    );
    t.same(
      ports,
      [served.port, served.port],
      'both workers listen on the one Postgres port (port 0 chosen once)',
    );
    t.not(served.port, Number(new URL(served.url).port), 'and not on the HTTP port');

    const clients: pg.Client[] = [];
    for (let i = 0; i < 4; i++) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: served.port,
        user: 'agent-7',
        password: token,
        database: 'pg',
        ssl: false,
      });
      await client.connect();
      clients.push(client);
    }
    for (const client of clients) {
      const { rows } = await client.query('SELECT 1 AS one');
      t.same(rows, [{ one: 1 }]);
    }
    const sessionWorkers = () =>
      [
        ...new Set([...served.log().matchAll(/"worker":(\d),"event":"session\.start"/g)].map((m) => m[1])),
      ].sort();
    await until(() => sessionWorkers().length === 2, 5_000).catch(() => t.comment(served.log()));
    t.same(sessionWorkers(), ['0', '1'], 'connections were spread over both workers');

    // Each cancel arrives on a new connection, which may reach either worker: every one of them
    // must stop its statement, whichever worker holds the session.
    const sleeps = clients.map((client) =>
      client.query('SELECT pg_sleep(30)').then(
        () => 'finished',
        (err: { code?: string }) => err.code,
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    for (const client of clients) {
      const keys = client as unknown as { processID: number; secretKey: number };
      await sendCancel(served.port, keys.processID, keys.secretKey);
    }
    t.same(await Promise.all(sleeps), ['57014', '57014', '57014', '57014'], 'every statement was cancelled');
    t.ok(Date.now() - started < 10_000, 'promptly');

    const metrics = await (await fetch(`${served.url}/metrics`)).text();
    const allowed = /sluice_statements_total\{decision="allow",channel="postgres"\} (\d+)/.exec(metrics);
    t.equal(Number(allowed?.[1]), 8, "/metrics sums both workers' statements (4 selects, 4 sleeps)");
    t.match(metrics, /sluice_recording_ready 2/, 'one recorder per worker, both ready');
    await Promise.all(clients.map((c) => c.end()));

    // A worker that dies is replaced; the gateway keeps serving.
    const [victim] = workerPids(primary);
    process.kill(victim as number, 'SIGKILL');
    await until(
      () =>
        /"event":"workers.ready"[\s\S]*"event":"worker.exit"[\s\S]*"event":"listen","channel":"postgres"/.test(
          served.log(),
        ),
      15_000,
    );
    t.equal(workerPids(primary).length, 2, 'a replacement worker runs');
    t.notOk(workerPids(primary).includes(victim as number));
    for (let i = 0; i < 4; i++) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: served.port,
        user: 'agent-7',
        password: token,
        database: 'pg',
        ssl: false,
      });
      await client.connect();
      const { rows } = await client.query('SELECT 2 AS two');
      t.same(rows, [{ two: 2 }]);
      await client.end();
    }

    const workers = workerPids(primary);
    served.child.kill('SIGTERM');
    t.equal(await served.exited, 0, 'SIGTERM stops the workers and the primary exits 0');
    for (const pid of workers) {
      t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} has exited`);
    }
  },
);

t.test('a worker that cannot start its listeners stops the whole gateway with an error', async (t) => {
  const blocker = spawn(process.execPath, [
    '-e',
    "require('net').createServer().listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
  ]);
  t.teardown(() => blocker.kill());
  const port = await new Promise<number>((resolve) =>
    blocker.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  const file = join(dir, 'taken.yaml');
  writeFileSync(
    file,
    readFileSync(configFile, 'utf8').replace(
      /postgres: \{ listen: 127\.0\.0\.1:0/,
      `postgres: { listen: 127.0.0.1:${port}`,
    ),
  );
  const result = spawnSync(process.execPath, [bin, 'serve', '--config', file], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.equal(result.status, 1, 'exit 1');
  t.match(result.stderr, /exited before it was ready; stopping/);
});
