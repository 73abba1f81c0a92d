import type { GuardStage, GuardVerdict, SessionContext } from '../types.js';
import { quoteIdent, quoteLiteral } from './sql-quote.js';

/**
 * Startup parameters that are not settings: who and where (user, database), the encoding the
 * relay fixes at UTF8, and protocol options (`_pq_.`), which the connection answers itself.
 */
const NOT_SETTINGS = new Set(['user', 'database', 'client_encoding']);

export type StartupSettings = { ok: true; settings: Record<string, string> } | { ok: false; message: string };

/**
 * The settings a StartupMessage asks for, each decided as the SET it stands for: a GUC given as
 * its own parameter (`statement_timeout=5s`) or in `options` (`-c name=value`, `--name=value`).
 * Allowed ones are passed on to the target as startup parameters; the first one the policy does
 * not allow refuses the startup, naming it. Replication connections are refused.
 */
export async function decideStartupSettings(
  parameters: ReadonlyMap<string, string>,
  guard: GuardStage,
  session: SessionContext,
  /** Masking's check of the SET (a search path it would not follow); throws its refusal. */
  precheck?: (sql: string, verdict: GuardVerdict) => Promise<void>,
): Promise<StartupSettings> {
  const wanted: [string, string][] = [];
  for (const [name, value] of parameters) {
    const key = name.toLowerCase();
    if (NOT_SETTINGS.has(key) || key.startsWith('_pq_.')) continue;
    if (key === 'replication') {
      return { ok: false, message: 'replication connections are not available through Sluice' };
    }
    if (key === 'options') {
      const parsed = parseOptions(value);
      if (!parsed.ok) return parsed;
      wanted.push(...parsed.settings);
      continue;
    }
    wanted.push([name, value]);
  }
  const settings: Record<string, string> = {};
  for (const [name, value] of wanted) {
    if (!/^[A-Za-z_][A-Za-z0-9_.$]*$/.test(name)) {
      return { ok: false, message: `startup parameter "${name}" is not a setting name` };
    }
    const sql = `SET ${quoteIdent(name)} TO ${quoteLiteral(value)}`;
    const verdict = await guard.check(sql, session);
    if (verdict.action === 'allow' && precheck !== undefined) {
      try {
        await precheck(sql, verdict);
      } catch (err) {
        return { ok: false, message: `startup parameter "${name}" is refused: ${(err as Error).message}` };
      }
    }
    if (verdict.action !== 'allow') {
      const how =
        verdict.action === 'review' ? 'needs approval, which a startup cannot wait for' : 'is denied';
      return {
        ok: false,
        message: `startup parameter "${name}" ${how}: as SET ${name} it ${verdict.reason.replace(/^SET /, '')}`,
      };
    }
    settings[name] = value;
  }
  return { ok: true, settings };
}

/**
 * The settings in a startup `options` value, split as the server splits it (whitespace separates,
 * a backslash escapes the next character). Only `-c name=value` / `--name=value` are settings;
 * any other backend switch is refused.
 */
function parseOptions(
  value: string,
): { ok: true; settings: [string, string][] } | { ok: false; message: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === '\\' && i + 1 < value.length) {
      word += value[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  const settings: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    let assignment: string | undefined;
    if (w === '-c') assignment = words[++i];
    else if (w.startsWith('-c')) assignment = w.slice(2);
    else if (w.startsWith('--')) assignment = w.slice(2);
    const eq = assignment?.indexOf('=') ?? -1;
    if (assignment === undefined || eq <= 0) {
      return {
        ok: false,
        message: `startup option "${w}" is not available through Sluice (only -c name=value)`,
      };
    }
    // --name-with-dashes means name_with_underscores, as on the server.
    settings.push([assignment.slice(0, eq).replace(/-/g, '_'), assignment.slice(eq + 1)]);
  }
  return { ok: true, settings };
}
