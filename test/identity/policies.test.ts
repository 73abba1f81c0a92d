import t from 'tap';
import type { Identity } from '../../src/identity/types.js';
import { reachableTargets, selectPolicy } from '../../src/identity/policies.js';
import { makeConfig } from './fixtures/index.js';

// Policies in the fixture, in file order:
//   agents                   ai-agents           -> orders, legacy
//   dbas                     dba                 -> *
//   agents-everywhere-else   ai-agents, analysts -> *
const config = makeConfig('gatewayTokens: {}');
const who = (groups: string[], target?: string): Identity => ({
  subject: 's',
  groups,
  issuer: 'sluice',
  via: 'gateway',
  ...(target === undefined ? {} : { target }),
});

t.test('the first policy in file order whose groups and targets match is chosen', async (t) => {
  t.equal(selectPolicy(config, who(['ai-agents']), 'orders')?.name, 'agents');
  t.equal(selectPolicy(config, who(['ai-agents']), 'hr')?.name, 'agents-everywhere-else', 'a later * policy');
  t.equal(
    selectPolicy(config, who(['analysts', 'dba']), 'orders')?.name,
    'dbas',
    'file order, not group order',
  );
  t.equal(selectPolicy(config, who(['analysts']), 'legacy')?.name, 'agents-everywhere-else');
});

t.test('an identity matching no policy, or with no groups, gets nothing', async (t) => {
  t.equal(selectPolicy(config, who(['nobody']), 'orders'), undefined);
  t.equal(selectPolicy(config, who([]), 'orders'), undefined);
  t.same(reachableTargets(config, who(['nobody'])), []);
  t.same(reachableTargets(config, who([])), []);
});

t.test('an unknown target is never reachable, even through *', async (t) => {
  t.equal(selectPolicy(config, who(['dba']), 'nowhere'), undefined);
});

t.test('a token bound to a target reaches only that target', async (t) => {
  const bound = who(['dba'], 'legacy');
  t.equal(selectPolicy(config, bound, 'legacy')?.name, 'dbas');
  t.equal(selectPolicy(config, bound, 'orders'), undefined);
  t.same(reachableTargets(config, bound), ['legacy']);
  t.same(
    reachableTargets(config, who(['nobody'], 'legacy')),
    [],
    'binding does not grant what groups do not',
  );
});

t.test('reachable targets are listed in configuration order', async (t) => {
  t.same(reachableTargets(config, who(['dba'])), ['orders', 'legacy', 'hr']);
  const onlyAgents = makeConfig('gatewayTokens: {}');
  onlyAgents.policies.splice(1);
  t.same(reachableTargets(onlyAgents, who(['ai-agents'])), ['orders', 'legacy']);
});
