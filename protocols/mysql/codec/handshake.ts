import { MysqlProtocolError } from '../errors.js';
import { UTF8MB4_CHARSET } from './column-types.js';
import { Capability, ResponseHeader, ServerStatus } from './constants.js';
import { PayloadBuilder } from './payload-builder.js';
import { PayloadReader } from './payload-reader.js';

export interface HandshakeV10Fields {
  serverVersion: string;
  connectionId: number;
  /** 20 random bytes (the scramble); never containing NUL, which clients treat as its end. */
  authPluginData: Buffer;
  capabilities: number;
  authPluginName: string;
  characterSet?: number;
  status?: number;
  /** Answer as MariaDB does: CLIENT_MYSQL unset, and these extended capabilities offered. */
  mariadbCapabilities?: number;
}

/** Initial Handshake Packet, protocol version 10. */
export function encodeHandshakeV10(fields: HandshakeV10Fields): Buffer {
  const data = fields.authPluginData;
  if (data.length !== 20) throw new RangeError('authPluginData must be 20 bytes');
  const mariadb = fields.mariadbCapabilities !== undefined;
  const capabilities = mariadb ? fields.capabilities & ~Capability.LongPassword : fields.capabilities;
  return new PayloadBuilder(96)
    .u8(10)
    .nulText(fields.serverVersion)
    .u32(fields.connectionId)
    .bytes(data.subarray(0, 8))
    .u8(0)
    .u16(capabilities & 0xffff)
    .u8(fields.characterSet ?? UTF8MB4_CHARSET)
    .u16(fields.status ?? ServerStatus.Autocommit)
    .u16(capabilities >>> 16)
    .u8(data.length + 1)
    .zeros(6)
    .u32(fields.mariadbCapabilities ?? 0)
    .bytes(data.subarray(8))
    .u8(0)
    .nulText(fields.authPluginName)
    .build();
}

/** The 32-byte SSLRequest a client sends instead of its response when it wants TLS first. */
export const SSL_REQUEST_LENGTH = 32;

export interface SslRequest {
  kind: 'ssl-request';
  capabilities: number;
  /** MariaDB extended capabilities the client asks for (0 from a client that sets CLIENT_MYSQL). */
  mariadbCapabilities: number;
  maxPacketSize: number;
  characterSet: number;
}

export interface HandshakeResponse {
  kind: 'handshake-response';
  capabilities: number;
  mariadbCapabilities: number;
  maxPacketSize: number;
  characterSet: number;
  user: string;
  authResponse: Buffer;
  database: string | undefined;
  authPluginName: string | undefined;
  attributes: Map<string, string>;
}

/** Caps on what a client may send in its response, checked while decoding. */
const MAX_USER_BYTES = 256;
const MAX_ATTRIBUTES = 64;

/**
 * Decodes what the client sends after our handshake: an SSLRequest (exactly 32 bytes with
 * CLIENT_SSL) or a HandshakeResponse41. Only protocol 4.1 clients are accepted.
 */
export function decodeHandshakeResponse(payload: Buffer): SslRequest | HandshakeResponse {
  const reader = new PayloadReader(payload);
  const capabilities = reader.u32('client capabilities');
  if (!(capabilities & Capability.Protocol41)) {
    throw new MysqlProtocolError('ERR_HANDSHAKE', 'client does not speak protocol 4.1');
  }
  const maxPacketSize = reader.u32('max packet size');
  const characterSet = reader.u8('character set');
  reader.skip(19, 'filler');
  const extended = reader.u32('extended capabilities');
  const mariadbCapabilities = capabilities & Capability.LongPassword ? 0 : extended;
  if (reader.remaining === 0) {
    if (!(capabilities & Capability.Ssl)) {
      throw new MysqlProtocolError('ERR_HANDSHAKE', 'handshake response ends after its fixed part');
    }
    return { kind: 'ssl-request', capabilities, mariadbCapabilities, maxPacketSize, characterSet };
  }
  const userBytes = reader.nulBytes('user name');
  if (userBytes.length > MAX_USER_BYTES)
    throw new MysqlProtocolError('ERR_HANDSHAKE', 'user name is too long');
  const user = userBytes.toString('utf8');
  let authResponse: Buffer;
  if (capabilities & Capability.PluginAuthLenencClientData)
    authResponse = reader.lenencBytes('auth response');
  else if (capabilities & Capability.SecureConnection)
    authResponse = reader.bytes(reader.u8(), 'auth response');
  else authResponse = reader.nulBytes('auth response');
  let database: string | undefined;
  if (capabilities & Capability.ConnectWithDb && reader.remaining > 0)
    database = reader.nulString('database');
  let authPluginName: string | undefined;
  if (capabilities & Capability.PluginAuth && reader.remaining > 0)
    authPluginName = reader.nulString('plugin');
  const attributes = new Map<string, string>();
  if (capabilities & Capability.ConnectAttrs && reader.remaining > 0) {
    const attrs = new PayloadReader(reader.lenencBytes('connection attributes'));
    while (attrs.remaining > 0) {
      if (attributes.size >= MAX_ATTRIBUTES) {
        throw new MysqlProtocolError('ERR_HANDSHAKE', 'too many connection attributes');
      }
      attributes.set(attrs.lenencString('attribute name'), attrs.lenencString('attribute value'));
    }
  }
  return {
    kind: 'handshake-response',
    capabilities,
    mariadbCapabilities,
    maxPacketSize,
    characterSet,
    user,
    authResponse,
    database: database === '' ? undefined : database,
    authPluginName,
    attributes,
  };
}

/** AuthSwitchRequest: asks the client to answer with another plugin. */
export function encodeAuthSwitchRequest(pluginName: string, data: Buffer = Buffer.alloc(0)): Buffer {
  return new PayloadBuilder(32 + data.length)
    .u8(ResponseHeader.EofOrAuthSwitch)
    .nulText(pluginName)
    .bytes(data)
    .u8(0)
    .build();
}

/**
 * caching_sha2_password's AuthMoreData "perform full authentication" (0x01 0x04): the client then
 * sends its password in clear, which it does only over TLS.
 */
export function encodeFullAuthenticationRequest(): Buffer {
  return Buffer.from([0x01, 0x04]);
}

/** AuthMoreData carrying bytes (0x01 then them): the server's RSA public key, in PEM, when asked. */
export function encodeAuthMoreData(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x01]), data]);
}

/** The password a client sends for mysql_clear_password: its bytes, with a NUL at the end. */
export function decodeClearPassword(payload: Buffer): string {
  const end = payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  return payload.subarray(0, end).toString('utf8');
}
