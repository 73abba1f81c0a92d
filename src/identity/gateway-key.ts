import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { readStateFile, writeStateFileOnce } from '../config/state-file.js';
import { AuthError } from './errors.js';

export type GatewayAlgorithm = 'EdDSA' | 'ES256';

/** The key pair that signs and verifies Sluice tokens. */
export interface GatewaySigningKey {
  alg: GatewayAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 thumbprint of the public key; tokens carry it so a key change is visible. */
  kid: string;
  /** Where the key came from, for logs: the secret reference or the file path. Never the key. */
  source: string;
}

export const GATEWAY_KEY_FILE = 'gateway-key.pem';

/**
 * The configured `identity.gatewayTokens.signingKey`, or else the key kept in the state directory,
 * made on first use. Keeping it on disk is what lets a token minted offline by `sluice token`
 * verify in `sluice serve`, and tokens survive a restart.
 */
export async function loadGatewaySigningKey(config: Config, logger: Logger): Promise<GatewaySigningKey> {
  const configured = config.identity.gatewayTokens.signingKey;
  if (configured !== undefined) {
    return fromPem(configured.reveal(), configured.source, 'identity.gatewayTokens.signingKey');
  }
  const dir = resolve(config.baseDir, config.state.dir);
  const path = join(dir, GATEWAY_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return fromPem(existing, path, path);
  const pem = await createKeyFile(dir, path);
  logger.info({ event: 'identity.gateway_key_created', path }, 'created the gateway token signing key');
  return fromPem(pem, path, path);
}

/** The key kept in the state directory (see readStateFile), as an AuthError when it cannot be used. */
async function readKeyFile(path: string): Promise<string | undefined> {
  try {
    // Whoever can read this file can mint tokens for any subject and group.
    return await readStateFile(path, 'the signing key');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AuthError(
      'ERR_AUTH_CONFIG',
      code ? `${path}: cannot be read (${code})` : (err as Error).message,
    );
  }
}

/** Writes a new Ed25519 key with mode 0600 (see writeStateFileOnce: one key wins a race). */
async function createKeyFile(dir: string, path: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    if (await writeStateFileOnce(dir, path, pem)) return pem;
  } catch (err) {
    throw new AuthError(
      'ERR_AUTH_CONFIG',
      `${path}: cannot be written (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  const winner = await readKeyFile(path);
  if (winner === undefined) throw new AuthError('ERR_AUTH_CONFIG', `${path}: vanished while being created`);
  return winner;
}

async function fromPem(pem: string, source: string, keyPath: string): Promise<GatewaySigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The parser's message may quote the input: say only that it is not a key.
    throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}: not a PEM private key`);
  }
  const alg = algorithmOf(privateKey);
  if (alg === undefined) {
    throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}: expected an Ed25519 or P-256 private key`);
  }
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK);
  return { alg, privateKey, publicKey, kid, source };
}

function algorithmOf(key: KeyObject): GatewayAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return undefined;
}
