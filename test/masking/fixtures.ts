import { parse } from 'libpg-query';
import nodeSqlParser from 'node-sql-parser';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import type { GuardVerdict, ResultColumn, SessionContext } from '../../src/gateway/types.js';
import { createStaticCatalog, type CatalogRelation } from '../../src/masking/catalog.js';
import { compileMaskingPolicy, type CompiledMaskingPolicy } from '../../src/masking/policy.js';
import { LineageMasking } from '../../src/masking/stage.js';

/** A shop schema as a fake in-memory catalog: customers (masked columns), orders, a view. */
export const relations: CatalogRelation[] = [
  {
    schema: 'public',
    name: 'customers',
    kind: 'table',
    oid: 16400,
    columns: ['id', 'name', 'email', 'ssn', 'phone'],
    attnums: [1, 2, 3, 4, 5],
  },
  {
    schema: 'public',
    name: 'orders',
    kind: 'table',
    oid: 16410,
    columns: ['id', 'customer_id', 'total'],
    attnums: [1, 2, 3],
  },
  {
    schema: 'public',
    name: 'customer_contacts',
    kind: 'view',
    oid: 16420,
    columns: ['id', 'contact', 'name'],
    attnums: [1, 2, 3],
    definition: 'SELECT c.id, lower(c.email) AS contact, c.name FROM public.customers c',
  },
  {
    schema: 'public',
    name: 'customer_names',
    kind: 'view',
    oid: 16430,
    columns: ['id', 'name', 'email'],
    attnums: [1, 2, 3],
    definition: 'SELECT id, name, email FROM customer_contacts_raw',
  },
  {
    schema: 'shop',
    name: 'customers',
    kind: 'table',
    columns: ['id', 'name', 'email', 'ssn'],
  },
];

export const policyYaml = (extra = '', masking?: string) => `
targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader }
masking: { hashKey: test-key }
policies:
  - name: agents
    when: { groups: [ai-agents] }
${extra}
    masking:
${
  masking ??
  `      - columns: [customers.email]
        strategy: email
      - columns: ["*.ssn"]
        strategy: partial
        keep: 4
      - columns: [public.customers.phone]
        strategy: hash`
}
`;

export function compiledPolicy(extra = '', masking?: string): CompiledMaskingPolicy {
  const config = parseConfigText(policyYaml(extra, masking));
  const policy = config.policies[0];
  if (!policy) throw new Error('no policy');
  return compileMaskingPolicy(policy, config.masking.hashKey);
}

export const session = (dialect: 'postgres' | 'mysql' = 'postgres'): SessionContext => ({
  id: 's1',
  identity: { subject: 'agent', groups: ['ai-agents'], issuer: 'test', via: 'operator' },
  target: 'orders',
  dialect,
  channel: dialect,
});

export const logger = pino({ level: 'silent' });

export function stage(policy: CompiledMaskingPolicy | undefined, dialect: 'postgres' | 'mysql' = 'postgres') {
  const catalog = createStaticCatalog({
    dialect,
    relations,
    searchPath: dialect === 'postgres' ? ['pg_catalog', 'public'] : ['shop'],
    userFunctions: ['get_secret'],
  });
  return new LineageMasking({ rulesFor: () => policy, catalogFor: () => catalog, logger });
}

export async function pgVerdict(sql: string): Promise<GuardVerdict> {
  return { action: 'allow', reason: '', rule: '', statements: [], parsed: await parse(sql) };
}

export function mysqlVerdict(sql: string): GuardVerdict {
  return {
    action: 'allow',
    reason: '',
    rule: '',
    statements: [],
    parsed: new nodeSqlParser.Parser().astify(sql, { database: 'MySQL' }),
  };
}

/** Computed result columns (no wire origin), named. */
export const computed = (...names: string[]): ResultColumn[] =>
  names.map((name) => ({ name, type: 'text', typeOid: 25 }));
