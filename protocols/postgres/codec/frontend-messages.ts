import { FrontendCode, StartupCode } from './codes.js';
import { ProtocolError } from './errors.js';
import { FrameFields } from './frame-fields.js';
import type { FrontendFrame } from './frontend-reader.js';

/** Format codes of parameters and results: 0 text, 1 binary. */
export type FormatCode = number;

export interface StartupMessage {
  readonly name: 'StartupMessage';
  readonly protocolMajor: number;
  readonly protocolMinor: number;
  /** user, database, application_name, options, client_encoding, `_pq_.*`, ... in arrival order. */
  readonly parameters: ReadonlyMap<string, string>;
}
export interface SSLRequest {
  readonly name: 'SSLRequest';
}
export interface GSSENCRequest {
  readonly name: 'GSSENCRequest';
}
export interface CancelRequest {
  readonly name: 'CancelRequest';
  readonly processId: number;
  readonly secretKey: number;
}
export interface Query {
  readonly name: 'Query';
  readonly sql: string;
}
export interface Parse {
  readonly name: 'Parse';
  /** '' for the unnamed statement. */
  readonly statement: string;
  readonly sql: string;
  /** 0 means "let the server infer". */
  readonly paramTypes: readonly number[];
}
export interface Bind {
  readonly name: 'Bind';
  readonly portal: string;
  readonly statement: string;
  readonly paramFormats: readonly FormatCode[];
  /** Views into the frame (no copy); null is SQL NULL. Copy what you keep past the handler. */
  readonly params: readonly (Buffer | null)[];
  readonly resultFormats: readonly FormatCode[];
}
export interface Execute {
  readonly name: 'Execute';
  readonly portal: string;
  /** 0 means "no limit". */
  readonly maxRows: number;
}
export interface Describe {
  readonly name: 'Describe';
  /** 'S' a prepared statement, 'P' a portal. */
  readonly target: 'S' | 'P';
  readonly statementOrPortal: string;
}
export interface Close {
  readonly name: 'Close';
  readonly target: 'S' | 'P';
  readonly statementOrPortal: string;
}
export interface Sync {
  readonly name: 'Sync';
}
export interface Flush {
  readonly name: 'Flush';
}
export interface Terminate {
  readonly name: 'Terminate';
}
export interface FunctionCall {
  readonly name: 'FunctionCall';
  readonly functionOid: number;
  readonly argFormats: readonly FormatCode[];
  readonly args: readonly (Buffer | null)[];
  readonly resultFormat: FormatCode;
}
export interface CopyData {
  readonly name: 'CopyData';
  readonly data: Buffer;
}
export interface CopyDone {
  readonly name: 'CopyDone';
}
export interface CopyFail {
  readonly name: 'CopyFail';
  readonly message: string;
}
/**
 * PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share one type byte; which
 * one it is depends on what the server asked for. Decode `data` with `decodePassword` or
 * `decodeSASLInitialResponse`; a SASLResponse is `data` itself.
 */
export interface AuthenticationResponse {
  readonly name: 'AuthenticationResponse';
  readonly data: Buffer;
}

export type FrontendStartupMessage = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest;
export type FrontendTypedMessage =
  | Query
  | Parse
  | Bind
  | Execute
  | Describe
  | Close
  | Sync
  | Flush
  | Terminate
  | FunctionCall
  | CopyData
  | CopyDone
  | CopyFail
  | AuthenticationResponse;
export type FrontendMessage = FrontendStartupMessage | FrontendTypedMessage;

const SYNC: Sync = Object.freeze({ name: 'Sync' });
const FLUSH: Flush = Object.freeze({ name: 'Flush' });
const TERMINATE: Terminate = Object.freeze({ name: 'Terminate' });
const COPY_DONE: CopyDone = Object.freeze({ name: 'CopyDone' });
const SSL_REQUEST: SSLRequest = Object.freeze({ name: 'SSLRequest' });
const GSSENC_REQUEST: GSSENCRequest = Object.freeze({ name: 'GSSENCRequest' });

/** Decodes a frame from `FrontendReader`. Throws only ProtocolError. */
export function decodeFrontendMessage(frame: FrontendFrame): FrontendMessage {
  const { type, body } = frame;
  switch (type) {
    case FrontendCode.Query:
      return decodeQuery(body);
    case FrontendCode.Parse:
      return decodeParse(body);
    case FrontendCode.Bind:
      return decodeBind(body);
    case FrontendCode.Execute: {
      const f = new FrameFields(body, 'Execute');
      const portal = f.cstring();
      const maxRows = f.int32();
      f.end();
      return { name: 'Execute', portal, maxRows };
    }
    case FrontendCode.Describe:
    case FrontendCode.Close:
      return decodeTargetMessage(body, type === FrontendCode.Describe ? 'Describe' : 'Close');
    case FrontendCode.Sync:
      return empty(body, SYNC);
    case FrontendCode.Flush:
      return empty(body, FLUSH);
    case FrontendCode.Terminate:
      return empty(body, TERMINATE);
    case FrontendCode.CopyDone:
      return empty(body, COPY_DONE);
    case FrontendCode.FunctionCall:
      return decodeFunctionCall(body);
    case FrontendCode.CopyData:
      return { name: 'CopyData', data: body };
    case FrontendCode.CopyFail: {
      const f = new FrameFields(body, 'CopyFail');
      const message = f.cstring();
      f.end();
      return { name: 'CopyFail', message };
    }
    case FrontendCode.AuthenticationResponse:
      return { name: 'AuthenticationResponse', data: body };
    case StartupCode.StartupMessage:
      return decodeStartupMessage(body);
    case StartupCode.SSLRequest:
      return empty(body.subarray(4), SSL_REQUEST);
    case StartupCode.GSSENCRequest:
      return empty(body.subarray(4), GSSENC_REQUEST);
    case StartupCode.CancelRequest: {
      const f = new FrameFields(body, 'CancelRequest');
      f.uint32();
      const processId = f.uint32();
      const secretKey = f.uint32();
      f.end();
      return { name: 'CancelRequest', processId, secretKey };
    }
    default:
      throw new ProtocolError('ERR_PG_UNKNOWN_MESSAGE', `invalid frontend message type ${type}`);
  }
}

function empty<M extends FrontendMessage>(body: Buffer, message: M): M {
  if (body.length !== 0) {
    throw new ProtocolError('ERR_PG_MALFORMED', `malformed ${message.name} message: unexpected body`);
  }
  return message;
}

function decodeQuery(body: Buffer): Query {
  const f = new FrameFields(body, 'Query');
  const sql = f.cstring();
  f.end();
  return { name: 'Query', sql };
}

function decodeParse(body: Buffer): Parse {
  const f = new FrameFields(body, 'Parse');
  const statement = f.cstring();
  const sql = f.cstring();
  const count = f.count('parameter type');
  const paramTypes = new Array<number>(count);
  for (let i = 0; i < count; i++) paramTypes[i] = f.uint32();
  f.end();
  return { name: 'Parse', statement, sql, paramTypes };
}

function decodeBind(body: Buffer): Bind {
  const f = new FrameFields(body, 'Bind');
  const portal = f.cstring();
  const statement = f.cstring();
  const paramFormats = formats(f, 'parameter format');
  const params = values(f, 'parameter');
  const resultFormats = formats(f, 'result format');
  f.end();
  return { name: 'Bind', portal, statement, paramFormats, params, resultFormats };
}

function decodeFunctionCall(body: Buffer): FunctionCall {
  const f = new FrameFields(body, 'FunctionCall');
  const functionOid = f.uint32();
  const argFormats = formats(f, 'argument format');
  const args = values(f, 'argument');
  const resultFormat = format(f);
  f.end();
  return { name: 'FunctionCall', functionOid, argFormats, args, resultFormat };
}

function decodeTargetMessage(body: Buffer, name: 'Describe' | 'Close'): Describe | Close {
  const f = new FrameFields(body, name);
  const target = f.byte();
  if (target !== 0x53 && target !== 0x50) throw f.malformed(`target must be 'S' or 'P'`);
  const statementOrPortal = f.cstring();
  f.end();
  return { name, target: target === 0x53 ? 'S' : 'P', statementOrPortal } as Describe | Close;
}

function format(f: FrameFields): FormatCode {
  const code = f.int16();
  if (code !== 0 && code !== 1) throw f.malformed(`format code ${code}`);
  return code;
}

function formats(f: FrameFields, field: string): FormatCode[] {
  const count = f.count(field);
  const list = new Array<FormatCode>(count);
  for (let i = 0; i < count; i++) list[i] = format(f);
  return list;
}

function values(f: FrameFields, field: string): (Buffer | null)[] {
  const count = f.count(field);
  const list = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) {
    const length = f.int32();
    if (length < -1) throw f.malformed(`${field} length ${length}`);
    list[i] = length === -1 ? null : f.bytes(length);
  }
  return list;
}

function decodeStartupMessage(body: Buffer): StartupMessage {
  const f = new FrameFields(body, 'StartupMessage');
  const version = f.uint32();
  const parameters = new Map<string, string>();
  for (;;) {
    const key = f.cstring();
    if (key === '') break;
    // A parameter given twice takes its last value, as Postgres does (later options override).
    parameters.set(key, f.cstring());
  }
  f.end();
  return {
    name: 'StartupMessage',
    protocolMajor: version >>> 16,
    protocolMinor: version & 0xffff,
    parameters,
  };
}

/** The cleartext password of a PasswordMessage. */
export function decodePassword(data: Buffer): string {
  const f = new FrameFields(data, 'PasswordMessage');
  const password = f.cstring();
  f.end();
  return password;
}

export interface SASLInitialResponse {
  readonly mechanism: string;
  /** null when the client sent length -1 (no initial response). */
  readonly response: Buffer | null;
}

export function decodeSASLInitialResponse(data: Buffer): SASLInitialResponse {
  const f = new FrameFields(data, 'SASLInitialResponse');
  const mechanism = f.cstring();
  const length = f.int32();
  if (length < -1) throw f.malformed(`response length ${length}`);
  const response = length === -1 ? null : f.bytes(length);
  f.end();
  return { mechanism, response };
}
