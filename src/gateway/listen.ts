import type { Server } from 'node:net';

/** Splits a `host:port` listen address (`[::1]:5433` for IPv6); a bare port means loopback. */
export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  if (i < 0) return { host: '127.0.0.1', port: Number(listen) };
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

/** Starts `server` on a listen address; resolves with the bound address (the real port for port 0). */
export async function listenOn(server: Server, listen: string): Promise<{ host: string; port: number }> {
  const { host, port } = splitListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === 'object' && bound !== null ? { host, port: bound.port } : { host, port };
}
