import t from 'tap';
import { Redis } from 'ioredis';
import { EncodedCommand, RespEncoder } from '../../src/recording/resp.js';
import { REDIS_URL, deleteKeys, testPrefix } from './fixtures/helpers.js';

/** RESP2 as the protocol defines it, built the plain way: what the encoder must write. */
function expected(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

t.test('commands are encoded as RESP2 arrays of bulk strings, ASCII or not, of any length', async (t) => {
  const encoder = new RespEncoder(16);
  const commands: (string | Buffer)[][] = [
    ['xadd', 'sluice:events:0f3c', '12-0', 'h', 'ab'.repeat(32), 'e', Buffer.from('{"a":1}')],
    ['hset', 'k', 'subject', 'ünïcödé ✓ 😀', 'empty', ''],
    ['set', 'x'.repeat(9), 'y'.repeat(10), 'z'.repeat(99), 'w'.repeat(100), 'v'.repeat(1000)],
    ['set', 'a'.repeat(10_000), Buffer.alloc(100_000, 1), `tail é${'q'.repeat(70)}`],
    [],
  ];
  for (const args of commands) encoder.command(args);
  t.equal(encoder.commands, commands.length);
  t.ok(encoder.all().equals(Buffer.concat(commands.map(expected))), 'all commands, back to back');
  for (const [i, args] of commands.entries()) t.ok(encoder.bytesOf(i).equals(expected(args)), `command ${i}`);
});

t.test('Redis reads back what the encoder sent', async (t) => {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  t.teardown(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
  });
  const encoder = new RespEncoder();
  const value = `ünï ${'x'.repeat(300)} 😀`;
  encoder.command(['hset', `${prefix}h`, 'ascii', 'plain', 'utf8', value, 'n', '1234567890']);
  await redis.sendCommand(new EncodedCommand('hset', encoder.all()));
  t.same(await redis.hgetall(`${prefix}h`), { ascii: 'plain', utf8: value, n: '1234567890' });
});
