import t from 'tap';
import { errors } from 'jose';
import { AuthError } from '../../src/identity/errors.js';
import { fromJoseError } from '../../src/identity/jose-errors.js';

t.test('each jose failure maps to its own stable code', async (t) => {
  const claim = (name: string) =>
    new errors.JWTClaimValidationFailed('check failed', {}, name, 'check_failed');
  const cases: [unknown, string][] = [
    [new errors.JWTExpired('expired', {}), 'ERR_TOKEN_EXPIRED'],
    [claim('nbf'), 'ERR_TOKEN_NOT_YET_VALID'],
    [claim('iss'), 'ERR_TOKEN_ISSUER'],
    [claim('aud'), 'ERR_TOKEN_AUDIENCE'],
    [claim('typ'), 'ERR_TOKEN_CLAIMS'],
    [new errors.JOSEAlgNotAllowed('alg'), 'ERR_TOKEN_ALGORITHM'],
    [new errors.JOSENotSupported('alg'), 'ERR_TOKEN_ALGORITHM'],
    [new errors.JWKSNoMatchingKey(), 'ERR_TOKEN_KEY_UNKNOWN'],
    [new errors.JWKSMultipleMatchingKeys(), 'ERR_TOKEN_KEY_UNKNOWN'],
    [new errors.JWSSignatureVerificationFailed(), 'ERR_TOKEN_SIGNATURE'],
    [new errors.JWSInvalid('bad'), 'ERR_TOKEN_MALFORMED'],
    [new errors.JWTInvalid('bad'), 'ERR_TOKEN_MALFORMED'],
    [new errors.JWKSTimeout(), 'ERR_IDP_UNAVAILABLE'],
    [new errors.JWKSInvalid('bad set'), 'ERR_IDP_UNAVAILABLE'],
    [new errors.JOSEError('Expected 200 OK'), 'ERR_IDP_UNAVAILABLE'],
    [new TypeError('fetch failed'), 'ERR_IDP_UNAVAILABLE'],
  ];
  for (const [err, code] of cases) {
    const mapped = fromJoseError(err);
    t.ok(mapped instanceof AuthError);
    t.equal(mapped.code, code, `${(err as Error).constructor.name} -> ${code}`);
    t.equal(mapped.cause, err, 'the original error is kept as the cause');
  }
});

t.test('an unrecognised error still refuses, and an AuthError passes through unchanged', async (t) => {
  t.equal(fromJoseError(new RangeError('odd')).code, 'ERR_TOKEN_MALFORMED');
  t.equal(fromJoseError('a string').code, 'ERR_TOKEN_MALFORMED');
  const original = new AuthError('ERR_TOKEN_KEY_UNKNOWN', 'kid x');
  t.equal(fromJoseError(original), original);
});

t.test('callers see a generic public message, never the detailed reason', async (t) => {
  const err = new AuthError('ERR_TOKEN_SIGNATURE', 'signature failed for kid abc from 10.0.0.1');
  t.equal(err.publicMessage, 'invalid token');
  t.equal(err.name, 'AuthError');
  t.equal(new AuthError('ERR_TOKEN_MISSING', 'x', { publicMessage: 'custom' }).publicMessage, 'custom');
});
