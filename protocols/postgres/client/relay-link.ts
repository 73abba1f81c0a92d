import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { serialize } from 'pg-protocol/dist/serializer';
import { AUTHENTICATION, decodeAuthRequest } from './auth-request.js';
import type { BackendKey } from './cancel.js';
import { PgClientError, PgServerError, noticeFields } from './errors.js';
import { FrameReader } from './frame-reader.js';
import { Authenticator, type PasswordSource } from './startup.js';
import { connectWithin, type PgTlsMode } from './transport.js';

export interface RelayLinkOptions {
  host: string;
  port: number;
  user: string;
  database: string;
  /** A function is called only when the server asks, so a sealed secret is revealed only then. */
  password?: PasswordSource;
  tls?: PgTlsMode;
  ca?: string | Buffer;
  /** Startup parameters (application_name, DateStyle, ...). user, database and client_encoding are set here. */
  params?: Record<string, string>;
  /** Bound on TCP connect, TLS and authentication together. Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * A target connection that has finished startup and is handed over as a raw socket, for a relay
 * that forwards the protocol byte for byte. Paused: the relay attaches its own reader and resumes.
 */
export interface RelayLink {
  readonly socket: Socket | TLSSocket;
  readonly encrypted: boolean;
  /** ParameterStatus values in arrival order (server_version, TimeZone, ...). */
  readonly parameters: readonly (readonly [string, string])[];
  readonly backendKey: BackendKey;
}

const READY_FOR_QUERY = 0x5a; // Z
const PARAMETER_STATUS = 0x53; // S
const BACKEND_KEY_DATA = 0x4b; // K
const ERROR_RESPONSE = 0x45; // E
const NOTICE_RESPONSE = 0x4e; // N
const NEGOTIATE_PROTOCOL = 0x76; // v
/** Startup messages are small; a larger one is a broken or hostile server. */
const STARTUP_FRAME_LIMIT = 64 * 1024;

/**
 * Connects to a PostgreSQL server, authenticates (SCRAM-SHA-256, MD5, cleartext, trust) with the
 * same code as PgConnection, and stops at the first ReadyForQuery. The session is always UTF-8:
 * rows are masked and recorded as UTF-8 text, so another encoding would make both wrong.
 */
export function openRelayLink(options: RelayLinkOptions): Promise<RelayLink> {
  return connectWithin(options, (transport, signal) =>
    startup(transport.socket, transport.encrypted, options, signal),
  );
}

function startup(
  socket: Socket | TLSSocket,
  encrypted: boolean,
  options: RelayLinkOptions,
  signal: AbortSignal,
): Promise<RelayLink> {
  return new Promise<RelayLink>((resolve, reject) => {
    const reader = new FrameReader(STARTUP_FRAME_LIMIT);
    const parameters: [string, string][] = [];
    let backendKey: BackendKey | undefined;
    let waiting = false;
    let settled = false;
    const auth = new Authenticator(options.user, options.password, (bytes) => socket.write(bytes));

    const finish = (error: Error | undefined, link?: RelayLink): void => {
      if (settled) return;
      settled = true;
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(link as RelayLink);
    };

    const handle = (frame: Buffer): Promise<void> | 'ready' | void => {
      switch (frame[0]) {
        case AUTHENTICATION:
          return auth.answer(decodeAuthRequest(frame));
        case PARAMETER_STATUS: {
          const body = frame.subarray(5);
          const nameEnd = body.indexOf(0);
          const valueEnd = body.indexOf(0, nameEnd + 1);
          if (nameEnd < 0 || valueEnd < 0)
            throw new PgClientError('ERR_PG_PROTOCOL', 'malformed ParameterStatus');
          parameters.push([body.toString('utf8', 0, nameEnd), body.toString('utf8', nameEnd + 1, valueEnd)]);
          return;
        }
        case BACKEND_KEY_DATA:
          if (frame.length !== 13) throw new PgClientError('ERR_PG_PROTOCOL', 'malformed BackendKeyData');
          backendKey = { processId: frame.readInt32BE(5), secretKey: frame.readInt32BE(9) };
          return;
        case NOTICE_RESPONSE:
        case NEGOTIATE_PROTOCOL:
          return;
        case ERROR_RESPONSE:
          throw new PgServerError(noticeFields(parseFields(frame)));
        case READY_FOR_QUERY:
          if (!auth.authenticated)
            throw new PgClientError('ERR_PG_PROTOCOL', 'ReadyForQuery before AuthenticationOk');
          return 'ready';
        default:
          throw new PgClientError(
            'ERR_PG_PROTOCOL',
            `unexpected message '${String.fromCharCode(frame[0] ?? 0)}' during startup`,
          );
      }
    };

    const pump = (): void => {
      if (waiting || settled) return;
      try {
        for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
          const outcome = handle(frame);
          if (outcome === 'ready') {
            const encoding = parameters.find(([name]) => name === 'client_encoding')?.[1];
            if (encoding !== 'UTF8') {
              throw new PgClientError(
                'ERR_PG_PROTOCOL',
                `server chose client_encoding ${encoding ?? '(none)'}`,
              );
            }
            const standard = parameters.find(([name]) => name === 'standard_conforming_strings')?.[1];
            if (standard !== 'on') {
              throw new PgClientError(
                'ERR_PG_PROTOCOL',
                `server chose standard_conforming_strings ${standard ?? '(none)'}`,
              );
            }
            if (backendKey === undefined)
              throw new PgClientError('ERR_PG_PROTOCOL', 'server sent no BackendKeyData');
            // The server says nothing more until asked; anything buffered would be a forged message.
            if (reader.buffered > 0) throw new PgClientError('ERR_PG_PROTOCOL', 'data after ReadyForQuery');
            socket.pause();
            finish(undefined, { socket, encrypted, parameters, backendKey });
            return;
          }
          if (outcome instanceof Promise) {
            waiting = true;
            outcome.then(
              () => {
                waiting = false;
                pump();
              },
              (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
            );
            return;
          }
        }
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      pump();
    };
    const onError = (err: Error): void =>
      finish(
        new PgClientError('ERR_PG_CONNECTION_CLOSED', `connection lost: ${err.message}`, { cause: err }),
      );
    const onClose = (): void =>
      finish(new PgClientError('ERR_PG_CONNECTION_CLOSED', 'server closed the connection during startup'));
    const onAbort = (): void => finish(signal.reason as Error);

    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.resume();
    socket.write(
      serialize.startup({
        ...options.params,
        user: options.user,
        database: options.database,
        client_encoding: 'UTF8',
        // Texts are parsed by the gateway with standard strings (a backslash is a plain character
        // in '...'); the server must read them the same way, whatever the role's or database's
        // default says.
        standard_conforming_strings: 'on',
      }),
    );
  });
}

/** Fields of an ErrorResponse frame as pg-protocol names them (what noticeFields reads). */
function parseFields(frame: Buffer): Record<string, string | undefined> {
  const names: Record<string, string> = {
    S: 'severity',
    C: 'code',
    M: 'message',
    D: 'detail',
    H: 'hint',
    P: 'position',
  };
  const out: Record<string, string | undefined> = {};
  let pos = 5;
  while (pos < frame.length && frame[pos] !== 0) {
    const code = String.fromCharCode(frame[pos] as number);
    const end = frame.indexOf(0, pos + 1);
    if (end < 0) break;
    const name = names[code];
    if (name !== undefined) out[name] = frame.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return out;
}
