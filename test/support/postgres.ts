/**
 * Helpers for tests that need the shared local PostgreSQL (127.0.0.1:5432, trust auth, superuser
 * `postgres`). Everything made here has a unique name and is dropped in t.teardown. Changes to
 * pg_hba.conf are made under a cross-process lock (tap runs test files in parallel) and touch only
 * lines tagged with this run's marker.
 *
 *   const db = await createScratchDatabase(t);                      // { name }
 *   const role = await createRole(t, { auth: 'scram-sha-256' });   // { user, password }
 *   const tls = await ensureServerTls();                            // { caPem, wrongCaPem, ... }
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
export const PG_SUPERUSER = 'postgres';

/** The tap test object, narrowed to what these helpers use. */
interface TestLike {
  teardown(fn: () => void | Promise<void>): void;
}

export type AuthMethod = 'trust' | 'password' | 'md5' | 'scram-sha-256';

export function randomSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** Runs statements as the superuser on a short-lived connection (the `postgres` database by default). */
export async function adminQuery(
  sql: string,
  params: unknown[] = [],
  database = 'postgres',
): Promise<pg.QueryResult> {
  const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: PG_SUPERUSER, database });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Creates an empty database with a unique name; dropped (connections forced out) at teardown. */
export async function createScratchDatabase(t: TestLike, prefix = 'sluice_t'): Promise<{ name: string }> {
  const name = `${prefix}_${randomSuffix()}`;
  await adminQuery(`CREATE DATABASE ${quoteIdent(name)}`);
  t.teardown(async () => {
    await adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
  return { name };
}

export interface TestRole {
  user: string;
  password: string;
}

/**
 * Creates a login role whose connections over 127.0.0.1 must use `auth`. For anything but trust, a
 * line for this role alone is put at the top of pg_hba.conf and the server reloaded; the line goes
 * and the role is dropped at teardown. MD5 roles get an md5-stored password, as MD5 auth needs.
 */
export async function createRole(
  t: TestLike,
  options: { auth: AuthMethod; prefix?: string; password?: string; superuser?: boolean } = { auth: 'trust' },
): Promise<TestRole> {
  const user = `${options.prefix ?? 'sluice_t'}_${options.auth.replace(/-/g, '')}_${randomSuffix()}`;
  const password = options.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const encryption = options.auth === 'md5' ? 'md5' : 'scram-sha-256';
  const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: PG_SUPERUSER, database: 'postgres' });
  await client.connect();
  try {
    await client.query(`SET password_encryption = '${encryption}'`);
    const escaped = password.replace(/'/g, "''");
    await client.query(
      `CREATE ROLE ${quoteIdent(user)} LOGIN ${options.superuser ? 'SUPERUSER' : ''} PASSWORD '${escaped}'`,
    );
  } finally {
    await client.end();
  }
  t.teardown(async () => {
    if (options.auth !== 'trust') await removeHbaLines(user);
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
      [user],
    );
    await adminQuery(`DROP ROLE IF EXISTS ${quoteIdent(user)}`);
  });
  if (options.auth !== 'trust') {
    await addHbaLine(user, options.auth);
    await waitUntilPasswordRequired(user);
  }
  return { user, password };
}

const HBA_LOCK = '/tmp/sluice-test-pg-hba.lock';
const LOCK_STALE_MS = 30_000;

/** A cross-process lock: an exclusively created file, taken over when older than a stale process could hold it. */
async function withLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      closeSync(openSync(path, 'wx'));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) unlinkSync(path);
      } catch {
        // gone already: retry
      }
      if (Date.now() - started > 60_000)
        throw new Error(`could not take ${path} within 60 s`, { cause: err });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await work();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // removed as stale by someone else
    }
  }
}

async function hbaFile(): Promise<string> {
  const result = await adminQuery('SHOW hba_file');
  return String(result.rows[0]?.hba_file);
}

function marker(user: string): string {
  return `# sluice-test ${user}`;
}

async function addHbaLine(user: string, method: Exclude<AuthMethod, 'trust'>): Promise<void> {
  const file = await hbaFile();
  await withLock(HBA_LOCK, async () => {
    // Lines left by a test process that died before its teardown name roles that no longer
    // exist; they are dropped here so the file does not grow run after run.
    const roles = new Set(
      (await adminQuery('SELECT rolname FROM pg_roles')).rows.map((r: { rolname: string }) => r.rolname),
    );
    const kept = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => {
        const tagged = /# sluice-test (\S+)$/.exec(l);
        return tagged === null || roles.has(tagged[1] ?? '');
      })
      .join('\n');
    const line = `host all ${user} 127.0.0.1/32 ${method} ${marker(user)}\n`;
    writeFileSync(file, line + kept);
    await adminQuery('SELECT pg_reload_conf()');
  });
}

async function removeHbaLines(user: string): Promise<void> {
  const file = await hbaFile();
  await withLock(HBA_LOCK, async () => {
    const text = readFileSync(file, 'utf8');
    const kept = text
      .split('\n')
      .filter((line) => !line.endsWith(marker(user)))
      .join('\n');
    if (kept !== text) {
      writeFileSync(file, kept);
      await adminQuery('SELECT pg_reload_conf()');
    }
  });
}

/**
 * pg_reload_conf only signals the postmaster; wait until a connection without a password is
 * actually refused for this role, so the test sees the new rule.
 */
async function waitUntilPasswordRequired(user: string): Promise<void> {
  const until = Date.now() + 5_000;
  for (;;) {
    const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user, database: 'postgres', password: 'x' });
    try {
      await client.connect();
      await client.end();
    } catch {
      return;
    }
    if (Date.now() > until) throw new Error(`pg_hba.conf rule for ${user} did not take effect`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface ServerTls {
  dir: string;
  /** PEM of the CA that signed the server certificate (CN/SAN 127.0.0.1 and localhost). */
  caPem: string;
  caFile: string;
  /** PEM of an unrelated CA: verify-full with it must fail. */
  wrongCaPem: string;
}

/** A fixed folder the postgres user can read; the key and certificates are made once and kept. */
const TLS_DIR = '/var/lib/postgresql/sluice-test-tls';
const TLS_LOCK = '/tmp/sluice-test-pg-tls.lock';

/**
 * Makes the shared server accept TLS with a certificate signed by a test CA. Idempotent and safe
 * to call from parallel test files. TLS stays on afterwards: harmless, since clients that do not
 * ask for it (sslmode disable, or trust auth over plain TCP) keep working, and turning it off
 * while another test file uses it would not be.
 */
export async function ensureServerTls(): Promise<ServerTls> {
  return withLock(TLS_LOCK, async () => {
    const caFile = join(TLS_DIR, 'ca.pem');
    const certFile = join(TLS_DIR, 'server.pem');
    const keyFile = join(TLS_DIR, 'server.key');
    const wrongCaFile = join(TLS_DIR, 'wrong-ca.pem');
    if (![caFile, certFile, keyFile, wrongCaFile].every((f) => existsSync(f))) makeCertificates(TLS_DIR);
    const settings = await adminQuery(
      "SELECT name, setting FROM pg_settings WHERE name IN ('ssl', 'ssl_cert_file', 'ssl_key_file')",
    );
    const current = new Map(settings.rows.map((r: { name: string; setting: string }) => [r.name, r.setting]));
    if (
      current.get('ssl') !== 'on' ||
      current.get('ssl_cert_file') !== certFile ||
      current.get('ssl_key_file') !== keyFile
    ) {
      await adminQuery(`ALTER SYSTEM SET ssl_cert_file = '${certFile}'`);
      await adminQuery(`ALTER SYSTEM SET ssl_key_file = '${keyFile}'`);
      await adminQuery('ALTER SYSTEM SET ssl = on');
      await adminQuery('SELECT pg_reload_conf()');
      await waitForTls();
    }
    return {
      dir: TLS_DIR,
      caPem: readFileSync(caFile, 'utf8'),
      caFile,
      wrongCaPem: readFileSync(wrongCaFile, 'utf8'),
    };
  });
}

function makeCertificates(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const subjectAltName = 'subjectAltName=IP:127.0.0.1,DNS:localhost';
  for (const ca of ['ca', 'wrong-ca']) {
    run(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      `/CN=sluice test ${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
    );
  }
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  writeFileSync(join(dir, 'server.ext'), `${subjectAltName}\n`);
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '3650',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  );
  // The server refuses a key readable by others; it must belong to the postgres user.
  const owner = statSync('/var/lib/postgresql');
  for (const file of ['server.key', 'server.pem', 'ca.pem', 'wrong-ca.pem'])
    chownSync(join(dir, file), owner.uid, owner.gid);
  chownSync(dir, owner.uid, owner.gid);
  execFileSync('chmod', ['600', join(dir, 'server.key')]);
}

async function waitForTls(): Promise<void> {
  const until = Date.now() + 5_000;
  for (;;) {
    const client = new pg.Client({
      host: PG_HOST,
      port: PG_PORT,
      user: PG_SUPERUSER,
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      if (Date.now() > until)
        throw new Error(`the server did not turn TLS on: ${(err as Error).message}`, { cause: err });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
