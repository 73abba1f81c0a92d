import { PgClientError } from './errors.js';

/** Message type byte of an authentication request ('R'). */
export const AUTHENTICATION = 0x52;

/** What the server asks for during authentication. */
export type AuthRequest =
  | { kind: 'ok' }
  | { kind: 'cleartext' }
  | { kind: 'md5'; salt: Buffer }
  | { kind: 'sasl'; mechanisms: string[] }
  | { kind: 'sasl-continue'; data: string }
  | { kind: 'sasl-final'; data: string };

/**
 * Decodes an 'R' frame ourselves rather than through pg-protocol, which reports any request it
 * does not know (GSSAPI, SSPI, a malformed one) as AuthenticationOk. Taking an unknown request for
 * success would let a server skip authentication; here it is an error.
 */
export function decodeAuthRequest(frame: Buffer): AuthRequest {
  if (frame.length < 9) throw malformed();
  const code = frame.readInt32BE(5);
  switch (code) {
    case 0:
      return { kind: 'ok' };
    case 3:
      return { kind: 'cleartext' };
    case 5:
      if (frame.length !== 13) throw malformed();
      return { kind: 'md5', salt: Buffer.from(frame.subarray(9, 13)) };
    case 10: {
      const mechanisms = frame
        .toString('utf8', 9)
        .split('\0')
        .filter((m) => m !== '');
      return { kind: 'sasl', mechanisms };
    }
    case 11:
      return { kind: 'sasl-continue', data: frame.toString('utf8', 9) };
    case 12:
      return { kind: 'sasl-final', data: frame.toString('utf8', 9) };
    default:
      throw new PgClientError(
        'ERR_PG_AUTH_UNSUPPORTED',
        `server asked for authentication method ${code}; supported: SCRAM-SHA-256, MD5, password, trust`,
      );
  }
}

function malformed(): PgClientError {
  return new PgClientError('ERR_PG_PROTOCOL', 'malformed authentication request');
}
