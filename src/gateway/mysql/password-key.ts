import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { passwordKeyFromPem, type PasswordKey } from '../../../protocols/mysql/server/index.js';
import type { Config } from '../../config/load.js';
import { readStateFile, writeStateFileOnce } from '../../config/state-file.js';

export const PASSWORD_KEY_FILE = 'mysql-password-key.pem';

/**
 * Large enough for a Sluice token (about 450-500 bytes) and a modest OIDC token: RSA-OAEP with a
 * 6144-bit key carries 725 bytes. Made once and kept in the state directory.
 */
const MODULUS_BITS = 6144;
/**
 * Four primes of 1536 bits (the most OpenSSL allows for this size): made in about a second where
 * two primes take several, and as hard to factor as the modulus for any method known.
 */
const PRIMES = 4;

const run = promisify(execFile);
const makeKeyPair = promisify(generateKeyPair);

/** A new private key in PKCS#8 PEM: OpenSSL's multi-prime RSA, or Node's two-prime without it. */
async function newPrivateKey(): Promise<string> {
  try {
    const { stdout } = await run('openssl', [
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      `rsa_keygen_bits:${MODULUS_BITS}`,
      '-pkeyopt',
      `rsa_keygen_primes:${PRIMES}`,
      '-quiet',
    ]);
    if (stdout.includes('PRIVATE KEY')) return stdout;
  } catch {
    // No openssl on the path (or an old one): Node's own, slower.
  }
  const { privateKey } = await makeKeyPair('rsa', { modulusLength: MODULUS_BITS });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * The RSA key of caching_sha2_password logins without TLS (`allowPlaintextAuth`), read from the
 * state directory or made there on first use (off the event loop), then kept for the process.
 */
export function lazyPasswordKey(config: Config, logger: Logger): () => Promise<PasswordKey> {
  let key: Promise<PasswordKey> | undefined;
  return () => {
    key ??= loadPasswordKey(config, logger).catch((err: unknown) => {
      key = undefined;
      throw err;
    });
    return key;
  };
}

async function loadPasswordKey(config: Config, logger: Logger): Promise<PasswordKey> {
  const dir = resolve(config.baseDir, config.state.dir);
  const path = join(dir, PASSWORD_KEY_FILE);
  const existing = await readStateFile(path, 'the RSA key');
  if (existing !== undefined) return passwordKeyFromPem(existing);
  const pem = await newPrivateKey();
  if (await writeStateFileOnce(dir, path, pem)) {
    logger.info({ event: 'mysql.password_key_created', path }, 'created the RSA key for logins without TLS');
    return passwordKeyFromPem(pem);
  }
  const winner = await readStateFile(path, 'the RSA key');
  if (winner === undefined) throw new Error(`${path}: vanished while being created`);
  return passwordKeyFromPem(winner);
}
