import type { Readable } from 'node:stream';
import { failedFile } from '../../../protocols/mysql/client.js';
import type { MysqlReply } from '../../../protocols/mysql/server/index.js';
import type { LocalFileTransfer } from '../../../protocols/mysql/server/local-file.js';

/** `LOAD DATA [LOW_PRIORITY | CONCURRENT] LOCAL INFILE 'name'`: the file the client's text names. */
const LOCAL_INFILE =
  /^\s*LOAD\s+(?:DATA|XML)\s+(?:(?:LOW_PRIORITY|CONCURRENT)\s+)?LOCAL\s+INFILE\s+('(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*")/i;

const ESCAPES: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a' };

/** The file a LOAD DATA LOCAL INFILE text names (default sql_mode: backslash escapes), if it is one. */
export function localInfileName(sql: string): string | undefined {
  const literal = LOCAL_INFILE.exec(sql)?.[1];
  if (literal === undefined) return undefined;
  const quote = literal[0] as string;
  return literal
    .slice(1, -1)
    .replace(/\\([\s\S])|(['"])\2/g, (_, escaped: string | undefined, doubled: string | undefined) =>
      escaped !== undefined ? (ESCAPES[escaped] ?? escaped) : (doubled ?? quote),
    );
}

/**
 * The client's side of one statement's LOAD DATA LOCAL INFILE: when the target asks for a file,
 * the client is asked for it, but only for the one file its own statement named, once. The
 * target's request for anything else gets an error (a server must not choose the client's files).
 */
export class LocalFileRelay {
  readonly #named: string | undefined;
  readonly #reply: MysqlReply;
  #transfer: LocalFileTransfer | undefined;
  #asked = false;

  constructor(sql: string, reply: MysqlReply) {
    this.#named = localInfileName(sql);
    this.#reply = reply;
  }

  readonly open = (name: string): Readable => {
    if (this.#asked || this.#named === undefined || name !== this.#named) {
      return failedFile(`the target asked for a file (${name.slice(0, 100)}) the statement does not name`);
    }
    this.#asked = true;
    this.#transfer = this.#reply.localFile(name);
    return (
      this.#transfer?.data ??
      failedFile('LOAD DATA LOCAL INFILE: the client did not say it sends local files (CLIENT_LOCAL_FILES)')
    );
  };

  /** Resolves once the client has sent all of the file (the answer must wait for that). */
  finished(): Promise<void> {
    return this.#transfer?.finished() ?? Promise.resolve();
  }
}
