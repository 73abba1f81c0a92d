/**
 * Why the guard could not understand a SQL text. Each code is stable; callers branch on the code,
 * never on the message.
 */
export type GuardErrorCode =
  /** The dialect's parser rejected the text. */
  | 'ERR_GUARD_PARSE'
  /** MySQL/MariaDB executable comments (`/*! ... *\/`, `/*M! ... *\/`): the server runs what the parser skips. */
  | 'ERR_GUARD_VERSIONED_COMMENT'
  /** MySQL `--` not followed by a space: the server reads it as two minus signs, the parser as a comment. */
  | 'ERR_GUARD_AMBIGUOUS_COMMENT'
  /** The text is longer than the analyzer accepts for its dialect (parsing it would stall the gateway). */
  | 'ERR_GUARD_TOO_LONG'
  /** The text holds more statements than the analyzer accepts (each is parsed, decided and recorded). */
  | 'ERR_GUARD_TOO_MANY'
  /** The parser could not be loaded. */
  | 'ERR_GUARD_PARSER_UNAVAILABLE'
  /** The classifier failed on a tree it was given (a bug): the text is refused. */
  | 'ERR_GUARD_INTERNAL';

export class GuardError extends Error {
  readonly code: GuardErrorCode;

  constructor(code: GuardErrorCode, message: string) {
    super(message);
    this.name = 'GuardError';
    this.code = code;
  }
}

/** The refusal of a text of `count` statements, more than `max`. */
export function tooManyStatements(count: number, max: number): GuardError {
  return new GuardError(
    'ERR_GUARD_TOO_MANY',
    `the text holds ${count} statements; the guard analyses at most ${max} in one text (send them in parts)`,
  );
}
