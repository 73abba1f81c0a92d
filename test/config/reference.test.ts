import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigReference } from '../../src/config/reference.js';

t.test('docs/configuration.md is the reference generated from the schema', async (t) => {
  const committed = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
  t.equal(committed, renderConfigReference(), 'run npm run docs:config after changing src/config/schema.ts');
});

t.test('the reference names every documented key of the design', async (t) => {
  const text = renderConfigReference();
  for (const key of [
    'server.http.listen',
    'identity.oidc[].groupsClaim',
    'identity.gatewayTokens.signingKey',
    'targets.<name>.password',
    'policies[].statements.deny',
    'policies[].masking[].strategy',
    'policies[].limits.maxRows',
    'recording.onStoreFailure',
    'approvals.approvers.groups',
  ]) {
    t.match(text, `| \`${key}\` |`, key);
  }
});
