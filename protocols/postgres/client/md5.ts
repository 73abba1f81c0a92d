import { createHash } from 'node:crypto';

/** The MD5 password response: "md5" + md5(md5(password + user) + salt), as hex. */
export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user, 'utf8')
    .digest('hex');
  const outer = createHash('md5')
    .update(Buffer.concat([Buffer.from(inner, 'utf8'), salt]))
    .digest('hex');
  return `md5${outer}`;
}
