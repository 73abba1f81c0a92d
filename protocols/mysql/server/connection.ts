import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { clientCharsetById, UTF8MB4, type ClientCharset } from '../codec/charsets.js';
import { decodeCommand, type MysqlCommand } from '../codec/commands.js';
import {
  Capability,
  CACHING_SHA2_PLUGIN,
  CLEAR_PASSWORD_PLUGIN,
  MARIADB_EXTENDED_METADATA,
  NATIVE_PASSWORD_PLUGIN,
  SERVER_CAPABILITIES,
  ServerErrno,
} from '../codec/constants.js';
import {
  decodeClearPassword,
  decodeHandshakeResponse,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeFullAuthenticationRequest,
  encodeHandshakeV10,
  type HandshakeResponse,
} from '../codec/handshake.js';
import { PacketReader, type MysqlPacket } from '../codec/packet-reader.js';
import { PacketWriter } from '../codec/packet-writer.js';
import { encodeEof, encodeErr, encodeOk, type ErrFields } from '../codec/responses.js';
import { MysqlProtocolError } from '../errors.js';
import { CommandReply, type ReplyOutput } from './reply.js';
import { LocalFileTransfer } from './local-file.js';
import type { MysqlServerConnectionOptions, MysqlSessionInfo } from './types.js';

export type { MysqlServerConnectionOptions } from './types.js';

/** Where the connection is in its life; each state accepts exactly one kind of packet. */
type ConnectionState =
  | { kind: 'awaiting-response' }
  | { kind: 'awaiting-clear-password'; response: HandshakeResponse }
  /** Switched to caching_sha2_password: its scramble comes next, then (full authentication) the password. */
  | { kind: 'awaiting-sha2-scramble'; response: HandshakeResponse }
  /** Full authentication without TLS: a request for the public key, then the RSA-encrypted password. */
  | { kind: 'awaiting-rsa-password'; response: HandshakeResponse }
  /** Reading the RSA key (made on first use) before sending it. */
  | { kind: 'loading-key' }
  | { kind: 'authenticating' }
  | { kind: 'ready'; session: MysqlSessionInfo }
  | { kind: 'busy'; session: MysqlSessionInfo }
  /** Busy, and reading the file of a LOAD DATA LOCAL INFILE the command asked the client for. */
  | { kind: 'local-file'; session: MysqlSessionInfo; transfer: LocalFileTransfer }
  | { kind: 'closed' };

const DEFAULT_VERSION = '8.0.36-sluice';

const ACCESS_DENIED = (user: string, why: string): ErrFields => ({
  errno: ServerErrno.AccessDenied,
  sqlstate: '28000',
  message: `Access denied for user '${user}': ${why}`,
});

/** A scramble of 20 bytes with no NUL (clients read it as a C string). */
function scramble(): Buffer {
  const bytes = randomBytes(20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = ((bytes[i] as number) % 127) + 1;
  return bytes;
}

/**
 * The server side of one MySQL client connection: handshake, optional TLS upgrade, password
 * collection (caching_sha2_password full authentication, or mysql_clear_password), then commands
 * handed one at a time to the handler. The password itself is needed because the gateway checks a
 * token, not a MySQL hash: it is taken inside TLS, or without TLS (only with `allowPlaintextAuth`)
 * encrypted with the `passwordKey`, or in clear from a client that chose clear text itself.
 */
export class MysqlServerConnection {
  readonly #options: MysqlServerConnectionOptions;
  readonly #raw: Socket;
  #stream: Socket;
  #tls = false;
  /** The client reads MariaDB's extended column metadata (negotiated in the handshake). */
  #extendedMetadata = false;
  /** OK packets carry their info length-encoded (see encodeOk). */
  #lenencInfo = false;
  /** The character set the client named in its handshake response. */
  #charset: ClientCharset = UTF8MB4;
  /** What the client said it can do, at login (COM_CHANGE_USER keeps it). */
  #clientCapabilities = 0;
  /** The password being asked for is for COM_CHANGE_USER, not the first login. */
  #changingUser = false;
  /** The scramble the client's caching_sha2_password works with (greeting or auth switch). */
  #scramble: Buffer = scramble();
  #state: ConnectionState = { kind: 'awaiting-response' };
  readonly #reader: PacketReader;
  readonly #writer = new PacketWriter();
  readonly #handshakeTimer: NodeJS.Timeout;
  readonly #closed: Promise<void>;
  #uncorkScheduled = false;

  constructor(socket: Socket, options: MysqlServerConnectionOptions) {
    this.#options = options;
    this.#raw = socket;
    this.#stream = socket;
    this.#reader = new PacketReader({ maxPacketSize: options.maxHandshakePacketSize ?? 8192 });
    socket.setNoDelay(true);
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.#onClose());
    socket.on('error', this.#onSocketError);
    this.#handshakeTimer = setTimeout(() => this.#onHandshakeTimeout(), options.handshakeTimeoutMs ?? 10_000);
    this.#handshakeTimer.unref();
    this.#listen(socket);
    this.#sendHandshake();
  }

  /** Resolves when the client's socket has closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Whether the client upgraded to TLS. */
  get tls(): boolean {
    return this.#tls;
  }

  get state(): ConnectionState['kind'] {
    return this.#state.kind;
  }

  close(): void {
    this.#state = { kind: 'closed' };
    this.#stream.destroy();
    this.#raw.destroy();
  }

  #listen(stream: Socket): void {
    stream.on('data', this.#onData);
  }

  readonly #onSocketError = (err: Error): void => {
    this.#options.onError?.(err);
  };

  #onClose(): void {
    if (this.#state.kind === 'local-file') this.#state.transfer.abort();
    this.#state = { kind: 'closed' };
    clearTimeout(this.#handshakeTimer);
  }

  #onHandshakeTimeout(): void {
    if (this.#state.kind === 'ready' || this.#state.kind === 'busy' || this.#state.kind === 'closed') return;
    // Our own wait (the RSA key made on first use) is not the client's stall.
    if (this.#state.kind === 'loading-key') {
      this.#handshakeTimer.refresh();
      return;
    }
    this.#options.onError?.(
      new MysqlProtocolError('ERR_HANDSHAKE_TIMEOUT', 'client did not finish the handshake'),
    );
    this.close();
  }

  #sendHandshake(): void {
    let capabilities = SERVER_CAPABILITIES;
    if (this.#options.secureContext) capabilities |= Capability.Ssl;
    this.#writer.reset(0);
    this.#write(
      this.#writer.frame(
        encodeHandshakeV10({
          serverVersion: this.#options.serverVersion ?? DEFAULT_VERSION,
          connectionId: this.#options.connectionId,
          authPluginData: this.#scramble,
          capabilities,
          authPluginName: NATIVE_PASSWORD_PLUGIN,
          ...(this.#options.mariadb === true ? { mariadbCapabilities: MARIADB_EXTENDED_METADATA } : {}),
        }),
      ),
    );
  }

  readonly #output: ReplyOutput = {
    write: (bytes) => this.#write(bytes),
    drained: () =>
      new Promise<void>((resolve) => {
        const stream = this.#stream;
        const done = (): void => {
          stream.off('drain', done);
          stream.off('close', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
      }),
  };

  /** Writes go out together at the end of the tick (one TCP segment for a small result). */
  #write(bytes: Buffer): boolean {
    const stream = this.#stream;
    if (stream.destroyed) return true;
    if (!this.#uncorkScheduled) {
      this.#uncorkScheduled = true;
      stream.cork();
      process.nextTick(() => {
        this.#uncorkScheduled = false;
        stream.uncork();
      });
    }
    return stream.write(bytes);
  }

  readonly #onData = (chunk: Buffer): void => {
    try {
      this.#reader.push(chunk);
      this.#drainPackets();
    } catch (err) {
      this.#fail(err);
    }
  };

  /** Handles every complete packet while the connection can take one. */
  #drainPackets(): void {
    for (;;) {
      const kind = this.#state.kind;
      if (kind === 'busy' || kind === 'authenticating' || kind === 'loading-key' || kind === 'closed') return;
      const packet = this.#reader.next();
      if (packet === undefined) return;
      this.#handlePacket(packet);
    }
  }

  #handlePacket(packet: MysqlPacket): void {
    const state = this.#state;
    switch (state.kind) {
      case 'awaiting-response':
        return this.#onHandshakeResponse(packet);
      case 'awaiting-clear-password':
        return this.#onClearPassword(packet, state.response);
      case 'awaiting-sha2-scramble':
        return this.#askFullAuthentication(packet.sequenceId + 1, state.response);
      case 'awaiting-rsa-password':
        return this.#onRsaPassword(packet, state.response);
      case 'ready':
        return this.#onCommand(packet, state.session);
      case 'local-file':
        return this.#onLocalFilePacket(packet, state.session, state.transfer);
      default:
        return;
    }
  }

  #onHandshakeResponse(packet: MysqlPacket): void {
    const message = decodeHandshakeResponse(packet.payload);
    if (message.kind === 'ssl-request') {
      if (!this.#options.secureContext || this.#tls) {
        throw new MysqlProtocolError('ERR_HANDSHAKE', 'TLS was requested but is not offered here');
      }
      this.#upgradeToTls();
      return;
    }
    this.#writer.reset(packet.sequenceId + 1);
    this.#extendedMetadata =
      this.#options.mariadb === true && (message.mariadbCapabilities & MARIADB_EXTENDED_METADATA) !== 0;
    // MariaDB's C client reads OK's info length-encoded whatever was negotiated (MariaDB servers
    // always send it so); MySQL's clients, mysql2 and PyMySQL read the rest of the packet.
    this.#lenencInfo = message.attributes.get('_client_name') === 'libmariadb';
    const charset = clientCharsetById(message.characterSet);
    if (charset === undefined) {
      this.#refuse({
        errno: ServerErrno.UnknownCharacterSet,
        sqlstate: '42000',
        message: `Unknown character set: collation ${message.characterSet} is not one Sluice converts; connect with utf8mb4`,
      });
      return;
    }
    this.#charset = charset;
    this.#clientCapabilities = message.capabilities;
    this.#askPassword(packet.sequenceId, message);
  }

  /**
   * Asks for the password the way this connection can take it (see #onHandshakeResponse), for a
   * login and for COM_CHANGE_USER alike; `sequenceId` is that of the client's packet.
   */
  #askPassword(sequenceId: number, message: HandshakeResponse): void {
    if (!this.#tls && !this.#options.allowPlaintextAuth) {
      this.#refuse({
        errno: ServerErrno.SecureTransportRequired,
        sqlstate: 'HY000',
        message: 'Connections using insecure transport are prohibited: connect with TLS (--ssl)',
      });
      return;
    }
    if (message.authPluginName === CLEAR_PASSWORD_PLUGIN) {
      // The client chose clear text itself; its auth response is the password.
      this.#authenticate(message, decodeClearPassword(message.authResponse));
      return;
    }
    const sha2 = this.#tls || this.#options.passwordKey !== undefined;
    if (sha2 && this.#options.passwordPlugin !== CLEAR_PASSWORD_PLUGIN) {
      // caching_sha2_password, which stock clients speak without options: its scramble cannot be
      // checked (the password is a token, not a stored hash), so full authentication is asked for,
      // and the client sends the token inside TLS, or without TLS encrypted with our RSA key.
      if (message.authPluginName === CACHING_SHA2_PLUGIN) {
        this.#askFullAuthentication(sequenceId + 1, message);
        return;
      }
      this.#state = { kind: 'awaiting-sha2-scramble', response: message };
      this.#scramble = scramble();
      this.#write(this.#writer.frame(encodeAuthSwitchRequest(CACHING_SHA2_PLUGIN, this.#scramble)));
      return;
    }
    this.#state = { kind: 'awaiting-clear-password', response: message };
    this.#write(this.#writer.frame(encodeAuthSwitchRequest(CLEAR_PASSWORD_PLUGIN)));
  }

  #askFullAuthentication(sequenceId: number, response: HandshakeResponse): void {
    this.#writer.reset(sequenceId);
    this.#state = this.#tls
      ? { kind: 'awaiting-clear-password', response }
      : { kind: 'awaiting-rsa-password', response };
    this.#write(this.#writer.frame(encodeFullAuthenticationRequest()));
  }

  /**
   * Full authentication without TLS: the client asks for the public key (0x02), which is sent as
   * AuthMoreData, then sends its password encrypted with it. Anything else (a clear-text password
   * included: it must not cross a plaintext connection) is refused.
   */
  #onRsaPassword(packet: MysqlPacket, response: HandshakeResponse): void {
    const load = this.#options.passwordKey;
    if (load === undefined) return this.#refuse(ACCESS_DENIED(response.user, 'no RSA key'));
    this.#writer.reset(packet.sequenceId + 1);
    this.#state = { kind: 'loading-key' };
    load().then(
      (key) => {
        if (this.#state.kind === 'closed') return;
        if (packet.payload.length === 1 && packet.payload[0] === 0x02) {
          this.#state = { kind: 'awaiting-rsa-password', response };
          this.#write(this.#writer.frame(encodeAuthMoreData(Buffer.from(key.publicPem, 'latin1'))));
          this.#resume();
          return;
        }
        const password = key.decrypt(packet.payload, this.#scramble);
        if (password === undefined) {
          this.#refuse(
            ACCESS_DENIED(
              response.user,
              `the password must be encrypted with the server's RSA public key (at most ${key.maxPasswordBytes} bytes), or sent over TLS`,
            ),
          );
          return;
        }
        this.#authenticate(response, password.toString('utf8'));
      },
      (err: unknown) => {
        this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
        this.#refuse(ACCESS_DENIED(response.user, 'the RSA key is unavailable; connect with TLS'));
      },
    );
  }

  /**
   * Hands the socket to TLS. Bytes that arrived after the SSLRequest (clients often send their
   * ClientHello in the same segment) go back to the socket for TLS to read, never to our packet
   * reader: plaintext slipped in after the SSLRequest can only break the TLS handshake, it can
   * never be taken as a command sent under TLS.
   */
  #upgradeToTls(): void {
    const unread = this.#reader.takeUnread();
    this.#raw.off('data', this.#onData);
    this.#raw.pause();
    if (unread.length > 0) this.#raw.unshift(unread);
    const secure = new TLSSocket(this.#raw, { isServer: true, secureContext: this.#options.secureContext });
    secure.on('error', this.#onSocketError);
    this.#stream = secure;
    this.#tls = true;
    this.#listen(secure);
  }

  #onClearPassword(packet: MysqlPacket, response: HandshakeResponse): void {
    this.#writer.reset(packet.sequenceId + 1);
    this.#authenticate(response, decodeClearPassword(packet.payload));
  }

  /**
   * COM_CHANGE_USER: a new login on this connection (a new token; maybe another user, database or
   * character set), asked for and checked exactly as at connect, through the handler's
   * `changeUser`, which ends the old session first. A refused change closes the connection, so
   * nothing of the earlier login stays usable.
   */
  #changeUser(
    packet: MysqlPacket,
    command: Extract<MysqlCommand, { kind: 'change-user' }>,
    session: MysqlSessionInfo,
  ): void {
    if (this.#options.changeUser === undefined) {
      this.#write(
        this.#writer.frame(
          encodeErr({
            errno: ServerErrno.UnknownCommand,
            sqlstate: '08S01',
            message: 'Unknown command 0x11',
          }),
        ),
      );
      return;
    }
    const charset =
      command.characterSet === undefined ? session.charset : clientCharsetById(command.characterSet & 0xff);
    if (charset === undefined) {
      this.#refuse({
        errno: ServerErrno.UnknownCharacterSet,
        sqlstate: '42000',
        message: `Unknown character set: collation ${command.characterSet} is not one Sluice converts; connect with utf8mb4`,
      });
      return;
    }
    this.#charset = charset;
    this.#changingUser = true;
    this.#askPassword(packet.sequenceId, {
      kind: 'handshake-response',
      capabilities: this.#clientCapabilities,
      mariadbCapabilities: 0,
      maxPacketSize: 0,
      characterSet: command.characterSet ?? charset.collation,
      user: command.user,
      authResponse: command.authResponse,
      database: command.database,
      authPluginName: command.authPluginName,
      attributes: new Map(session.attributes),
    });
  }

  #authenticate(response: HandshakeResponse, password: string): void {
    this.#state = { kind: 'authenticating' };
    const request = {
      user: response.user,
      database: response.database,
      password,
      tls: this.#tls,
      remoteAddress: this.#raw.remoteAddress,
      attributes: response.attributes,
    };
    const check = this.#changingUser ? this.#options.changeUser : undefined;
    this.#changingUser = false;
    (check ?? this.#options.authenticate)(request).then(
      (result) => {
        if (this.#state.kind === 'closed') return;
        if (!result.ok) {
          this.#refuse({
            errno: ServerErrno.AccessDenied,
            sqlstate: '28000',
            message: result.message ?? `Access denied for user '${response.user}'`,
          });
          return;
        }
        clearTimeout(this.#handshakeTimer);
        this.#reader.maxPacketSize = this.#options.maxPacketSize ?? 16 * 1024 * 1024;
        this.#state = {
          kind: 'ready',
          session: {
            connectionId: this.#options.connectionId,
            user: response.user,
            database: response.database,
            tls: this.#tls,
            attributes: response.attributes,
            charset: this.#charset,
            resultsCharset: this.#charset,
            multiStatements: (response.capabilities & Capability.MultiStatements) !== 0,
          },
        };
        this.#write(this.#writer.frame(encodeOk()));
        this.#resume();
      },
      (err: unknown) => {
        this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
        this.#refuse({
          errno: ServerErrno.AccessDenied,
          sqlstate: '28000',
          message: 'Authentication failed',
        });
      },
    );
  }

  /** Answers with an error and closes, for failures during the handshake. */
  #refuse(fields: ErrFields): void {
    this.#write(this.#writer.frame(encodeErr(fields)));
    this.#state = { kind: 'closed' };
    this.#stream.destroySoon();
    clearTimeout(this.#handshakeTimer);
  }

  #onCommand(packet: MysqlPacket, session: MysqlSessionInfo): void {
    this.#writer.reset(packet.sequenceId + 1);
    let command;
    try {
      command = decodeCommand(packet.payload, session.charset);
    } catch (err) {
      if (!(err instanceof MysqlProtocolError)) throw err;
      // Framing is intact, so the connection can go on after saying what was wrong.
      this.#write(this.#writer.frame(encodeErr({ errno: 1835, sqlstate: 'HY000', message: err.message })));
      return;
    }
    switch (command.kind) {
      case 'quit':
        this.close();
        return;
      case 'ping':
        this.#write(this.#writer.frame(encodeOk()));
        return;
      case 'change-user':
        this.#changeUser(packet, command, session);
        return;
      case 'set-option':
        // MYSQL_OPTION_MULTI_STATEMENTS_ON (0) / _OFF (1); answered with EOF, as a server does.
        if (command.option > 1) {
          this.#write(
            this.#writer.frame(
              encodeErr({ errno: ServerErrno.UnknownCommand, sqlstate: '08S01', message: 'Unknown option' }),
            ),
          );
          return;
        }
        session.multiStatements = command.option === 0;
        this.#write(this.#writer.frame(encodeEof()));
        return;
      case 'unsupported':
        this.#write(
          this.#writer.frame(
            encodeErr({
              errno: ServerErrno.UnknownCommand,
              sqlstate: '08S01',
              message: `Unknown command 0x${command.command.toString(16)}`,
            }),
          ),
        );
        return;
    }
    // One command at a time: stop reading until the handler is done, so a client that pipelines
    // cannot make us buffer without bound.
    this.#state = { kind: 'busy', session };
    this.#stream.pause();
    const reply = new CommandReply(this.#writer, this.#output, {
      extendedMetadata: this.#extendedMetadata,
      charset: session.resultsCharset,
      localFile: (name) => this.#askLocalFile(name, session),
      lenencInfo: this.#lenencInfo,
    });
    // The client expects no packet after these; an error packet would be read as the answer to
    // its next command.
    const silent = command.kind === 'stmt-close' || command.kind === 'stmt-send-long-data';
    this.#options.handler.command(command, reply, session).then(
      () => {
        if (!reply.answered && !silent) {
          this.#options.onError?.(new Error(`handler did not answer ${command.kind}`));
          this.#replyInternalError(reply);
        }
        this.#afterCommand(session);
      },
      (err: unknown) => {
        this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
        if (!silent) this.#replyInternalError(reply);
        this.#afterCommand(session);
      },
    );
  }

  /**
   * LOAD DATA LOCAL INFILE: asks the client for its file (0xFB and the name) and reads the packets
   * it sends until the empty one; undefined when the client did not say at login that it sends
   * local files.
   */
  #askLocalFile(name: string, session: MysqlSessionInfo): LocalFileTransfer | undefined {
    if (this.#state.kind !== 'busy' || (this.#clientCapabilities & Capability.LocalFiles) === 0)
      return undefined;
    const transfer = new LocalFileTransfer(
      () => this.#stream.pause(),
      () => {
        if (this.#state.kind === 'local-file') this.#stream.resume();
      },
    );
    this.#write(this.#writer.frame(Buffer.concat([Buffer.from([0xfb]), session.charset.encode(name)])));
    this.#state = { kind: 'local-file', session, transfer };
    this.#resume();
    return transfer;
  }

  #onLocalFilePacket(packet: MysqlPacket, session: MysqlSessionInfo, transfer: LocalFileTransfer): void {
    transfer.push(packet.payload);
    if (!transfer.ended) return;
    // The answer follows the client's last packet; the command is still being handled.
    this.#writer.reset(packet.sequenceId + 1);
    this.#state = { kind: 'busy', session };
    this.#stream.pause();
  }

  /** The handler failed: say so without details (they may hold internals), or close mid-result. */
  #replyInternalError(reply: CommandReply): void {
    try {
      reply.error({ errno: 1105, sqlstate: 'HY000', message: 'Internal error' });
    } catch {
      // A result set was half sent; the client cannot be told in-band.
      this.close();
    }
  }

  #afterCommand(session: MysqlSessionInfo): void {
    if (this.#state.kind !== 'busy') return;
    this.#state = { kind: 'ready', session };
    this.#resume();
  }

  #resume(): void {
    try {
      this.#drainPackets();
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (this.#state.kind === 'ready' || this.#state.kind === 'local-file') this.#stream.resume();
  }

  /** A protocol error: tell the client when we still can, then close. */
  #fail(err: unknown): void {
    if (this.#state.kind === 'closed') return;
    if (err instanceof MysqlProtocolError) {
      const tooLarge = err.code === 'ERR_PACKET_TOO_LARGE';
      this.#write(
        this.#writer.frame(
          encodeErr({
            errno: tooLarge ? ServerErrno.NetPacketTooLarge : ServerErrno.HandshakeError,
            sqlstate: '08S01',
            message: err.message,
          }),
        ),
      );
      this.#options.onError?.(err);
    } else {
      this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
    this.#state = { kind: 'closed' };
    this.#stream.destroySoon();
    clearTimeout(this.#handshakeTimer);
  }
}
