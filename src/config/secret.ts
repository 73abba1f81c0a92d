import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * A resolved secret. Its value is reachable only through `reveal()`; every way a value is
 * usually turned into text (String(), JSON.stringify, util.inspect, pino) prints a placeholder,
 * so a secret that slips into a log line or an error object does not leave the process.
 */
export class Secret {
  readonly #value: string;
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.source})`;
  }
}

export class SecretError extends Error {
  readonly code = 'ERR_SECRET_MISSING';
}

/**
 * Resolves a secret reference: `env:NAME` reads an environment variable, `file:PATH` reads a file
 * (relative to the config file's folder, trailing newline trimmed); anything else is a literal.
 */
export function resolveSecret(ref: string, env: NodeJS.ProcessEnv, baseDir: string): Secret {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = env[name];
    if (value === undefined || value === '') {
      throw new SecretError(`environment variable ${name} is not set`);
    }
    return new Secret(value, ref);
  }
  if (ref.startsWith('file:')) {
    const path = resolve(baseDir, ref.slice(5));
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new SecretError(`secret file ${path} cannot be read (${reason})`);
    }
    return new Secret(text.replace(/\r?\n$/, ''), ref);
  }
  return new Secret(ref, 'literal');
}
