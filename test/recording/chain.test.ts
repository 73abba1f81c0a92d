import t from 'tap';
import { CanonicalText, canonicalJson, canonicalRow } from '../../src/recording/canonical.js';
import { GENESIS_HASH, eventHash, sealEvent, storedJson, verifyChain } from '../../src/recording/chain.js';
import type { RecordingEvent } from '../../src/recording/types.js';
import { createHash } from 'node:crypto';

t.test('canonical JSON sorts keys, drops undefined members and has no whitespace', async (t) => {
  t.equal(
    canonicalJson({ b: 1, a: [1, 'x', null, undefined], c: undefined, A: true }),
    '{"A":true,"a":[1,"x",null,null],"b":1}',
  );
  t.equal(canonicalJson({ z: { y: 2, x: 1 } }), '{"z":{"x":1,"y":2}}');
  t.equal(canonicalJson(-0), '0');
});

t.test('values JSON cannot carry are encoded so a reader parses back what was hashed', async (t) => {
  const row = [
    12345678901234567890n,
    Buffer.from('hi'),
    new Date(0),
    NaN,
    Infinity,
    true,
    undefined,
    () => 1,
    { toJSON: () => 'custom' },
  ];
  const text = canonicalRow(row);
  t.equal(
    text,
    '["12345678901234567890","aGk=","1970-01-01T00:00:00.000Z","NaN","Infinity",true,null,null,"custom"]',
  );
  t.equal(canonicalJson(JSON.parse(text)), text, 'canonical form is stable through a JSON round trip');
  t.equal(canonicalJson(new Date(NaN)), '"Invalid Date"');
  t.equal(
    canonicalJson(new Uint8Array([1, 2, 3]).subarray(1)),
    '"AgM="',
    'a view is encoded from its own offset',
  );
  t.equal(canonicalJson(new CanonicalText('[1,2]')), '[1,2]');
});

t.test('deeply nested values are cut instead of recursing without bound', async (t) => {
  let deep: unknown = 'end';
  for (let i = 0; i < 100; i++) deep = { d: deep };
  t.match(canonicalJson(deep), /nested too deep/);
});

t.test(
  'an event hash is sha256 over prevHash followed by the canonical event without its hash',
  async (t) => {
    const fields = { seq: 1, ts: 5, session: 's', type: 'session.start', prevHash: GENESIS_HASH };
    const { hash, body } = sealEvent(fields);
    const json = storedJson(body, hash).toString();
    const expected = createHash('sha256')
      .update(
        GENESIS_HASH +
          '{"prevHash":"' +
          GENESIS_HASH +
          '","seq":1,"session":"s","ts":5,"type":"session.start"}',
      )
      .digest('hex');
    t.equal(hash, expected);
    t.same(JSON.parse(json), { ...fields, hash });
    t.equal(GENESIS_HASH, '0'.repeat(64));
  },
);

function chain(session: string, n: number): RecordingEvent[] {
  const events: RecordingEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const type = seq === 1 ? 'session.start' : 'statement';
    const { body, hash } = sealEvent({ seq, ts: seq, session, type, sql: `select ${seq}`, prevHash });
    const json = storedJson(body, hash).toString();
    events.push(JSON.parse(json) as RecordingEvent);
    prevHash = hash;
  }
  return events;
}

t.test('an intact chain verifies and reports its length and last hash', async (t) => {
  const events = chain('s1', 5);
  const verdict = await verifyChain('s1', events, { events: 5, lastHash: events[4]?.hash });
  t.same(verdict, { ok: true, session: 's1', events: 5, lastHash: events[4]?.hash });
});

t.test('verify names the first broken event for each kind of tampering', async (t) => {
  const edited = chain('s1', 5);
  (edited[2] as RecordingEvent).sql = 'select 0';
  t.match(await verifyChain('s1', edited), { ok: false, seq: 3, reason: /hash does not match/ });

  const removed = chain('s1', 5);
  removed.splice(2, 1);
  t.match(await verifyChain('s1', removed), { ok: false, seq: 3, reason: /expected seq 3, found 4/ });

  const rehashed = chain('s1', 5);
  const third = rehashed[2] as RecordingEvent;
  third.sql = 'select 0';
  const { hash: _h, ...body } = third;
  third.hash = eventHash(third.prevHash, canonicalJson(body));
  t.match(
    await verifyChain('s1', rehashed),
    { ok: false, seq: 4, reason: /prevHash/ },
    'a re-hashed edit breaks the next link',
  );

  t.match(await verifyChain('s2', chain('s1', 2)), { ok: false, seq: 1, reason: /belongs to session s1/ });

  const headless = chain('s1', 3)
    .slice(1)
    .map((e) => ({ ...e, seq: e.seq - 1 }));
  t.match(await verifyChain('s1', headless), { ok: false, seq: 1 });

  const startless = chain('s1', 2);
  (startless[0] as RecordingEvent).type = 'statement';
  t.match(await verifyChain('s1', startless), { ok: false, seq: 1, reason: /not session.start/ });

  t.match(await verifyChain('s1', chain('s1', 3), { events: 5 }), {
    ok: false,
    seq: 4,
    reason: /recorded 5 events, only 3/,
  });
  t.match(await verifyChain('s1', chain('s1', 3), { events: 3, lastHash: 'f'.repeat(64) }), {
    ok: false,
    seq: 3,
    reason: /last hash differs/,
  });
});

t.test('the stored form of an event with no other members is still one JSON object', async (t) => {
  t.equal(storedJson(Buffer.from('{}'), 'ab').toString(), '{"hash":"ab"}');
});
