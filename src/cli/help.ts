/** Help texts, one per command. Every command answers --help. */
export const MAIN_HELP = `sluice — an identity-aware gateway between AI agents and databases

Usage: sluice <command> [options]

Commands:
  serve       run the gateway: HTTP (MCP, API), Postgres and MySQL listeners
  demo        run a self-contained demo (embedded Postgres, sample data, demo policy)
  mcp         serve MCP over stdio, for desktop agents
  check       explain the decision for a statement under a policy
  token       mint a short-lived gateway token (operator command)
  recordings  list, show, replay, export and verify session recordings
  approvals   list, approve and deny statements waiting for review

Run "sluice <command> --help" for the options of a command.
`;

export const SERVE_HELP = `Usage: sluice serve --config FILE

Runs the gateway with the listeners the config names under server:
  server.http.listen       MCP over Streamable HTTP at /mcp, /api/tokens, /healthz, /readyz
  server.postgres.listen   the Postgres listener (psql and drivers)
  server.mysql.listen      the MySQL listener

Options:
  --config FILE   the YAML configuration (required)
  --help          this text
`;

export const MCP_HELP = `Usage: sluice mcp --config FILE [--token TOKEN]

Serves MCP over stdio for a desktop agent. The agent's identity comes from a token:
--token, or the SLUICE_TOKEN environment variable (an OIDC token or a Sluice token).

Options:
  --config FILE   the YAML configuration (required)
  --token TOKEN   the caller's token (default: $SLUICE_TOKEN)
  --help          this text
`;

export const DEMO_HELP = `Usage: sluice demo

Not available yet: the self-contained demo (embedded Postgres with sample data, file recordings,
a demo policy and ready tokens) is planned. Use "sluice serve --config FILE" against your own
database in the meantime.
`;
