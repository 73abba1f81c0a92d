import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as connectTls, type TLSSocket } from 'node:tls';
import { serialize } from 'pg-protocol/dist/serializer';
import { PgClientError } from './errors.js';

/**
 * disable: plain TCP. prefer: TLS when the server offers it, plain otherwise (no verification, so
 * it only resists passive listeners). require: TLS or fail, without checking who answers.
 * verify-full: TLS, the certificate chain checked against `ca` and the name against `host`.
 */
export type PgTlsMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface TransportOptions {
  host: string;
  port: number;
  tls: PgTlsMode;
  /** PEM of the CA(s) that sign the server certificate (verify-full). */
  ca?: string | Buffer;
}

export interface Transport {
  socket: Socket | TLSSocket;
  encrypted: boolean;
}

export interface ConnectOptions {
  host: string;
  port: number;
  tls?: PgTlsMode;
  ca?: string | Buffer;
  /** Time for TCP, TLS and the whole startup together. Default 10 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens the transport and runs `startup` on it, both under one connect deadline (TLS mode
 * `prefer` when none is given). A startup that fails or runs out of time leaves no socket open.
 */
export async function connectWithin<T>(
  options: ConnectOptions,
  startup: (transport: Transport, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new PgClientError(
          'ERR_PG_CONNECT_TIMEOUT',
          `connecting to ${options.host}:${options.port} took longer than ${timeoutMs} ms`,
        ),
      ),
    timeoutMs,
  );
  try {
    const transport = await openTransport(
      {
        host: options.host,
        port: options.port,
        tls: options.tls ?? 'prefer',
        ...(options.ca ? { ca: options.ca } : {}),
      },
      deadline.signal,
    );
    try {
      return await startup(transport, deadline.signal);
    } catch (err) {
      transport.socket.destroy();
      throw err;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Opens TCP and, per the TLS mode, negotiates TLS with SSLRequest. Aborting destroys the socket. */
export async function openTransport(options: TransportOptions, signal: AbortSignal): Promise<Transport> {
  const socket = await tcp(options, signal);
  try {
    if (options.tls === 'disable') return { socket, encrypted: false };
    const answer = await sslAnswer(socket, signal);
    if (answer === 'N') {
      if (options.tls === 'prefer') return { socket, encrypted: false };
      throw new PgClientError(
        'ERR_PG_TLS',
        `${options.host}:${options.port} does not accept TLS (tls: ${options.tls} requires it)`,
      );
    }
    return { socket: await handshake(socket, options, signal), encrypted: true };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function tcp(options: TransportOptions, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: options.host, port: options.port });
    socket.setNoDelay(true);
    const settle = () => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = () => {
      settle();
      resolve(socket);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      settle();
      socket.destroy();
      reject(
        new PgClientError(
          'ERR_PG_UNREACHABLE',
          `cannot reach ${options.host}:${options.port} (${err.code ?? err.message})`,
          { cause: err },
        ),
      );
    };
    const onAbort = () => {
      settle();
      socket.destroy();
      reject(signal.reason);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sends SSLRequest and reads the one-byte answer. */
function sslAnswer(socket: Socket, signal: AbortSignal): Promise<'S' | 'N'> {
  return new Promise((resolve, reject) => {
    const settle = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer) => {
      settle();
      socket.pause();
      // Exactly one byte may arrive before the handshake. More would be bytes injected ahead of
      // TLS by someone in the path (CVE-2021-23222), later read as if they came encrypted.
      if (chunk.length !== 1) {
        reject(new PgClientError('ERR_PG_PROTOCOL', 'unexpected data after the SSLRequest answer'));
        return;
      }
      const answer = String.fromCharCode(chunk[0] ?? 0);
      if (answer === 'S' || answer === 'N') resolve(answer);
      else reject(new PgClientError('ERR_PG_PROTOCOL', `server answered SSLRequest with "${answer}"`));
    };
    const onError = (err: Error) => {
      settle();
      reject(
        new PgClientError('ERR_PG_CONNECTION_CLOSED', `connection failed during SSLRequest: ${err.message}`),
      );
    };
    const onClose = () => {
      settle();
      reject(new PgClientError('ERR_PG_CONNECTION_CLOSED', 'server closed the connection during SSLRequest'));
    };
    const onAbort = () => {
      settle();
      reject(signal.reason);
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.write(serialize.requestSsl());
  });
}

function handshake(socket: Socket, options: TransportOptions, signal: AbortSignal): Promise<TLSSocket> {
  const verify = options.tls === 'verify-full';
  if (verify && options.ca === undefined) {
    return Promise.reject(new PgClientError('ERR_PG_TLS', 'tls: verify-full needs the CA certificate (ca)'));
  }
  return new Promise((resolve, reject) => {
    const secure = connectTls({
      socket,
      // SNI takes host names only; an IP literal is checked against the certificate's IP SANs below.
      ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
      ...(verify ? { ca: options.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
      checkServerIdentity: verify
        ? (_name, cert) => checkServerIdentity(options.host, cert)
        : () => undefined,
    });
    secure.setNoDelay(true);
    const settle = () => {
      secure.off('secureConnect', onSecure);
      secure.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onSecure = () => {
      settle();
      resolve(secure);
    };
    const onError = (err: Error) => {
      settle();
      secure.destroy();
      reject(
        new PgClientError('ERR_PG_TLS', `TLS with ${options.host}:${options.port} failed: ${err.message}`, {
          cause: err,
        }),
      );
    };
    const onAbort = () => {
      settle();
      secure.destroy();
      reject(signal.reason);
    };
    secure.once('secureConnect', onSecure);
    secure.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
