import { createServer } from 'node:net';

/** A port a command is about to listen on, with the flag that changes it. */
export interface PlannedPort {
  readonly port: number;
  readonly what: string;
  readonly flag: string;
}

/**
 * Checks, before any slow start, that each planned port can be listened on at `host`: binds it
 * and lets it go. Port 0 (any free port) always passes. Returns a message naming the first port
 * that cannot be taken and the flag to change it, or undefined when all are free.
 */
export async function firstBusyPort(
  host: string,
  ports: readonly PlannedPort[],
): Promise<string | undefined> {
  for (const planned of ports) {
    if (planned.port === 0) continue;
    const error = await tryListen(host, planned.port);
    if (error) {
      const why = error === 'EADDRINUSE' ? 'is already in use' : `cannot be listened on (${error})`;
      return `port ${planned.port} on ${host} (${planned.what}) ${why}; choose another with ${planned.flag} <port>, or ${planned.flag} 0 for any free port`;
    }
  }
  return undefined;
}

function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** A port flag's value: an integer 0-65535, or an error message naming the flag. */
export function parsePort(value: string | undefined, fallback: number, flag: string): number | string {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) return `${flag} must be a port number (0-65535), got "${value}"`;
  return port;
}
