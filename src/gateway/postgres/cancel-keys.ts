import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { BackendKey } from '../../../protocols/postgres/client/index.js';

export interface CancelTarget {
  host: string;
  port: number;
  key: BackendKey;
  /**
   * For a target that cannot cancel (`cancel: false`): tells the client instead, on its session
   * (a cancel arrives on a connection of its own, which gets no answer).
   */
  cannotCancel?: () => void;
}

/**
 * The BackendKeyData Sluice hands its clients, mapped to the target's own key. Clients never
 * learn the target's process id or secret: a CancelRequest is honoured only when it quotes a
 * key Sluice issued, and is then sent on to the target with the target's key.
 */
export class CancelKeys {
  readonly #byProcess = new Map<number, { secret: Buffer; target: CancelTarget }>();

  issue(target: CancelTarget): { processId: number; secretKey: number } {
    let processId: number;
    do processId = randomBytes(4).readUInt32BE(0) >>> 1;
    while (processId === 0 || this.#byProcess.has(processId));
    const secret = randomBytes(4);
    this.#byProcess.set(processId, { secret, target });
    return { processId, secretKey: secret.readUInt32BE(0) };
  }

  /** The target to cancel on for this key, or undefined (unknown key, wrong secret). */
  lookup(processId: number, secretKey: number): CancelTarget | undefined {
    const entry = this.#byProcess.get(processId >>> 0);
    if (entry === undefined) return undefined;
    const quoted = Buffer.alloc(4);
    quoted.writeUInt32BE(secretKey >>> 0, 0);
    return timingSafeEqual(quoted, entry.secret) ? entry.target : undefined;
  }

  revoke(processId: number): void {
    this.#byProcess.delete(processId);
  }
}
