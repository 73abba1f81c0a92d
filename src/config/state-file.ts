import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';

/**
 * Writes a secret file of the state directory (mode 0600) unless it exists. The content goes to
 * a temporary file first and is then hard-linked into place, which fails if the name exists:
 * when two processes start at once, exactly one file wins, and nobody ever reads a half-written
 * one. True when this call wrote it, false when another had; throws the fs error otherwise.
 */
export async function writeStateFileOnce(dir: string, path: string, content: string): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * A secret file of the state directory (a private key), or undefined when there is none. One
 * that other users of the host can read is refused rather than trusted (whoever read it holds
 * the secret); `what` names it in that message. Other fs errors are thrown as they are.
 */
export async function readStateFile(path: string, what: string): Promise<string | undefined> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new Error(
      `${path}: ${what} is readable by other users (mode ${(mode & 0o777).toString(8)}); run chmod 600`,
    );
  }
  return readFile(path, 'utf8');
}
