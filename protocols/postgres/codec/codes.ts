/**
 * Message codes of the Postgres frontend/backend protocol 3.0.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Type bytes of messages a client (frontend) sends after startup. */
export const FrontendCode = {
  Bind: 0x42, // B
  Close: 0x43, // C
  Describe: 0x44, // D
  Execute: 0x45, // E
  FunctionCall: 0x46, // F
  Flush: 0x48, // H
  Parse: 0x50, // P
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  CopyFail: 0x66, // f
  /** PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share this byte. */
  AuthenticationResponse: 0x70, // p
} as const;
export type FrontendCode = (typeof FrontendCode)[keyof typeof FrontendCode];

/**
 * Request codes of the untyped startup packets. The reader reports a startup packet with its
 * request code as the frame type; every one of them is above 0xff, so it never collides with a
 * type byte. Any protocol 3.x StartupMessage is reported as `StartupMessage` (3.0).
 */
export const StartupCode = {
  StartupMessage: 0x0003_0000, // 196608: protocol 3.0
  CancelRequest: 80877102,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
} as const;
export type StartupCode = (typeof StartupCode)[keyof typeof StartupCode];

/** Type bytes of messages the server (backend) sends. */
export const BackendCode = {
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NotificationResponse: 0x41, // A
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  EmptyQueryResponse: 0x49, // I
  BackendKeyData: 0x4b, // K
  NoticeResponse: 0x4e, // N
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  NegotiateProtocolVersion: 0x76, // v
  FunctionCallResponse: 0x56, // V
  ReadyForQuery: 0x5a, // Z
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  NoData: 0x6e, // n
  PortalSuspended: 0x73, // s
  ParameterDescription: 0x74, // t
} as const;
export type BackendCode = (typeof BackendCode)[keyof typeof BackendCode];

/** Sub-codes of the Authentication ('R') message. */
export const AuthenticationCode = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;
