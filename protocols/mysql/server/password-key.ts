import { constants, createPrivateKey, createPublicKey, privateDecrypt, type KeyObject } from 'node:crypto';

/**
 * The RSA key a client encrypts its password with when caching_sha2_password full authentication
 * runs without TLS: the client asks for the public key (a 0x02 packet), then sends
 * RSA-OAEP(password + NUL, xored with the scramble). The largest password it can carry is the
 * key's size in bytes less OAEP's 42 and the NUL.
 */
export interface PasswordKey {
  /** The public key in PEM, as the server sends it to the client. */
  readonly publicPem: string;
  /** The size of a ciphertext: the key's modulus in bytes. */
  readonly cipherBytes: number;
  /** The longest password (in bytes) the key can carry. */
  readonly maxPasswordBytes: number;
  /** The password, or undefined when the ciphertext is not one of this key's. */
  decrypt(ciphertext: Buffer, scramble: Buffer): Buffer | undefined;
}

/** The key from a private key in PEM (PKCS#8 or PKCS#1). */
export function passwordKeyFromPem(pem: string): PasswordKey {
  const privateKey: KeyObject = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('the MySQL password key must be an RSA key');
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const cipherBytes = Math.ceil(bits / 8);
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return {
    publicPem,
    cipherBytes,
    maxPasswordBytes: cipherBytes - 42 - 1,
    decrypt(ciphertext, scramble) {
      if (ciphertext.length !== cipherBytes || scramble.length === 0) return undefined;
      let plain: Buffer;
      try {
        plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, ciphertext);
      } catch {
        return undefined;
      }
      for (let i = 0; i < plain.length; i++) {
        plain[i] = (plain[i] as number) ^ (scramble[i % scramble.length] as number);
      }
      // The client encrypts the password with its terminating NUL.
      if (plain.length === 0 || plain[plain.length - 1] !== 0) return undefined;
      return plain.subarray(0, plain.length - 1);
    },
  };
}
