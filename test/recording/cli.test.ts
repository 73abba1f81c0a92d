import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { runRecordings } from '../../src/cli/recordings.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createRecorder } from '../../src/recording/create.js';
import { sessionFileName } from '../../src/recording/file-store.js';
import { RecordingKeys } from '../../src/recording/redis-keys.js';
import type { SessionContext } from '../../src/gateway/types.js';
import type { Recorder } from '../../src/recording/types.js';
import { REDIS_URL, capturingLogger, recordingConfigText, sessionContext } from './fixtures/helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions walk free-form OCSF JSON
type OcsfRecord = Record<string, any>;

async function run(
  argv: string[],
  opts: { isTTY?: boolean; stdoutIsTTY?: boolean; env?: NodeJS.ProcessEnv } = {},
) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await runRecordings(argv, {
    stdout,
    stderr,
    env: opts.env ?? {},
    isTTY: opts.isTTY,
    stdoutIsTTY: opts.stdoutIsTTY,
  });
  return { code, out, err };
}

/** Two sessions: an allowed select with masked rows, and a denied drop plus an approval. */
async function recordSample(
  recorder: Recorder,
  sessions: [SessionContext, SessionContext],
  starts = [Date.parse('2026-05-01T10:00:00Z'), Date.parse('2026-05-02T10:00:00Z')],
): Promise<void> {
  const [a, b] = sessions;
  const ra = recorder.startSession({ session: a, startedAt: starts[0] });
  ra.onStatement({ statementId: 'q1', sql: 'select id, email from customers' });
  ra.onDecision({
    statementId: 'q1',
    action: 'allow',
    reason: 'read is allowed',
    rule: 'agents: allow read',
    effects: ['read'],
    objects: ['customers'],
  });
  ra.onColumns({
    statementId: 'q1',
    columns: [
      { name: 'id', type: 'int4', masked: false },
      { name: 'email', type: 'text', masked: true },
    ],
  });
  ra.onRows('q1', [
    [1, 'a***@example.com'],
    [2, 'b***@example.com'],
  ]);
  ra.onResultEnd({ statementId: 'q1', rowCount: 2, truncated: false, command: 'SELECT 2', durationMs: 1.25 });
  ra.onSessionEnd({ reason: 'client closed' });

  const rb = recorder.startSession({ session: b, startedAt: starts[1] });
  rb.onStatement({ statementId: 'd1', sql: 'drop table customers' });
  rb.onDecision({
    statementId: 'd1',
    action: 'deny',
    reason: 'ddl is denied',
    rule: 'agents: deny ddl',
    effects: ['ddl'],
    objects: ['customers'],
  });
  rb.onStatement({ statementId: 'u1', sql: "update customers set email = 'x' where id = 1" });
  rb.onDecision({
    statementId: 'u1',
    action: 'review',
    reason: 'writes need review',
    rule: 'agents: review write',
    effects: ['write'],
    objects: ['customers'],
  });
  rb.onApproval({
    statementId: 'u1',
    requestId: 'req-1',
    state: 'approved',
    by: 'dba-ann',
    reason: 'ticket 42',
  });
  rb.onResultEnd({ statementId: 'u1', rowCount: 1, truncated: false, command: 'UPDATE 1', durationMs: 2 });
  rb.onError({ code: 'ERR_IDLE', message: 'idle timeout' });
  await recorder.flush();
}

t.test('recordings over the file store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-cli-'));
  const configPath = join(dir, 'sluice.yaml');
  writeFileSync(configPath, recordingConfigText('store: file\nfile: { dir: recs }'));
  const { logger } = capturingLogger();
  const recorder = createRecorder(loadConfigFile(configPath), logger);
  const a = sessionContext({
    identity: { subject: 'agent-a', groups: ['ai-agents'], issuer: 'https://idp', via: 'oidc' },
  });
  const b = sessionContext({ target: 'legacy', channel: 'postgres', remote: '[::1]:5433' });
  await recordSample(recorder, [a, b]);
  await recorder.close();
  const cfg = ['--config', configPath];

  await t.test('help and usage errors', async (t) => {
    const help = await run(['--help']);
    t.equal(help.code, 0);
    t.match(help.out, /Usage: sluice recordings <command>/);
    t.match(await run(['frobnicate', ...cfg]), { code: 2, err: /unknown command "frobnicate"/ });
    t.match(await run([...cfg]), { code: 2, err: /a command is required/ });
    t.match(await run(['export', '--format', 'xml', ...cfg]), {
      code: 2,
      err: /--format: expected one of jsonl, csv, ocsf/,
    });
    t.match(await run(['list', '--format', 'csv', ...cfg]), { code: 2, err: /export only/ });
    t.match(await run(['list', 'extra', ...cfg]), { code: 2, err: /unexpected argument "extra"/ });
    t.match(await run(['list', '--since', 'yesterday', ...cfg]), {
      code: 2,
      err: /--since: expected an ISO time/,
    });
    t.match(await run(['list', '--bogus', ...cfg]), { code: 2, err: /bogus/ });
    t.match(await run(['list', '--config', join(dir, 'missing.yaml')]), {
      code: 1,
      err: /missing\.yaml: cannot read the configuration file/,
    });
    t.match(await run(['list'], { env: { SLUICE_CONFIG: join(dir, 'nope.yaml') } }), {
      code: 1,
      err: /nope\.yaml/,
    });
    t.match(await run(['show', '--session', 'no-such', ...cfg]), {
      code: 1,
      err: /no recording of session no-such/,
    });
  });

  await t.test('list prints one session a line and applies the filters', async (t) => {
    const all = await run(['list', ...cfg]);
    t.equal(all.code, 0);
    const lines = all.out.trim().split('\n');
    t.equal(lines.length, 2);
    t.same(lines[0]?.split('\t'), [
      a.id,
      '2026-05-01T10:00:00.000Z',
      'agent-a',
      'orders',
      'mcp-http',
      '7 events',
    ]);
    t.match(lines[1], /legacy\tpostgres\t8 events$/, 'a session not yet ended counts its events');
    const tty = await run(['list', ...cfg], { stdoutIsTTY: true });
    t.equal(
      tty.out.split('\n')[0],
      'session\tstarted\tsubject\ttarget\tchannel\tevents',
      'a header line on a terminal, none when piped',
    );
    t.equal((await run(['list', '--identity', 'agent-a', ...cfg])).out.trim().split('\n').length, 1);
    t.match((await run(['list', '--target', 'legacy', ...cfg])).out, b.id);
    t.equal(
      (await run(['list', '--since', '2026-05-02T00:00:00Z', ...cfg])).out.trim().split('\n').length,
      1,
    );
    t.equal(
      (await run(['list', '--until', String(Date.parse('2026-05-01T12:00:00Z')), ...cfg])).out
        .trim()
        .split('\n').length,
      1,
    );
    t.equal((await run(['list', '--since', '1h', ...cfg])).out, '', 'an age counts back from now');
  });

  await t.test('show prints every event of a session', async (t) => {
    const shown = await run(['show', '--session', a.id, ...cfg]);
    t.equal(shown.code, 0);
    const lines = shown.out.trim().split('\n');
    t.equal(lines.length, 7);
    t.match(lines[0], `${a.id} #1 2026-05-01T10:00:00.000Z session.start`);
    t.match(lines[4], /result\.rows .*a\*\*\*@example\.com/);
  });

  await t.test('replay prints a psql-like transcript', async (t) => {
    const { code, out } = await run(['replay', ...cfg]);
    t.equal(code, 0);
    t.match(out, `-- session ${a.id}: agent-a [ai-agents] → orders over mcp-http from 127.0.0.1:50000`);
    t.match(
      out,
      /orders=> select id, email from customers\n-- ALLOW by agents: allow read: read is allowed\n/,
    );
    t.match(
      out,
      / id \| email \(masked\)\s*\n----\+-+\n 1 {2}\| a\*\*\*@example\.com\s*\n 2 {2}\| b\*\*\*@example\.com/,
    );
    t.match(out, /\(2 rows\)\nTime: 1\.250 ms/);
    t.match(out, /legacy=> drop table customers\n-- DENY by agents: deny ddl: ddl is denied/);
    t.match(out, /-- approval req-1: approved by dba-ann \(ticket 42\)\nUPDATE 1\nTime: 2\.000 ms/);
    t.match(out, /ERROR: ERR_IDLE: idle timeout/);
    t.match(out, /-- session ended \(client closed\)/);
  });

  await t.test('export jsonl streams the stored events to stdout', async (t) => {
    const { code, out } = await run(['export', '--session', a.id, ...cfg]);
    t.equal(code, 0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; hash: string });
    t.same(
      events.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6, 7],
    );
    t.equal(events[0]?.hash.length, 64);
  });

  await t.test('export csv to a file draws progress on a terminal only', async (t) => {
    const file = join(dir, 'out.csv');
    const tty = await run(['export', '--format', 'csv', '--output', file, ...cfg], { isTTY: true });
    t.equal(tty.code, 0);
    t.match(tty.err, /\r\[#+\] 2\/2 sessions, 15 events\n/);
    t.match(tty.err, `exported 15 events of 2 sessions to ${file}`);
    const csv = readFileSync(file, 'utf8').split('\r\n');
    t.equal(csv[0], 'session,seq,time,type,subject,target,statement_id,detail,hash');
    t.equal(csv.length, 17, 'header, 15 records, and the final line break');
    t.match(
      csv[5],
      new RegExp(
        `^${a.id},5,[-0-9T:.]+Z,result\\.rows,agent-a,orders,q1,"\\{""offset"":0,""rows"":\\[\\[1,""a\\*\\*\\*@example\\.com""\\]`,
      ),
    );
    const plain = await run(['export', '--format', 'csv', '--output', file, ...cfg]);
    t.notMatch(plain.err, /\[#/, 'no progress bar without a terminal');
    const piped = await run(['export', '--format', 'csv', ...cfg], { isTTY: true });
    t.notMatch(piped.err, /\[#/, 'no progress bar when writing to stdout');
    t.match(piped.out, /^session,seq,time/);
  });

  await t.test('export ocsf maps sessions and statements to Datastore Activity records', async (t) => {
    const { code, out } = await run(['export', '--format', 'ocsf', ...cfg]);
    t.equal(code, 0);
    const records = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as OcsfRecord);
    for (const r of records) {
      t.equal(r.class_uid, 6005);
      t.equal(r.category_uid, 6);
      t.equal(r.type_uid, 600500 + r.activity_id);
      t.equal(r.metadata.product.name, 'Sluice');
      t.equal(typeof r.time, 'number');
    }
    const connect = records[0];
    t.match(connect, {
      activity_id: 3,
      activity_name: 'Connect',
      actor: { user: { name: 'agent-a' } },
      src_endpoint: { ip: '127.0.0.1', port: 50000 },
    });
    const select = records.find((r) => r.query_info?.uid === 'q1');
    t.match(select, {
      activity_id: 4,
      status: 'Success',
      disposition: 'Allowed',
      database: { name: 'orders' },
      query_info: { query_string: 'select id, email from customers' },
      duration: 1,
      unmapped: { row_count: 2, command: 'SELECT 2' },
    });
    const drop = records.find((r) => r.query_info?.uid === 'd1');
    t.match(drop, {
      activity_id: 7,
      status: 'Failure',
      disposition_id: 2,
      disposition: 'Blocked',
      message: /denied: ddl is denied/,
    });
    const update = records.find((r) => r.query_info?.uid === 'u1');
    t.match(update, {
      activity_id: 2,
      status_id: 1,
      unmapped: { approvals: [{ state: 'approved', by: 'dba-ann' }] },
    });
    t.match(
      records.find((r) => /ERR_IDLE/.test(r.message)),
      { activity_id: 99, status: 'Failure', src_endpoint: { ip: '::1', port: 5433 } },
    );
  });

  await t.test('verify passes intact chains and names the first broken event', async (t) => {
    const ok = await run(['verify', ...cfg]);
    t.equal(ok.code, 0);
    t.match(ok.out, `OK ${a.id} 7 events\nOK ${b.id} 8 events\n`);

    const path = join(dir, 'recs', sessionFileName(a.id));
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace('a***@example.com', 'alice@example.com'));
    const tampered = await run(['verify', ...cfg]);
    t.equal(tampered.code, 1);
    t.match(tampered.out, `BROKEN ${a.id} at event seq 5: hash does not match the content`);
    t.match(tampered.out, `OK ${b.id}`);
    t.match(tampered.err, /1 of 2 sessions have a broken chain/);

    writeFileSync(path, original.split('\n').slice(0, 3).join('\n') + '\n');
    const cut = await run(['verify', '--session', a.id, ...cfg]);
    t.match(cut, {
      code: 1,
      out: /BROKEN .* at event seq 4: the store recorded 7 events, only 3 are present/,
    });

    const lines = original.split('\n');
    lines[2] = '{not json';
    writeFileSync(path, lines.join('\n'));
    const garbled = await run(['verify', '--session', a.id, ...cfg]);
    t.match(garbled, { code: 1, out: /BROKEN .* at event seq 3: .*not valid JSON/ });
    writeFileSync(path, original);
  });
});

t.test('recordings over the Redis store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-cli-'));
  const configPath = join(dir, 'sluice.yaml');
  writeFileSync(configPath, recordingConfigText(`store: redis\nredis: { url: "${REDIS_URL}" }`));
  // The command reads the default key prefix, so this test isolates itself by subject and target.
  const tag = randomBytes(6).toString('hex');
  const a = sessionContext({
    identity: { subject: `agent-${tag}`, groups: ['g'], issuer: 'https://idp', via: 'oidc' },
    target: `t-${tag}`,
  });
  const b = sessionContext({
    identity: { subject: `other-${tag}`, groups: ['g'], issuer: 'https://idp', via: 'oidc' },
    target: `t-${tag}`,
  });
  const admin = new Redis(REDIS_URL, { protocol: 2 });
  t.teardown(async () => {
    const keys = new RecordingKeys();
    await admin.del(keys.events(a.id), keys.events(b.id), keys.meta(a.id), keys.meta(b.id));
    await admin.del(
      keys.byIdentity(a.identity.subject),
      keys.byIdentity(b.identity.subject),
      keys.byTarget(a.target),
    );
    await admin.zrem(keys.byTime(), a.id, b.id);
    admin.disconnect();
  });
  const { logger } = capturingLogger();
  const recorder = createRecorder(loadConfigFile(configPath), logger);
  // Recent start times: the index keeps only sessions within the retention.
  await recordSample(recorder, [a, b], [Date.now() - 1000, Date.now()]);
  await recorder.close();
  const cfg = ['--config', configPath];

  const listed = await run(['list', '--target', a.target, ...cfg]);
  t.equal(listed.code, 0);
  t.equal(listed.out.trim().split('\n').length, 2);
  t.match((await run(['list', '--identity', a.identity.subject, ...cfg])).out, a.id);
  t.match(await run(['verify', '--target', a.target, ...cfg]), {
    code: 0,
    out: new RegExp(`OK ${a.id} 7 events\\nOK ${b.id} 8 events`),
  });

  await admin.xdel(new RecordingKeys().events(b.id), '8-0');
  t.match(await run(['verify', '--session', b.id, ...cfg]), {
    code: 1,
    out: `BROKEN ${b.id} at event seq 8: the store recorded 8 events, only 7 are present`,
  });
  t.match((await run(['replay', '--session', a.id, ...cfg])).out, /\(2 rows\)/);
});

t.test('reading a Redis that is not there fails with exit 1 and says why', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-cli-'));
  const configPath = join(dir, 'sluice.yaml');
  writeFileSync(configPath, recordingConfigText('store: redis\nredis: { url: "redis://127.0.0.1:1" }'));
  const result = await run(['list', '--config', configPath]);
  t.equal(result.code, 1);
  t.match(result.err, /sluice recordings: .+/);
});
