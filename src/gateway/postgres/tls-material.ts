import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../../config/load.js';

const run = promisify(execFile);

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate (what a client pins or compares). */
  fingerprint: string;
  /** Where it came from: the configured files, or a pair made by Sluice. */
  source: 'configured' | 'generated';
}

/**
 * The TLS pair of the wire listeners (Postgres and MySQL share it): `server.tls` when configured,
 * else a self-signed pair in the state directory, made once with openssl (P-256, a year) and
 * reused after (its file names date from when only the Postgres listener had TLS). Its fingerprint
 * is logged so that a client using sslmode=require can compare what it was shown.
 */
export async function loadListenerTls(config: Config, logger: Logger): Promise<TlsMaterial> {
  if (config.server.tls) {
    const certPath = resolve(config.baseDir, config.server.tls.cert);
    const keyPath = resolve(config.baseDir, config.server.tls.key);
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    return { cert, key, fingerprint: fingerprintOf(cert), source: 'configured' };
  }
  const dir = join(resolve(config.baseDir, config.state.dir), 'tls');
  const certPath = join(dir, 'postgres-cert.pem');
  const keyPath = join(dir, 'postgres-key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '365',
      '-subj',
      '/CN=sluice',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ]);
    logger.info(
      { event: 'tls.generated', cert: certPath },
      'generated a self-signed certificate for the wire listeners',
    );
  }
  const cert = readFileSync(certPath, 'utf8');
  const key = readFileSync(keyPath, 'utf8');
  return { cert, key, fingerprint: fingerprintOf(cert), source: 'generated' };
}

function fingerprintOf(cert: string): string {
  return new X509Certificate(cert).fingerprint256;
}
