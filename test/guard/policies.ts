import type { PolicyConfig } from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/load.js';

/** The two policies of the statement table, built through the real config loader. */
const yaml = `
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: x, user: x }
policies:
  - name: readonly
    when: { groups: [analysts] }
    statements: { default: deny, allow: [read] }
  - name: readwrite
    when: { groups: [writers] }
    statements:
      default: deny
      allow: [read, { effect: write, unbounded: false }, { effect: delete, unbounded: false }]
      review: [{ effect: write, unbounded: true }, { effect: delete, unbounded: true }]
      deny: [ddl, dcl, file, program, admin]
`;

export function testPolicies(): { readOnly: PolicyConfig; readWrite: PolicyConfig } {
  const config = parseConfigText(yaml);
  const [readOnly, readWrite] = config.policies;
  if (!readOnly || !readWrite) throw new Error('test policies missing');
  return { readOnly, readWrite };
}

export function policyFrom(statements: string): PolicyConfig {
  const config = parseConfigText(`
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: x, user: x }
policies:
  - name: p
    when: { groups: [g] }
    statements: ${statements}
`);
  const policy = config.policies[0];
  if (!policy) throw new Error('policy missing');
  return policy;
}
