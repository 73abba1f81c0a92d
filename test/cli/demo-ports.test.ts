import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

function demo(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-ports-'));
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, 'demo', '--dir', dir, '--redis', 'off', ...args],
      { encoding: 'utf8', timeout: 30_000 },
      (err, _stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          stderr,
          ms: Date.now() - started,
        }),
    );
  });
}

t.test('a taken HTTP port is named, with its flag, before the embedded Postgres starts', async (t) => {
  const { server, port } = await occupy();
  t.teardown(() => server.close());
  const run = await demo(['--http-port', String(port), '--pg-port', '0']);
  t.equal(run.code, 1, 'exits non-zero');
  t.match(run.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(HTTP[^)]*\\) is already in use`));
  t.match(run.stderr, /--http-port/);
  t.ok(run.ms < 10_000, `answers at once (${run.ms} ms), not after the embedded Postgres`);
});

t.test('a taken Postgres listener port is named with --pg-port', async (t) => {
  const { server, port } = await occupy();
  t.teardown(() => server.close());
  const run = await demo(['--http-port', '0', '--pg-port', String(port)]);
  t.equal(run.code, 1);
  t.match(run.stderr, new RegExp(`port ${port} .*Postgres listener.* already in use.*--pg-port`));
});

t.test('a port that is not a number is refused with exit 2', async (t) => {
  const run = await demo(['--http-port', 'eighty']);
  t.equal(run.code, 2);
  t.match(run.stderr, /--http-port must be a port number \(0-65535\), got "eighty"/);
});
