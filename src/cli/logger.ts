import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * The process logger. It writes JSON lines to stderr: stdout belongs to command output and, for
 * `sluice mcp`, to the MCP protocol itself. Secrets are redacted by key as a second line of defence
 * (Secret values already print as placeholders).
 */
export function createLogger(level: LevelWithSilent = 'info', destination: number = 2): Logger {
  return pino(
    {
      level,
      base: { service: 'sluice' },
      redact: {
        paths: [
          'password',
          '*.password',
          'token',
          '*.token',
          'authorization',
          '*.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: destination, sync: false }),
  );
}
