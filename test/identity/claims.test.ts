import t from 'tap';
import { readClaim, readGroups, readStringClaim } from '../../src/identity/claims.js';

const payload = {
  sub: 'agent-7',
  groups: ['a', 'b', 'a', 7, '', null],
  role: 'admin',
  realm_access: { roles: ['ai-agents'] },
  resource_access: { sluice: { roles: ['dba'] } },
  'https://example.com/groups': ['namespaced'],
  odd: { list: [{ nested: 'x' }] },
  count: 3,
};

t.test('groups come from plain, dotted and deeply nested claim paths', async (t) => {
  t.same(readGroups(payload, 'groups'), ['a', 'b'], 'non-strings, empties and repeats are dropped');
  t.same(readGroups(payload, 'realm_access.roles'), ['ai-agents']);
  t.same(readGroups(payload, 'resource_access.sluice.roles'), ['dba']);
  t.same(
    readGroups(payload, 'https://example.com/groups'),
    ['namespaced'],
    'a claim named with dots is found',
  );
});

t.test('a string claim is one group; missing or odd claims are no groups', async (t) => {
  t.same(readGroups(payload, 'role'), ['admin']);
  t.same(readGroups({ role: '' }, 'role'), []);
  t.same(readGroups(payload, 'missing'), []);
  t.same(readGroups(payload, 'realm_access.missing'), []);
  t.same(readGroups(payload, 'count'), []);
  t.same(readGroups(payload, 'realm_access'), [], 'an object is not a group list');
  t.same(readGroups(payload, 'odd.list.nested'), [], 'paths do not walk into arrays');
  t.same(readGroups(payload, 'sub.length'), [], 'paths do not walk into strings');
});

t.test('claim lookups never reach inherited properties', async (t) => {
  t.equal(readClaim(payload, 'constructor'), undefined);
  t.equal(readClaim(payload, 'realm_access.__proto__'), undefined);
  t.equal(readClaim(payload, 'realm_access.toString'), undefined);
});

t.test('a string claim is read only when it is a non-empty string', async (t) => {
  t.equal(readStringClaim(payload, 'sub'), 'agent-7');
  t.equal(readStringClaim(payload, 'count'), undefined);
  t.equal(readStringClaim({ sub: '' }, 'sub'), undefined);
});
