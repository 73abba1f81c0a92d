import { PassThrough, type Readable } from 'node:stream';

/** Bytes handed on per chunk: well under a packet, whatever size the client's packets were. */
const CHUNK = 1 << 20;

/**
 * One `LOAD DATA LOCAL INFILE` transfer from the client: after the server asked for the file
 * (0xFB and its name), the client sends it as packets and ends with an empty one, and only then
 * reads the statement's answer. `data` is the file as it arrives, with backpressure (the client's
 * socket pauses while `data` is full); `finished()` resolves at the client's last packet,
 * discarding whatever nobody read, so the answer is never written while the client still sends.
 */
export class LocalFileTransfer {
  readonly #data = new PassThrough({ highWaterMark: CHUNK });
  readonly #pause: () => void;
  readonly #resume: () => void;
  #ended = false;
  #discarding = false;
  #finished: () => void = () => {};
  readonly #done = new Promise<void>((resolve) => {
    this.#finished = resolve;
  });

  /** `pause` and `resume` stop and restart reading the client's socket. */
  constructor(pause: () => void, resume: () => void) {
    this.#pause = pause;
    this.#resume = resume;
    this.#data.on('drain', () => this.#resume());
  }

  get data(): Readable {
    return this.#data;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** A packet of the file; an empty one ends it. */
  push(payload: Buffer): void {
    if (this.#ended) return;
    if (payload.length === 0) {
      this.#ended = true;
      if (!this.#discarding) this.#data.end();
      this.#finished();
      return;
    }
    if (this.#discarding) return;
    let full = false;
    for (let at = 0; at < payload.length; at += CHUNK) {
      full = !this.#data.write(payload.subarray(at, Math.min(payload.length, at + CHUNK))) || full;
    }
    if (full) this.#pause();
  }

  /**
   * The client went away mid-file. `data` never ends: a reader that ended it would make the
   * server load (and commit) half a file; the statement is cancelled instead.
   */
  abort(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#finished();
  }

  /** Resolves when the client has sent its last packet; from now on its data is dropped. */
  finished(): Promise<void> {
    if (!this.#ended && !this.#discarding) {
      this.#discarding = true;
      this.#data.destroy();
      this.#resume();
    }
    return this.#done;
  }
}
