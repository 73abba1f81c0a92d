import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { SHOP_SCHEMA, shopRows } from './seed.js';

export interface EmbeddedPostgres {
  port: number;
  close(): Promise<void>;
}

/**
 * An in-memory Postgres (PGlite, WebAssembly) seeded with the shop, served on a loopback port so
 * that Sluice reaches it over the wire exactly as it reaches a real server.
 */
export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const db = new PGlite();
  await db.exec(SHOP_SCHEMA);
  await db.exec(shopRows());
  // PGlite runs one statement at a time; the socket server queues what several connections send.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  return {
    port,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
