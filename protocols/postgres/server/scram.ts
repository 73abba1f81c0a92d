import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), with channel binding
 * `tls-server-end-point` (RFC 5929) as SCRAM-SHA-256-PLUS when the session runs over TLS.
 * The server knows the password itself (it is given one), so the verifier is derived here; the
 * password never crosses the wire, only proofs of it.
 */
export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
const ITERATIONS = 4096;
const derive = promisify(pbkdf2);
const CHANNEL_BINDING = 'tls-server-end-point';

/** Why an exchange failed: the client broke SCRAM (`protocol`), or its proof is wrong (`proof`). */
export class ScramRefusal extends Error {
  override readonly name = 'ScramRefusal';
  constructor(
    readonly kind: 'protocol' | 'proof',
    message: string,
  ) {
    super(message);
  }
}

const malformed = (what: string) => new ScramRefusal('protocol', `malformed SCRAM message: ${what}`);

export class ScramServer {
  /** What AuthenticationSASL offers, best first. */
  readonly mechanisms: readonly string[];
  readonly #password: Buffer;
  readonly #salt: Buffer;
  readonly #endPoint: Buffer | undefined;
  #stage: 'first' | 'final' | 'done' = 'first';
  #gs2Header = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';
  #binds = false;

  /**
   * `salt` is the password's salt (16 bytes or so; it need not be secret). `endPoint` is the
   * tls-server-end-point binding data of the session's TLS certificate; without it (no TLS, or a
   * certificate whose hash cannot be named) only SCRAM-SHA-256 is offered.
   */
  constructor(password: string, salt: Buffer, endPoint?: Buffer) {
    // SASLprep leaves printable ASCII as it is; anything else is not a password given here.
    if (!/^[\x21-\x7e]+$/.test(password)) throw new TypeError('SCRAM password must be printable ASCII');
    this.#password = Buffer.from(password, 'ascii');
    this.#salt = salt;
    this.#endPoint = endPoint;
    this.mechanisms = endPoint ? [SCRAM_SHA_256_PLUS, SCRAM_SHA_256] : [SCRAM_SHA_256];
  }

  /** Whether the next message is the SASLInitialResponse (else the client-final SASLResponse). */
  get awaitingInitial(): boolean {
    return this.#stage === 'first';
  }

  /** client-first-message (from SASLInitialResponse) in, server-first-message out. */
  first(mechanism: string, response: Buffer | null): Buffer {
    if (this.#stage !== 'first') throw malformed('a second initial response');
    if (!this.mechanisms.includes(mechanism)) {
      throw new ScramRefusal(
        'protocol',
        `client selected an invalid SASL authentication mechanism "${mechanism}"`,
      );
    }
    if (response === null) throw malformed('no client-first-message');
    const message = response.toString('utf8');
    const cbindEnd = message.indexOf(',');
    const authzEnd = cbindEnd < 0 ? -1 : message.indexOf(',', cbindEnd + 1);
    if (authzEnd < 0) throw malformed('no GS2 header');
    const flag = message.slice(0, cbindEnd);
    if (message.slice(cbindEnd + 1, authzEnd) !== '') {
      throw new ScramRefusal('protocol', 'SCRAM authorization identities are not supported');
    }
    const plus = mechanism === SCRAM_SHA_256_PLUS;
    if (flag === `p=${CHANNEL_BINDING}`) {
      if (!plus) throw new ScramRefusal('protocol', 'channel binding requested without SCRAM-SHA-256-PLUS');
    } else if (flag.startsWith('p=')) {
      throw new ScramRefusal('protocol', `unsupported SCRAM channel binding type "${flag.slice(2)}"`);
    } else if (plus) {
      throw new ScramRefusal('protocol', 'SCRAM-SHA-256-PLUS selected without channel binding');
    } else if (flag === 'y') {
      // The client could bind but believes the server cannot: someone removed -PLUS on the way.
      if (this.#endPoint) throw new ScramRefusal('protocol', 'SCRAM channel binding negotiation error');
    } else if (flag !== 'n') {
      throw malformed(`GS2 flag "${flag}"`);
    }
    const bare = message.slice(authzEnd + 1);
    const attributes = bare.split(',');
    if (!attributes[0]?.startsWith('n=')) throw malformed('no user name attribute');
    const clientNonce = attributes[1]?.startsWith('r=') ? attributes[1].slice(2) : '';
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw malformed('client nonce');
    this.#gs2Header = message.slice(0, authzEnd + 1);
    this.#clientFirstBare = bare;
    this.#binds = plus;
    this.#nonce = clientNonce + randomBytes(18).toString('base64');
    this.#serverFirst = `r=${this.#nonce},s=${this.#salt.toString('base64')},i=${ITERATIONS}`;
    this.#stage = 'final';
    return Buffer.from(this.#serverFirst, 'utf8');
  }

  /**
   * client-final-message (a SASLResponse) in, server-final-message out; rejects on a wrong proof.
   * The key derivation runs off the event loop: logins do not hold up other sessions.
   */
  async final(response: Buffer): Promise<Buffer> {
    if (this.#stage !== 'final') throw malformed('a response out of turn');
    this.#stage = 'done';
    const message = response.toString('utf8');
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) throw malformed('no proof');
    const withoutProof = message.slice(0, proofAt);
    const [binding, nonce] = withoutProof.split(',');
    const expected = Buffer.concat([
      Buffer.from(this.#gs2Header, 'utf8'),
      this.#binds ? (this.#endPoint as Buffer) : Buffer.alloc(0),
    ]).toString('base64');
    if (binding !== `c=${expected}`) {
      throw new ScramRefusal('protocol', 'SCRAM channel binding check failed');
    }
    if (nonce !== `r=${this.#nonce}`) throw malformed('nonce does not match');
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const salted = await derive(this.#password, this.#salt, ITERATIONS, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramRefusal('proof', 'wrong SCRAM proof');
    const claimedKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) claimedKey[i] = (proof[i] as number) ^ (signature[i] as number);
    const claimedStored = createHash('sha256').update(claimedKey).digest();
    if (!timingSafeEqual(claimedStored, storedKey)) throw new ScramRefusal('proof', 'wrong SCRAM proof');
    const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/** DER of the signature algorithm OIDs whose hash RFC 5929 names (MD5 and SHA-1 become SHA-256). */
const SIGNATURE_HASHES = new Map<string, string>([
  ['2a864886f70d010104', 'sha256'], // md5WithRSAEncryption
  ['2a864886f70d010105', 'sha256'], // sha1WithRSAEncryption
  ['2a864886f70d01010b', 'sha256'],
  ['2a864886f70d01010c', 'sha384'],
  ['2a864886f70d01010d', 'sha512'],
  ['2a8648ce3d0401', 'sha256'], // ecdsa-with-SHA1
  ['2a8648ce3d040302', 'sha256'],
  ['2a8648ce3d040303', 'sha384'],
  ['2a8648ce3d040304', 'sha512'],
]);

/**
 * tls-server-end-point binding data of a certificate (DER): its hash, with the hash of its own
 * signature algorithm. Undefined for algorithms RFC 5929 gives no hash for (Ed25519, RSA-PSS),
 * as PostgreSQL, which then does not offer SCRAM-SHA-256-PLUS either.
 */
export function tlsServerEndPoint(der: Buffer): Buffer | undefined {
  try {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    const certificate = derElement(der, 0, 0x30);
    const tbs = derElement(der, certificate.contentStart, 0x30);
    const algorithm = derElement(der, tbs.end, 0x30);
    const oid = derElement(der, algorithm.contentStart, 0x06);
    const hash = SIGNATURE_HASHES.get(der.subarray(oid.contentStart, oid.end).toString('hex'));
    return hash === undefined ? undefined : createHash(hash).update(der).digest();
  } catch {
    return undefined;
  }
}

function derElement(der: Buffer, at: number, tag: number): { contentStart: number; end: number } {
  if (der[at] !== tag) throw new Error('unexpected DER tag');
  let length = der[at + 1] as number;
  let contentStart = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 4) throw new Error('DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[at + 2 + i] as number);
    contentStart += bytes;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('DER element past the end');
  return { contentStart, end };
}
