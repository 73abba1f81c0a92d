import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { demoConfigYaml } from '../demo/config.js';
import { startEmbeddedPostgres } from '../demo/embedded-postgres.js';
import { HttpServer } from '../http/server.js';
import { assembleGateway } from './assemble.js';
import { DEMO_HELP } from './help.js';
import type { CommandIO } from './io.js';
import { createLogger } from './logger.js';
import { startListeners } from './listeners.js';
import { firstBusyPort, parsePort } from './port-check.js';

/** `sluice demo`: everything on loopback, nothing to install but Node. */
export async function runDemo(argv: string[], io: CommandIO, signal?: AbortSignal): Promise<number> {
  let values: { dir?: string; 'http-port'?: string; 'pg-port'?: string; help?: boolean; redis?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        'http-port': { type: 'string' },
        'pg-port': { type: 'string' },
        redis: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`sluice demo: ${(err as Error).message}\n\n${DEMO_HELP}`);
    return 2;
  }
  if (values.help) {
    io.stdout(DEMO_HELP);
    return 0;
  }
  const dir = resolve(values.dir ?? '.sluice-demo');
  mkdirSync(dir, { recursive: true });
  const httpPort = parsePort(values['http-port'], 8080, '--http-port');
  const pgPort = parsePort(values['pg-port'], 15432, '--pg-port');
  if (typeof httpPort === 'string' || typeof pgPort === 'string') {
    io.stderr(`sluice demo: ${typeof httpPort === 'string' ? httpPort : pgPort}\n`);
    return 2;
  }
  // Checked before the embedded Postgres starts (it takes a while), so a clash is told at once.
  const busy = await firstBusyPort('127.0.0.1', [
    { port: httpPort, what: 'HTTP: MCP and API', flag: '--http-port' },
    { port: pgPort, what: 'Postgres listener', flag: '--pg-port' },
  ]);
  if (busy) {
    io.stderr(`sluice demo: ${busy}\n`);
    return 1;
  }
  const redisUrl = values.redis ?? 'redis://127.0.0.1:6379';
  const redisUp = values.redis === 'off' ? false : await reachable(redisUrl);

  const shop = await startEmbeddedPostgres();
  const configFile = join(dir, 'sluice.yaml');
  writeFileSync(
    configFile,
    demoConfigYaml({
      httpListen: `127.0.0.1:${httpPort}`,
      postgresListen: `127.0.0.1:${pgPort}`,
      shopPort: shop.port,
      redisUrl: redisUp ? redisUrl : undefined,
    }),
  );
  const config = loadConfigFile(configFile, io.env);
  const logger = createLogger(io.env.SLUICE_LOG_LEVEL === undefined ? 'warn' : config.logging.level);
  const parts = await assembleGateway(config, logger);
  const http = new HttpServer({
    gateway: parts.gateway,
    authenticator: parts.authenticator,
    recorder: parts.recorder,
    ...(parts.approvals ? { approvals: parts.approvals.service } : {}),
    logger,
  });
  await http.listen('127.0.0.1', httpPort);
  const listeners = await startListeners(parts, config, logger);

  const agent = await parts.authenticator.mint({ subject: 'agent', groups: ['agents'] });
  const dba = await parts.authenticator.mint({ subject: 'dba', groups: ['dba'] });
  const pg = listeners.postgres;
  const psql = (user: string, token: string) =>
    pg
      ? `PGPASSWORD='${token}' psql "host=127.0.0.1 port=${pg.port} dbname=shop user=${user} sslmode=require"`
      : '(the Postgres listener is not available in this build)';
  io.stdout(`
Sluice demo is running. Everything stays on this machine; Ctrl-C stops it.

  Database   "shop" (embedded Postgres): customers with emails, phones and card numbers; orders
  Policy     agents: reads allowed, email and card numbers masked, writes ${redisUp ? 'wait for a dba to approve' : 'refused (approvals need Redis on 127.0.0.1:6379)'}, DDL denied
             dba: everything, nothing masked
  Recording  ${join(dir, 'recordings')}

psql as the agent:
  ${psql('agent', agent)}
psql as the dba:
  ${psql('dba', dba)}

Web console: ${http.baseUrl}/  (sign in by pasting the DBA token: approvals queue, sessions, replay, export)

MCP (Streamable HTTP): ${http.baseUrl}/mcp  with header  Authorization: Bearer <agent token>
A desktop agent's MCP config (stdio):
  { "mcpServers": { "sluice": { "command": "npx", "args": ["sluice", "mcp", "--config", "${configFile}"],
                                "env": { "SLUICE_TOKEN": "<agent token>" } } } }

Agent token:
${agent}

DBA token:
${dba}

Try, as the agent:  SELECT * FROM customers LIMIT 3;   DROP TABLE orders;   UPDATE orders SET status = 'paid' WHERE id = 1;
${redisUp ? `Approve as the dba:  in the web console (${http.baseUrl}/approvals), or\n                     npx sluice approvals list --config ${configFile} --token <dba token>\n` : ''}Replay afterwards:   npx sluice recordings list --config ${configFile}
                     npx sluice recordings replay --config ${configFile} --session <id>
`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
  io.stdout('\nStopping the demo…\n');
  await listeners.close();
  await http.close();
  await parts.close();
  await shop.close();
  logger.flush();
  return 0;
}

/** Whether something answers at a redis:// URL's host and port (a short TCP probe). */
function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolveProbe) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolveProbe(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
