import { connect } from 'node:net';
import { serialize } from 'pg-protocol/dist/serializer';
import { PgClientError } from './errors.js';

export interface BackendKey {
  processId: number;
  secretKey: number;
}

/**
 * Sends a CancelRequest for the backend on a new connection and waits until the server closes it
 * (it answers nothing). The request goes in plain TCP, as libpq's PQcancel does: it carries only
 * the backend key, which the server checks.
 */
export function sendCancelRequest(
  host: string,
  port: number,
  key: BackendKey,
  timeoutMs = 5000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => socket.end(serialize.cancel(key.processId, key.secretKey)));
    socket.once('timeout', () =>
      socket.destroy(new PgClientError('ERR_PG_UNREACHABLE', `cancel request to ${host}:${port} timed out`)),
    );
    socket.once('error', (err) =>
      reject(
        err instanceof PgClientError
          ? err
          : new PgClientError(
              'ERR_PG_UNREACHABLE',
              `cannot send cancel request to ${host}:${port}: ${err.message}`,
            ),
      ),
    );
    socket.once('close', (hadError) => {
      if (!hadError) resolve();
    });
    socket.resume();
  });
}
