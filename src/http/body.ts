import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  readonly code: 'ERR_BODY_TOO_LARGE' | 'ERR_BODY_NOT_JSON';
  readonly status: number;
  constructor(code: BodyError['code'], message: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** A request body's bytes, refused once they pass `limit` instead of buffering on. */
async function readCapped(req: IncomingMessage, limit: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > limit) throw new BodyError('ERR_BODY_TOO_LARGE', `request body over ${limit} bytes`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.destroy();
      throw new BodyError('ERR_BODY_TOO_LARGE', `request body over ${limit} bytes`, 413);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/** Reads a JSON request body (undefined when empty), refusing it past `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readCapped(req, limit);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BodyError('ERR_BODY_NOT_JSON', 'request body is not valid JSON', 400);
  }
}

/** Reads an `application/x-www-form-urlencoded` body (a console form), refusing it past `limit` bytes. */
export async function readFormBody(req: IncomingMessage, limit: number): Promise<URLSearchParams> {
  return new URLSearchParams((await readCapped(req, limit)).toString('utf8'));
}
