import t from 'tap';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

const base = `
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: shop, user: reader }
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, { env: { CONSOLE_SECRET: 's3cret' } });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

t.test('console keys: defaults, a secret reference, and their problems by key path', async (t) => {
  const plain = parseConfigText(base, { env: {} });
  t.match(plain.console, {
    clientId: undefined,
    clientSecret: undefined,
    auditors: { groups: [] },
    sessionTtl: 8 * 3_600_000,
  });
  const oidc = `${base}
identity: { oidc: [{ issuer: "https://idp.example.com", audience: sluice }] }
`;
  const withClient = parseConfigText(
    `${oidc}console: { clientId: c1, clientSecret: env:CONSOLE_SECRET, sessionTtl: 1h }`,
    {
      env: { CONSOLE_SECRET: 's3cret' },
    },
  );
  t.equal(withClient.console.clientSecret?.reveal(), 's3cret');
  t.equal(JSON.stringify(withClient.console.clientSecret), '"[secret]"', 'the secret never prints');
  t.equal(withClient.console.sessionTtl, 3_600_000);
  t.same(problems(`${base}console: { clientId: c1 }`), [
    'console.clientId: sign-in needs an issuer in identity.oidc',
  ]);
  t.same(problems(`${oidc}console: { clientId: c1, issuer: "https://other.example.com" }`), [
    'console.issuer: https://other.example.com is not one of identity.oidc',
  ]);
  t.same(problems(`${oidc}console: { clientSecret: x }`), ['console.clientSecret: set console.clientId too']);
  t.same(problems(`${oidc}console: { clientId: c1, clientSecret: env:MISSING }`).length, 1);
  t.match(problems(`${base}console: { colour: blue }`), [/console\.colour: unknown key/]);
});
