import type { ApprovalRequest } from './types.js';

/** Longest statement quoted in a chat message; Slack refuses a section text over 3,000 characters. */
const MAX_QUOTED_SQL = 2_500;

/** Slack mrkdwn treats &, < and > as markup: a statement must not be able to forge links or mentions. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function quoted(sql: string): string {
  const cut =
    sql.length > MAX_QUOTED_SQL ? `${sql.slice(0, MAX_QUOTED_SQL)}… (${sql.length} characters)` : sql;
  // A statement containing ``` would end the code block early; break the fence with a zero-width space.
  return escapeSlack(cut).replace(/```/g, '``\u200b`');
}

function how(request: ApprovalRequest, publicUrl: string | undefined): string {
  const api = `${publicUrl ? publicUrl.replace(/\/+$/, '') : ''}/api/approvals/${request.id}/approve`;
  return `Approve: \`sluice approvals approve ${request.id}\` or \`POST ${api}\`; deny: \`sluice approvals deny ${request.id} --reason "..."\``;
}

/** A Slack-compatible incoming-webhook body: `text` for notifications, `blocks` for the message. */
export function slackMessage(
  request: ApprovalRequest,
  publicUrl?: string,
): { text: string; blocks: Array<Record<string, unknown>> } {
  const who = escapeSlack(request.requester.subject);
  const estimate = request.rowEstimate === undefined ? '' : `, about ${request.rowEstimate} rows`;
  const summary =
    `Approval request ${request.id}: ${who} wants to run a statement on ${escapeSlack(request.target)} ` +
    `(${escapeSlack(request.effects.join(', ') || 'unknown effect')}${estimate}); expires ${new Date(request.expiresAt).toISOString()}`;
  const details = [
    `*Request* \`${request.id}\``,
    `*Requester* ${who} (${escapeSlack(request.requester.issuer)}; groups ${escapeSlack(request.requester.groups.join(', ') || 'none')})`,
    `*Target* ${escapeSlack(request.target)} via ${request.channel}`,
    `*Effects* ${escapeSlack(request.effects.join(', ') || 'unknown')} on ${escapeSlack(request.objects.join(', ') || 'no named object')}${estimate}`,
    `*Why review* ${escapeSlack(request.guard.reason)} (${escapeSlack(request.guard.rule)})`,
  ].join('\n');
  return {
    text: summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: details } },
      { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${quoted(request.sql)}\`\`\`` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: how(request, publicUrl) }] },
    ],
  };
}

/** The `format: json` body: the request itself, with an event name receivers can route on. */
export function jsonMessage(request: ApprovalRequest): Record<string, unknown> {
  return { event: 'approval.requested', request };
}
