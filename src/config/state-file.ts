import { randomBytes } from 'node:crypto';
import { link, mkdir, unlink, writeFile } from 'node:fs/promises';

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
