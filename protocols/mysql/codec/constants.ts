/** Capability flags (include/mysql_com.h, CLIENT_*). */
export const enum Capability {
  LongPassword = 0x00000001,
  FoundRows = 0x00000002,
  LongFlag = 0x00000004,
  ConnectWithDb = 0x00000008,
  NoSchema = 0x00000010,
  Compress = 0x00000020,
  LocalFiles = 0x00000080,
  IgnoreSpace = 0x00000100,
  Protocol41 = 0x00000200,
  Interactive = 0x00000400,
  Ssl = 0x00000800,
  Transactions = 0x00002000,
  SecureConnection = 0x00008000,
  MultiStatements = 0x00010000,
  MultiResults = 0x00020000,
  PsMultiResults = 0x00040000,
  PluginAuth = 0x00080000,
  ConnectAttrs = 0x00100000,
  PluginAuthLenencClientData = 0x00200000,
  SessionTrack = 0x00800000,
  DeprecateEof = 0x01000000,
}

/**
 * What our server offers. Deliberately absent: COMPRESS (another framing to guard), DEPRECATE_EOF
 * (kept simple: EOF packets). LOCAL_FILES is offered: a client's file is asked for only when its
 * own LOAD DATA LOCAL INFILE names it and the target asks for that same file.
 * MULTI_STATEMENTS is offered, but the target never sees a text of several statements: the
 * listener sends them one by one (each as the guard read it) and relays their results in turn.
 * CLIENT_SSL is added only when a TLS context is configured.
 */
export const SERVER_CAPABILITIES =
  Capability.LongPassword |
  Capability.FoundRows |
  Capability.LongFlag |
  Capability.ConnectWithDb |
  Capability.Protocol41 |
  Capability.Interactive |
  Capability.LocalFiles |
  Capability.Transactions |
  Capability.SecureConnection |
  Capability.MultiStatements |
  Capability.MultiResults |
  Capability.PsMultiResults |
  Capability.PluginAuth |
  Capability.ConnectAttrs |
  Capability.PluginAuthLenencClientData;

/**
 * MariaDB's extended capabilities, carried in the last four reserved bytes of the greeting and of
 * the client's response when CLIENT_MYSQL (LongPassword) is unset. The one we speak: column
 * definitions with the extended type (uuid, inet6, point) and format (json) of each column.
 */
export const MARIADB_EXTENDED_METADATA = 0x08;

/** Server status flags (SERVER_STATUS_*). */
export const enum ServerStatus {
  InTransaction = 0x0001,
  Autocommit = 0x0002,
  MoreResultsExist = 0x0008,
}

/** Command bytes of the command phase (COM_*). */
export const enum CommandByte {
  Quit = 0x01,
  InitDb = 0x02,
  Query = 0x03,
  FieldList = 0x04,
  Statistics = 0x09,
  Ping = 0x0e,
  ChangeUser = 0x11,
  StmtPrepare = 0x16,
  StmtExecute = 0x17,
  StmtSendLongData = 0x18,
  StmtClose = 0x19,
  StmtReset = 0x1a,
  SetOption = 0x1b,
  ResetConnection = 0x1f,
}

/** First byte of a response payload. 0xfe is EOF in a result set and AuthSwitchRequest during auth. */
export const enum ResponseHeader {
  Ok = 0x00,
  EofOrAuthSwitch = 0xfe,
  Err = 0xff,
}

/** Error numbers our server sends (include/mysqld_error.h). */
export const enum ServerErrno {
  AccessDenied = 1045,
  UnknownCommand = 1047,
  HandshakeError = 1043,
  NetPacketTooLarge = 1153,
  UnknownCharacterSet = 1115,
  SecureTransportRequired = 3159,
}

export const CLEAR_PASSWORD_PLUGIN = 'mysql_clear_password';
export const NATIVE_PASSWORD_PLUGIN = 'mysql_native_password';
/** MySQL 8's default: over TLS its full authentication sends the password in clear, inside TLS. */
export const CACHING_SHA2_PLUGIN = 'caching_sha2_password';
