/**
 * The SCRAM server against node-postgres's SCRAM client (its own implementation of RFC 5802),
 * and the tls-server-end-point hash of certificates of each signature algorithm.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ScramRefusal, ScramServer, tlsServerEndPoint } from '../../../protocols/postgres/server/scram.js';

interface Session {
  mechanism: string;
  response: string;
}
const sasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as {
  startSession(mechanisms: string[]): Session;
  continueSession(session: Session, password: string, serverData: string): Promise<void>;
  finalizeSession(session: Session, serverData: string): void;
};

t.test('a client that knows the password logs in and checks the server signature', async (t) => {
  const server = new ScramServer('header.payload.signature', Buffer.alloc(16, 7));
  t.same(server.mechanisms, ['SCRAM-SHA-256'], 'no -PLUS without a binding');
  const client = sasl.startSession([...server.mechanisms]);
  const serverFirst = server.first(client.mechanism, Buffer.from(client.response)).toString();
  t.match(serverFirst, /^r=[^,]+,s=BwcHBwcHBwcHBwcHBwcHBw==,i=4096$/);
  await sasl.continueSession(client, 'header.payload.signature', serverFirst);
  const serverFinal = (await server.final(Buffer.from(client.response))).toString();
  t.doesNotThrow(() => sasl.finalizeSession(client, serverFinal), 'the server proved it knows the password');
});

t.test('a client with another password is refused, and the exchange cannot be replayed', async (t) => {
  const server = new ScramServer('right', Buffer.alloc(16, 1));
  const client = sasl.startSession(['SCRAM-SHA-256']);
  const serverFirst = server.first(client.mechanism, Buffer.from(client.response)).toString();
  await sasl.continueSession(client, 'wrong', serverFirst);
  const refusal = (response: string) =>
    server.final(Buffer.from(response)).then(
      () => 'accepted',
      (e: ScramRefusal) => e.kind,
    );
  t.equal(await refusal(client.response), 'proof');
  t.equal(await refusal(client.response), 'protocol', 'one final message');
  t.throws(() => new ScramServer('not ascii ü', Buffer.alloc(16)), TypeError);
});

t.test(
  'tls-server-end-point takes the hash of the signature algorithm (SHA-1 and MD5 become SHA-256)',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-scram-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const cert = (name: string, args: string[]): Buffer => {
      const out = join(dir, `${name}.pem`);
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=t',
          '-keyout',
          join(dir, `${name}.key`),
          '-out',
          out,
          ...args,
        ],
        { stdio: 'ignore' },
      );
      return new X509Certificate(readFileSync(out)).raw;
    };
    const cases: [string, string[], string | undefined][] = [
      ['ec256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-sha256'], 'sha256'],
      ['ec384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-sha384'], 'sha384'],
      ['rsa512', ['-newkey', 'rsa:2048', '-sha512'], 'sha512'],
      ['rsa1', ['-newkey', 'rsa:2048', '-sha1'], 'sha256'],
      ['ed25519', ['-newkey', 'ed25519'], undefined],
    ];
    for (const [name, args, hash] of cases) {
      const der = cert(name, args);
      const bound = tlsServerEndPoint(der);
      if (hash === undefined) t.equal(bound, undefined, `${name}: no binding`);
      else t.same(bound, createHash(hash).update(der).digest(), `${name}: ${hash}`);
    }
    t.equal(tlsServerEndPoint(Buffer.from('not a certificate')), undefined);
    t.equal(tlsServerEndPoint(Buffer.alloc(0)), undefined);
  },
);
