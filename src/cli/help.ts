/** Help texts, one per command. Every command answers --help. */
export const MAIN_HELP = `sluice — an identity-aware gateway between AI agents and databases

Usage: sluice <command> [options]

Commands:
  serve       run the gateway: HTTP (MCP, API), Postgres and MySQL listeners
  demo        run a self-contained demo (embedded Postgres, sample data, demo policy)
  mcp         serve MCP over stdio, for desktop agents
  check       explain the decision for a statement under a policy (--replay: a recorded session)
  policy      diff: how a policy change would have decided recorded statements
  token       mint a short-lived gateway token (operator command)
  recordings  list, show, replay, export and verify session recordings
  approvals   list, approve and deny statements waiting for review

Run "sluice <command> --help" for the options of a command.
`;

export const SERVE_HELP = `Usage: sluice serve [--config FILE]

Runs the gateway with the listeners the config names under server:
  server.http.listen       MCP over Streamable HTTP at /mcp, /api/tokens, /healthz, /readyz
  server.postgres.listen   the Postgres listener (psql and drivers)
  server.mysql.listen      the MySQL listener

Options:
  --config FILE   the YAML configuration (default: $SLUICE_CONFIG, else sluice.yaml)
  --help          this text
`;

export const MCP_HELP = `Usage: sluice mcp [--config FILE] [--token TOKEN]

Serves MCP over stdio for a desktop agent. The agent's identity comes from a token:
--token, or the SLUICE_TOKEN environment variable (an OIDC token or a Sluice token).

Options:
  --config FILE   the YAML configuration (default: $SLUICE_CONFIG, else sluice.yaml)
  --token TOKEN   the caller's token (default: $SLUICE_TOKEN)
  --help          this text
`;

export const DEMO_HELP = `Usage: sluice demo [--dir DIR] [--http-port N] [--pg-port N] [--redis URL|off]

Runs Sluice with nothing to set up: an embedded Postgres (PGlite) seeded with a small shop,
a demo policy (agents: reads allowed, email and card numbers masked, writes reviewed, DDL
denied; dba: everything), file recordings, the HTTP (MCP) and Postgres listeners on loopback,
and two ready tokens. Approvals use Redis when one answers at --redis (default
redis://127.0.0.1:6379); without it, reviewed statements are refused. A port that is
taken is reported before anything starts (exit status 1).

Options:
  --dir DIR        where the demo keeps its config, key and recordings (default .sluice-demo)
  --http-port N    HTTP listener port (default 8080; 0: any free port)
  --pg-port N      Postgres listener port (default 15432; 0: any free port)
  --redis URL|off  Redis for approvals (default redis://127.0.0.1:6379)
  --help           this text
`;
