/** The demo's configuration: one embedded target, a policy for agents and one for the dba. */
export function demoConfigYaml(options: {
  httpListen: string;
  postgresListen: string | undefined;
  shopPort: number;
  redisUrl: string | undefined;
}): string {
  return `# Written by "sluice demo". Use it with the other commands while the demo runs, e.g.
#   sluice recordings list --config <this file>
server:
  http: { listen: ${options.httpListen} }
${options.postgresListen ? `  postgres: { listen: ${options.postgresListen} }\n` : ''}identity:
  gatewayTokens: { ttl: 12h }
targets:
  shop:
    engine: postgres
    host: 127.0.0.1
    port: ${options.shopPort}
    database: postgres
    user: postgres
    tls: disable
    pool: { max: 2 }
    # The embedded Postgres runs statements to their end: psql's Ctrl-C gets a NOTICE saying so.
    cancel: false
    description: a small shop (customers, orders) with personal data
policies:
  - name: agents
    when: { groups: [agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, transaction]
      review: [write, delete]
      deny: [ddl, dcl, admin, file, program, procedural, { effect: write, unbounded: true }, { effect: delete, unbounded: true }]
    masking:
      - columns: [customers.email]
        strategy: email
      - columns: [customers.card_number]
        strategy: partial
        keep: 4
      - detect: [credit-card]
        strategy: redact
    limits: { maxRows: 500, statementTimeout: 30s }
  - name: dba
    when: { groups: [dba], targets: [shop] }
    statements: { default: allow }
recording:
  store: file
  file: { dir: recordings }
${
  options.redisUrl
    ? `  redis: { url: ${options.redisUrl} }
approvals:
  approvers: { groups: [dba] }
  timeout: 10m
  wait: 20s
`
    : ''
}state: { dir: state }
`;
}
