import t from 'tap';
import {
  DETECTOR_TABLE,
  type DetectorName,
  ibanValid,
  luhnValid,
  newFeatures,
  scanBytes,
  scanText,
} from '../../src/masking/detectors.js';

/** Runs one detector the way the row path does: pre-filter on features, then the full check. */
function finds(name: DetectorName, text: string): boolean {
  const d = DETECTOR_TABLE[name];
  const f = scanText(text, newFeatures());
  return d.candidate(f) && d.matches(text);
}

const positives: Record<DetectorName, string[]> = {
  email: ['alice@example.com', 'write to bob.smith+x@mail.co.uk today'],
  'credit-card': [
    '4111111111111111',
    'card 4111 1111 1111 1111 exp 12/29',
    '5500-0000-0000-0004',
    '378282246310005',
  ],
  'us-ssn': ['123-45-6789', 'ssn: 078 05 1120.'],
  phone: ['(415) 555-2671', '+1 415-555-2671', 'call 415.555.2671', '+442071838750'],
  iban: ['GB82WEST12345698765432', 'iban DE89 3704 0044 0532 0130 00 ok', 'NL91ABNA0417164300'],
  ip: ['10.0.0.1', 'from 192.168.1.254.', '2001:db8::1', 'host fe80::1ff:fe23:4567:890a here'],
  'bearer-token': [
    'Authorization: Bearer abcdef1234567890',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  ],
  'api-key': [
    'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
    'AKIAIOSFODNN7EXAMPLE',
    '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',
    'token=q8Xz3Lr9Vt2Mb7Ns5Kp1Wd4Hf6Jg0Yc8Ue3Ra7Ti',
  ],
};

const negatives: Record<DetectorName, string[]> = {
  email: ['no at sign here', 'user@localhost', '@handle', 'a@b'],
  // 4111111111111112 fails Luhn: a 16-digit number that is not a card.
  'credit-card': ['4111111111111112', '1234567890123', 'order 12345'],
  'us-ssn': [
    '000-12-3456',
    '666-12-3456',
    '900-12-3456',
    '123-00-4567',
    '123-45-0000',
    '123456789',
    '1234-56-7890',
  ],
  phone: ['12345', 'id 4155552671', '123-45-6789', '2024-01-15'],
  iban: ['GB82WEST12345698765431', 'GB00 not an iban', 'XX123'],
  ip: ['256.1.1.1', '1.2.3', 'version 1.2.3.4.5', '12:30:45', 'a::b::c'],
  'bearer-token': ['Bearer', 'the bearer of bad news', 'eyJ alone'],
  'api-key': [
    'just some ordinary words in a sentence',
    'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    '123e4567-e89b-12d3-a456-426614174000',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  ],
};

for (const name of Object.keys(positives) as DetectorName[]) {
  t.test(`${name}: finds real values`, async (t) => {
    for (const text of positives[name]) t.ok(finds(name, text), text);
  });
  t.test(`${name}: ignores near misses`, async (t) => {
    for (const text of negatives[name]) t.notOk(finds(name, text), text);
  });
}

t.test('Luhn and mod-97 checks', async (t) => {
  t.ok(luhnValid('4111111111111111'));
  t.notOk(luhnValid('4111111111111112'));
  t.ok(ibanValid('GB82 WEST 1234 5698 7654 32'));
  t.notOk(ibanValid('GB82WEST12345698765433'));
  t.notOk(ibanValid('GB82'));
});

t.test('byte and text pre-filters see the same features', async (t) => {
  for (const text of [
    'alice@example.com',
    '4111 1111 1111 1111',
    '10.0.0.1',
    'fe80::1',
    'plain words',
    'été 2024',
  ]) {
    const buf = Buffer.from(`xx${text}yy`);
    const fromBytes = scanBytes(buf, 2, buf.length - 2, newFeatures());
    const fromText = scanText(text, newFeatures());
    t.equal(fromBytes.at, fromText.at, text);
    t.equal(fromBytes.digits, fromText.digits, text);
    t.equal(fromBytes.dots, fromText.dots, text);
    t.equal(fromBytes.colons, fromText.colons, text);
  }
});

t.test('the pre-filter rejects ordinary text before any regex', async (t) => {
  const f = scanText('Dear customer, thanks for your order.', newFeatures());
  for (const d of Object.values(DETECTOR_TABLE)) {
    if (d.name === 'bearer-token' || d.name === 'api-key') continue;
    t.notOk(d.candidate(f), d.name);
  }
});

t.test('byte matchers answer as the expressions do, on generated text', async (t) => {
  let seed = 99;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  // Pieces that build near-misses of every shape: digits, separators, '+', parentheses, '@', dots.
  const pieces = [
    '0',
    '1',
    '4',
    '5',
    '6',
    '9',
    '00',
    '000',
    '666',
    '123',
    '415',
    '555',
    '2671',
    '0000',
    '-',
    ' ',
    '.',
    '+',
    '(',
    ')',
    '_',
    '@',
    '@@',
    '..',
    'a',
    'Z',
    'co',
    'com',
    'x-y',
    '%',
    'é',
    '😀',
    '\t',
    '123-45-6789',
    '078 05 1120',
    '(415) 555-2671',
    '+1 415-555-2671',
    '+442071838750',
    'alice@example.com',
    'a@b.c',
    'a@-.co',
  ];
  let checked = 0;
  let found = 0;
  for (const name of ['email', 'us-ssn', 'phone'] as const) {
    const d = DETECTOR_TABLE[name];
    const bytes = d.matchesBytes;
    if (!bytes) {
      t.fail(`${name} has no byte matcher`);
      continue;
    }
    for (let i = 0; i < 20000; i++) {
      let s = '';
      for (let k = 1 + rand(10); k > 0; k--) s += pieces[rand(pieces.length)] as string;
      const buf = Buffer.from(`\u00e9${s}\u00e9`);
      const want = d.matches(s);
      if (bytes(buf, 2, buf.length - 2) !== want) t.fail(`${name} on ${JSON.stringify(s)}: expected ${want}`);
      checked++;
      if (want) found++;
    }
  }
  t.equal(checked, 60000);
  t.ok(found > 5000, `${found} matches among them`);
  // And directly against the positives and negatives above.
  for (const name of ['email', 'us-ssn', 'phone'] as const) {
    const d = DETECTOR_TABLE[name];
    for (const s of [...positives[name], ...negatives[name]]) {
      const buf = Buffer.from(s);
      t.equal(d.matchesBytes?.(buf, 0, buf.length), d.matches(s), `${name}: ${s}`);
    }
  }
});
