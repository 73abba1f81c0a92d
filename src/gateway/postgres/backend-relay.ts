import { commandComplete, errorResponse, noticeResponse } from '../../../protocols/postgres/codec/index.js';
import type { NoticeFields } from '../../../protocols/postgres/codec/index.js';
import type { PostgresRowMasker } from '../../masking/postgres-row.js';
import type { WireRowMasker } from '../../masking/stage.js';
import type { WireSession } from '../gateway.js';
import { GatewayError } from '../errors.js';
import { INSUFFICIENT_PRIVILEGE, refusal } from './admission.js';
import {
  Backend,
  BackendProtocolError,
  readCommandTag,
  readErrorFields,
  readNoticeFieldMap,
  readParameterStatus,
  readRowDescription,
  type RowShape,
  tagRowCount,
} from './backend-messages.js';
import { copyOutHasHeader } from './copy-out.js';
import type { ExpectationQueue } from './expectation-queue.js';
import { RowRecording } from './row-recording.js';
import { UNDECIDED_SCREEN } from '../../masking/error-screen.js';
import { screenedTargetText } from './target-text.js';
import { type Expectation, formatOf, type PortalEntry, type StatementRun } from './session-state.js';
import type { SessionCursors } from './session-cursors.js';
import type { WireMasking } from './wire-masking.js';

/** What the relay needs from the session around it. */
export interface BackendRelayHost {
  readonly session: WireSession;
  readonly masking: WireMasking;
  readonly queue: ExpectationQueue;
  /** The session's cursors, told of errors and of ReadyForQuery (the ends of transactions). */
  readonly cursors?: SessionCursors;
  /**
   * The policy's limits.maxRows: rows one result may send the client (per portal in the extended
   * protocol, lines for COPY ... TO STDOUT). Undefined only for a relay tested on its own framing.
   */
  readonly maxRows?: number;
  /** The policy's limits.maxBytes: bytes of DataRows (COPY lines) one result may send, like maxRows. */
  readonly maxBytes?: number;
  /**
   * Queues bytes for the client; false when its socket is full (the relay then pauses the target).
   * `written`, when given, is called once the bytes are no longer needed (written or dropped), so
   * that their buffer can be used again.
   */
  writeClient(bytes: Buffer, written?: () => void): boolean;
  /** Calls `resume` once the client's socket has drained. */
  whenClientDrained(resume: () => void): void;
  pauseTarget(): void;
  resumeTarget(): void;
  /** The target accepted COPY FROM STDIN (true) or the statement ended (false). */
  copyIn(active: boolean): void;
  /** A statement finished on the target (for the statement timer and catalog reloads). */
  runEnded(run: StatementRun): void;
  /** Something the relay cannot carry on from: ends the client session. */
  fail(reason: Error): void;
  /**
   * The target sent a FATAL (or PANIC) ErrorResponse: it is ending the backend. The client has
   * been sent that error as it came; nothing of the gateway's own is to follow it.
   */
  targetEnding(code: string, message: string): void;
  /** Asks the target to stop what it runs (a refused result whose rows nobody may see). */
  cancelTarget(): void;
  /** Resolves when the recorder has written what it was given (bounded by a timeout). */
  recordingWritten(): Promise<void>;
  now(): number;
}

/** ErrorResponse field types: severity (never localized, and as localized), SQLSTATE, message. */
const FIELD_SEVERITY = 0x56;
const FIELD_SEVERITY_LOCALIZED = 0x53;
const FIELD_CODE = 0x43;
const FIELD_MESSAGE = 0x4d;

/** What to do with the message just looked at. */
const enum Step {
  /** Forward its original bytes (as part of the current run). */
  Forward,
  /** Do not forward it; `replacement`, when set, goes out in its place. */
  Replace,
  /** Stop: an async step (a masking plan) must finish, then the same message is looked at again. */
  Wait,
}

/**
 * The row limit of one result. Once `sent` reaches `limit` the result is cut: its remaining rows
 * are read from the target and dropped (never sent, never recorded), and its end reaches the
 * client as a WARNING notice and a CommandComplete counting the rows sent. The target is not
 * cancelled: a CancelRequest can arrive after the statement ended and hit the client's next one;
 * reading on is bounded by the statement timeout, whose cancel ends a result that runs too long.
 */
interface RowBudget {
  /** Rows this result may still send when it started (less than maxRows for a resumed portal). */
  readonly limit: number;
  sent: number;
  /** Bytes (whole DataRow or CopyData messages) it may still send, and has sent. */
  readonly byteLimit: number;
  bytes: number;
  cut: boolean;
  /** Which limit cut it. */
  by?: 'maxRows' | 'maxBytes';
}

/** The result set being relayed: its masking, its recording, and whether it was refused. */
interface CurrentResult {
  readonly masker: WireRowMasker | null;
  readonly rows: RowRecording;
  readonly statementId: string;
  /** Fields a rule masks in each row (for the masked-fields metric). */
  readonly maskedPerRow: number;
  /** Rows the masker rewrote. */
  rewritten: number;
  readonly budget: RowBudget;
  /** The portal an Execute reads: its rows count against the limit across Executes. */
  readonly portal: PortalEntry | undefined;
}

/** A COPY ... TO STDOUT being relayed: its lines count against the row limit. */
interface CopyOutResult {
  readonly binary: boolean;
  /** A text or CSV header line is still to come (it is not a row). */
  header: boolean;
  readonly budget: RowBudget;
}

/** Binary COPY: the file signature that starts its first CopyData, and the trailer (a field count of -1). */
const BINARY_COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const BINARY_COPY_HEADER = BINARY_COPY_SIGNATURE.length + 8;
/** SQLSTATE of a warning (class 01). */
const WARNING = '01000';

const HEADER = 5;
/**
 * Rows recorded between waits for the recorder: a large result is read no faster than its rows
 * can be recorded, so neither the recording queue nor the relay grows with the result.
 */
const ROWS_PER_RECORDING_WAIT = 20_000;
/**
 * The buffer one masked run of DataRows is written into: a 64 KiB chunk of rows with room to grow
 * (a run that fills it stops, and the next run goes on). Buffers come back once the client's
 * socket has written them: a long result reuses a few instead of leaving one per chunk for the
 * garbage collector (which, for buffers outside the JS heap, runs late: peak RSS grew by ~30 MiB
 * on a 1M-row result before they were reused).
 */
const RUN_BUFFER_BYTES = 96 * 1024;
const SPARE_RUN_BUFFERS = 4;
/** Largest backend message accepted (Postgres' own limit on a value is 1 GiB). */
const MAX_BACKEND_MESSAGE = 1024 * 1024 * 1024 + 1024;

/**
 * The target-to-client direction of one session. Reads only the header of each message it
 * passes on and forwards runs of untouched messages as single views of the received chunk; builds
 * a masking plan once per RowDescription (or per prepared statement and formats), rewrites only
 * rows the plan changes, records every row as the client received it, and keeps the client's
 * socket from filling memory by pausing the target.
 */
export class BackendRelay {
  readonly #host: BackendRelayHost;
  readonly #chunks: Buffer[] = [];
  #current: Buffer | null = null;
  #pos = 0;
  /** A message split across chunks, assembled at its announced size. */
  #partial: Buffer | null = null;
  #partialFilled = 0;
  /** Fewer than 5 bytes of a message (its header is incomplete), waiting for the next chunk. */
  #stub: Buffer | null = null;
  #waiting = false;
  /** Set by an async step that decided the message it waited on; null: handle it again. */
  #resumeStep: Step | null = null;
  #clientBlocked = false;
  #closed = false;
  #replacement: Buffer | null = null;
  /** Set with `replacement` when it replaces a run of messages: their bytes (0: just the one). */
  #consumed = 0;
  /** The run buffer `replacement` is a view of, to take back once written. */
  #replacementBuffer: Buffer | null = null;
  readonly #spareRunBuffers: Buffer[] = [];
  #result: CurrentResult | null = null;
  #copyOut: CopyOutResult | null = null;
  readonly #maxRows: number;
  readonly #maxBytes: number;
  #rowsSinceRecordingWait = 0;
  /** The answer to a refused result: rows are dropped until it ends. */
  #refusedResult = false;
  /**
   * After an error in the extended protocol the client hears nothing more until ReadyForQuery: the
   * target skips to Sync by itself after its own errors, and after a refusal of ours whatever it
   * still answers is dropped here.
   */
  #untilSync = false;
  /** An error or notice being handled has passed its run's screen. */
  #screening = false;
  /** Parses the target refused or skipped since the last Sync: undone when ReadyForQuery comes. */
  readonly #refusedParses: (() => void)[] = [];
  /** Waiting for the messages already received to be handled (see afterPending). */
  readonly #whenPendingDone: (() => void)[] = [];

  constructor(host: BackendRelayHost) {
    this.#host = host;
    this.#maxRows = host.maxRows ?? Number.POSITIVE_INFINITY;
    this.#maxBytes = host.maxBytes ?? Number.POSITIVE_INFINITY;
  }

  push(chunk: Buffer): void {
    if (this.#closed) return;
    if (this.#stub !== null) {
      chunk = Buffer.concat([this.#stub, chunk]);
      this.#stub = null;
    }
    if (this.#partial !== null) {
      const n = Math.min(this.#partial.length - this.#partialFilled, chunk.length);
      chunk.copy(this.#partial, this.#partialFilled, 0, n);
      this.#partialFilled += n;
      if (this.#partialFilled < this.#partial.length) return;
      this.#chunks.push(this.#partial);
      this.#partial = null;
      this.#partialFilled = 0;
      chunk = chunk.subarray(n);
    }
    if (chunk.length > 0) this.#chunks.push(chunk);
    this.#pump();
  }

  /**
   * Calls `then` once every complete message received so far has been handled (at once when none
   * waits): what the target said before it closed reaches the client before the session ends.
   */
  afterPending(then: () => void): void {
    if (this.#closed || (!this.#waiting && this.#current === null && this.#chunks.length === 0)) {
      then();
      return;
    }
    this.#whenPendingDone.push(then);
  }

  #settlePending(): void {
    const callbacks = this.#whenPendingDone.splice(0);
    for (const then of callbacks) then();
  }

  /** Ends relaying; recordings of unfinished results are closed by the session. */
  close(): void {
    this.#closed = true;
    this.#settlePending();
    this.#result?.rows.flush();
    this.#result = null;
  }

  #pump(): void {
    const host = this.#host;
    while (!this.#waiting && !this.#closed) {
      let buf = this.#current;
      if (buf === null) {
        buf = this.#chunks.shift() ?? null;
        if (buf === null) {
          if (this.#whenPendingDone.length > 0) this.#settlePending();
          return;
        }
        this.#current = buf;
        this.#pos = 0;
      }
      let pos = this.#pos;
      let runStart = pos;
      const length = buf.length;
      try {
        while (pos < length) {
          if (length - pos < HEADER) {
            if (pos > runStart) this.#send(buf.subarray(runStart, pos));
            this.#keepPartial(buf, pos, 0);
            runStart = pos = length;
            break;
          }
          const size = buf.readInt32BE(pos + 1) + 1;
          if (size < HEADER || size > MAX_BACKEND_MESSAGE) {
            throw new BackendProtocolError(`backend message of ${size} bytes`);
          }
          if (pos + size > length) {
            // Forward what is complete first; the rest is assembled once at its full size.
            if (pos > runStart) this.#send(buf.subarray(runStart, pos));
            this.#keepPartial(buf, pos, size);
            runStart = pos = length;
            break;
          }
          let step: Step;
          if (this.#resumeStep !== null) {
            step = this.#resumeStep;
            this.#resumeStep = null;
          } else {
            step = this.#handle(buf, pos, pos + size);
          }
          if (step === Step.Forward) {
            pos += size;
            continue;
          }
          if (pos > runStart) this.#send(buf.subarray(runStart, pos));
          if (step === Step.Wait) {
            runStart = pos;
            break;
          }
          if (this.#replacement !== null) {
            this.#send(this.#replacement, this.#replacementBuffer);
            this.#replacement = null;
            this.#replacementBuffer = null;
          }
          pos += this.#consumed > 0 ? this.#consumed : size;
          this.#consumed = 0;
          runStart = pos;
        }
      } catch (err) {
        this.#closed = true;
        host.fail(err instanceof Error ? err : new Error(String(err)));
        this.#settlePending();
        return;
      }
      if (pos > runStart) this.#send(buf.subarray(runStart, pos));
      if (this.#waiting) {
        this.#pos = pos;
        return;
      }
      this.#current = null;
    }
  }

  /** Keeps buf[pos..] as the start of a message; `size` 0 when even its header is incomplete. */
  #keepPartial(buf: Buffer, pos: number, size: number): void {
    const have = buf.length - pos;
    if (size === 0) {
      // Fewer than 5 bytes: they go in front of the next chunk (a tiny copy, rare).
      const next = this.#chunks.shift();
      if (next === undefined) this.#stub = Buffer.from(buf.subarray(pos));
      else this.#chunks.unshift(Buffer.concat([buf.subarray(pos), next]));
      return;
    }
    const partial = Buffer.allocUnsafe(size);
    buf.copy(partial, 0, pos);
    let filled = have;
    // Chunks already queued may complete it.
    while (filled < size && this.#chunks.length > 0) {
      const next = this.#chunks[0] as Buffer;
      const n = Math.min(size - filled, next.length);
      next.copy(partial, filled, 0, n);
      filled += n;
      if (n === next.length) this.#chunks.shift();
      else this.#chunks[0] = next.subarray(n);
    }
    if (filled === size) this.#chunks.unshift(partial);
    else {
      this.#partial = partial;
      this.#partialFilled = filled;
    }
  }

  /** Sends bytes to the client; `runBuffer` (what they are a view of) is reused once written. */
  #send(bytes: Buffer, runBuffer: Buffer | null = null): void {
    const written =
      runBuffer === null
        ? undefined
        : () => {
            if (this.#spareRunBuffers.length < SPARE_RUN_BUFFERS) this.#spareRunBuffers.push(runBuffer);
          };
    if (this.#host.writeClient(bytes, written) || this.#clientBlocked) return;
    // The client reads slower than the target sends: stop reading the target until it catches up,
    // so memory holds at most a chunk or two whatever the result size.
    this.#clientBlocked = true;
    this.#host.pauseTarget();
    this.#host.whenClientDrained(() => {
      this.#clientBlocked = false;
      if (!this.#waiting && !this.#closed) this.#host.resumeTarget();
    });
  }

  #wait(pending: Promise<void>): Step {
    this.#waiting = true;
    this.#host.pauseTarget();
    pending.then(
      () => {
        this.#waiting = false;
        if (this.#closed) return;
        if (!this.#clientBlocked) this.#host.resumeTarget();
        this.#pump();
      },
      (err: unknown) => {
        this.#closed = true;
        this.#host.fail(err instanceof Error ? err : new Error(String(err)));
        this.#settlePending();
      },
    );
    return Step.Wait;
  }

  #handle(buf: Buffer, start: number, end: number): Step {
    const type = buf[start] as number;
    if (type === Backend.DataRow) return this.#dataRow(buf, start, end);
    if (type === Backend.ReadyForQuery && end > start + 5) {
      this.#host.cursors?.ready(String.fromCharCode(buf[start + 5] as number));
    } else if (type === Backend.ErrorResponse) this.#host.cursors?.failed();
    if ((type === Backend.ErrorResponse || type === Backend.NoticeResponse) && !this.#screening) {
      const run = this.#runAtHead() ?? this.#syncAtHead();
      if (run !== undefined) return this.#screenTargetText(run, buf, start, end);
    }
    if (type === Backend.ErrorResponse) {
      const fields = readNoticeFieldMap(buf, start, end);
      const severity = fields.get(FIELD_SEVERITY) ?? fields.get(FIELD_SEVERITY_LOCALIZED);
      if (severity === 'FATAL' || severity === 'PANIC') {
        // The backend is going away (terminated, shut down, timed out), whether or not anything
        // was asked of it: the client hears its error as it is. A running statement records it.
        this.#host.targetEnding(fields.get(FIELD_CODE) ?? 'XX000', fields.get(FIELD_MESSAGE) ?? '');
        if (this.#untilSync || this.#runAtHead() === undefined) return Step.Forward;
      }
    }
    if (type === Backend.NoticeResponse || type === Backend.NotificationResponse) return Step.Forward;
    if (type === Backend.ParameterStatus) {
      const [name, value] = readParameterStatus(buf, start, end);
      if (name === 'client_encoding' && value !== 'UTF8') {
        // Rows are masked and recorded as UTF-8; another encoding would defeat both.
        throw new BackendProtocolError(`client_encoding changed to ${value}; only UTF8 is supported`);
      }
      if (name === 'standard_conforming_strings' && value !== 'on') {
        // The guard parses texts with standard strings; a server that reads a backslash as an
        // escape would run the next text as something the guard never saw.
        throw new BackendProtocolError(
          `standard_conforming_strings changed to ${value}; only on is supported`,
        );
      }
      return Step.Forward;
    }
    const queue = this.#host.queue;
    if (this.#untilSync) return this.#skipToSync(type);
    const head = queue.peek();
    if (head === undefined) {
      throw new BackendProtocolError(`unexpected message '${String.fromCharCode(type)}' from the target`);
    }
    switch (head.kind) {
      case 'query':
        return this.#queryMessage(head.run, type, buf, start, end);
      case 'execute':
        return this.#executeMessage(head, type, buf, start, end);
      case 'parse':
        if (type === Backend.ErrorResponse && head.refused) this.#refusedParses.push(head.refused);
        return this.#simpleAnswer(Backend.ParseComplete, type, buf, start, end);
      case 'bind':
        if (type === Backend.BindComplete) head.settled?.();
        else if (type === Backend.ErrorResponse) head.failed?.();
        return this.#simpleAnswer(Backend.BindComplete, type, buf, start, end);
      case 'close':
        if (type === Backend.CloseComplete) head.settled?.();
        return this.#simpleAnswer(Backend.CloseComplete, type, buf, start, end);
      case 'describe-statement':
        if (type === Backend.ParameterDescription) return Step.Forward;
        if (type === Backend.RowDescription || type === Backend.NoData) {
          if (head.statement) {
            head.statement.shape = type === Backend.NoData ? null : readRowDescription(buf, start, end);
          }
          queue.shift();
          return Step.Forward;
        }
        return this.#extendedError(type, buf, start, end);
      case 'describe-portal':
        if (type === Backend.RowDescription || type === Backend.NoData) {
          if (head.portal)
            head.portal.shape = type === Backend.NoData ? null : readRowDescription(buf, start, end);
          queue.shift();
          return head.swallow ? Step.Replace : Step.Forward;
        }
        return this.#extendedError(type, buf, start, end);
      case 'sync':
        if (type === Backend.ReadyForQuery) {
          queue.shift();
          return Step.Forward;
        }
        if (type === Backend.ErrorResponse) return Step.Forward;
        throw new BackendProtocolError(
          `unexpected message '${String.fromCharCode(type)}' before ReadyForQuery`,
        );
      case 'probe':
        return this.#probeMessage(head, type, buf, start, end);
      case 'refused':
        if (type !== Backend.ErrorResponse) {
          throw new BackendProtocolError(
            `unexpected message '${String.fromCharCode(type)}' for a refused statement`,
          );
        }
        this.#replacement = errorResponse(head.error);
        if (head.query) queue.replaceHead({ kind: 'sync' });
        else {
          queue.shift();
          this.#untilSync = true;
        }
        return Step.Replace;
    }
  }

  /** The statement whose answers come next, if they come from one the client ran. */
  #runAtHead(): StatementRun | undefined {
    const head = this.#host.queue.peek();
    return head?.kind === 'query' || head?.kind === 'execute' ? head.run : undefined;
  }

  /** The run that screens what a Sync at the head is answered with (see the 'sync' expectation). */
  #syncAtHead(): StatementRun | undefined {
    const head = this.#host.queue.peek();
    return head?.kind === 'sync' && !this.#untilSync ? head.run : undefined;
  }

  /**
   * An error or notice of a run passes the run's screen first (decided, asynchronously, by the
   * first one that arrives): withheld text is replaced by a message of the same kind and SQLSTATE,
   * which is then handled (ends the run, is recorded) as the target's own would have been.
   */
  #screenTargetText(run: StatementRun, buf: Buffer, start: number, end: number): Step {
    const screen = run.errorScreen;
    if (screen === undefined) {
      return this.#wait(
        this.#host.masking.errorScreen(run).then(
          (decided) => {
            run.errorScreen = decided;
          },
          () => {
            run.errorScreen = UNDECIDED_SCREEN;
          },
        ),
      );
    }
    const screened = screen === null ? null : screenedTargetText(screen, buf, start, end);
    this.#screening = true;
    let step: Step;
    try {
      step = screened === null ? this.#handle(buf, start, end) : this.#handle(screened, 0, screened.length);
    } finally {
      this.#screening = false;
    }
    if (screened === null || step !== Step.Forward) return step;
    this.#replacement = screened;
    return Step.Replace;
  }

  /** The answers to the relay's own probe: noted, never forwarded. */
  #probeMessage(
    head: Extract<Expectation, { kind: 'probe' }>,
    type: number,
    buf: Buffer,
    start: number,
    end: number,
  ): Step {
    const outcome = head.outcome;
    switch (type) {
      case Backend.RowDescription:
        outcome.shape = readRowDescription(buf, start, end);
        break;
      case Backend.NoData:
        outcome.shape = null;
        break;
      case Backend.ErrorResponse:
        outcome.error = readErrorFields(buf, start, end).message;
        break;
      case Backend.ReadyForQuery:
        this.#host.queue.shift();
        head.settle(outcome);
        break;
      default:
        break;
    }
    return Step.Replace;
  }

  #simpleAnswer(expected: number, type: number, buf: Buffer, start: number, end: number): Step {
    if (type === expected) {
      this.#host.queue.shift();
      return Step.Forward;
    }
    return this.#extendedError(type, buf, start, end);
  }

  /** An ErrorResponse ends the pipeline up to Sync, on the target and here alike. */
  #extendedError(type: number, buf: Buffer, start: number, end: number): Step {
    if (type !== Backend.ErrorResponse) {
      throw new BackendProtocolError(`unexpected message '${String.fromCharCode(type)}' from the target`);
    }
    void buf;
    void start;
    void end;
    this.#host.queue.shift();
    this.#untilSync = true;
    return Step.Forward;
  }

  /** Drops what the target answers until ReadyForQuery, which ends every expectation up to Sync. */
  #skipToSync(type: number): Step {
    if (type !== Backend.ReadyForQuery) return Step.Replace;
    const queue = this.#host.queue;
    for (let head = queue.shift(); head !== undefined; head = queue.shift()) {
      if (head.kind === 'execute' && head.run !== undefined) this.#host.runEnded(head.run);
      if (head.kind === 'parse' && head.refused) this.#refusedParses.push(head.refused);
      if (head.kind === 'bind') head.failed?.();
      if (head.kind === 'sync') break;
    }
    // Undone latest first: two Parses of one name in the pipeline restore the name as it was.
    for (let undo = this.#refusedParses.pop(); undo !== undefined; undo = this.#refusedParses.pop()) undo();
    this.#untilSync = false;
    this.#refusedResult = false;
    this.#result = null;
    this.#copyOut = null;
    return Step.Forward;
  }

  #queryMessage(run: StatementRun, type: number, buf: Buffer, start: number, end: number): Step {
    const host = this.#host;
    // After a refused result the client has its error; nothing else of the text reaches it.
    if (this.#refusedResult && type !== Backend.ReadyForQuery) return Step.Replace;
    switch (type) {
      case Backend.RowDescription: {
        const shape = readRowDescription(buf, start, end);
        // A statement of a known shape has its plan already: no pause of the target for it.
        const ready = host.masking.cachedPlan(shape, run, shape.formats);
        if (ready !== undefined) {
          this.#startResult(run.statementId, shape, shape.formats, ready);
          return Step.Forward;
        }
        return this.#wait(
          host.masking.plan(shape, run, shape.formats).then(
            (masker) => {
              this.#startResult(run.statementId, shape, shape.formats, masker);
              this.#resumeStep = Step.Forward;
            },
            (err: unknown) => {
              this.#refuseResult(run.statementId, err);
              this.#resumeStep = Step.Replace;
            },
          ),
        );
      }
      case Backend.CommandComplete: {
        const tag = readCommandTag(buf, start, end);
        run.confirmed?.(tag);
        return this.#endResult(tag, run);
      }
      case Backend.ErrorResponse:
        return this.#resultError(run, buf, start, end);
      case Backend.EmptyQueryResponse:
        return Step.Forward;
      case Backend.ReadyForQuery:
        host.queue.shift();
        host.copyIn(false);
        this.#refusedResult = false;
        this.#result = null;
        this.#copyOut = null;
        host.runEnded(run);
        return Step.Forward;
      case Backend.CopyInResponse:
        host.copyIn(true);
        return Step.Forward;
      case Backend.CopyOutResponse:
        return this.#startCopyOut(run, buf, start, end, this.#budget(undefined));
      case Backend.CopyData:
        return this.#copyData(buf, start, end);
      case Backend.CopyDone:
        return Step.Forward;
      default:
        throw new BackendProtocolError(`unexpected message '${String.fromCharCode(type)}' in a query result`);
    }
  }

  #executeMessage(
    head: Extract<Expectation, { kind: 'execute' }>,
    type: number,
    buf: Buffer,
    start: number,
    end: number,
  ): Step {
    const host = this.#host;
    const run = head.run;
    switch (type) {
      case Backend.CommandComplete:
      case Backend.PortalSuspended:
      case Backend.EmptyQueryResponse: {
        host.queue.shift();
        if (run === undefined) return Step.Forward;
        const tag = type === Backend.CommandComplete ? readCommandTag(buf, start, end) : '';
        run.confirmed?.(tag);
        if (this.#refusedResult) {
          // The client has its error: it hears nothing more until ReadyForQuery.
          this.#refusedResult = false;
          this.#untilSync = true;
          host.runEnded(run);
          return Step.Replace;
        }
        const step = this.#endResult(tag, run);
        host.runEnded(run);
        return step;
      }
      case Backend.ErrorResponse: {
        const cut = this.#cutBudget();
        if (run !== undefined) {
          this.#recordError(run.statementId, buf, start, end);
          host.runEnded(run);
        }
        this.#result?.rows.flush();
        this.#result = null;
        this.#copyOut = null;
        if (this.#refusedResult) {
          this.#refusedResult = false;
          host.queue.shift();
          this.#untilSync = true;
          return Step.Replace;
        }
        const step = this.#extendedError(type, buf, start, end);
        if (cut === null) return step;
        this.#replacement = Buffer.concat([this.#cutNotice(cut), buf.subarray(start, end)]);
        return Step.Replace;
      }
      case Backend.CopyInResponse:
        host.copyIn(true);
        return Step.Forward;
      case Backend.CopyOutResponse:
        if (run === undefined) return Step.Forward;
        return this.#startCopyOut(run, buf, start, end, this.#budget(head.portal));
      case Backend.CopyData:
        return this.#copyData(buf, start, end);
      case Backend.CopyDone:
        return Step.Forward;
      default:
        throw new BackendProtocolError(
          `unexpected message '${String.fromCharCode(type)}' in an Execute result`,
        );
    }
  }

  #dataRow(buf: Buffer, start: number, end: number): Step {
    const result = this.#result;
    if (result === null) {
      if (this.#refusedResult) return Step.Replace;
      const head = this.#host.queue.peek();
      if (head?.kind === 'execute' && head.portal !== undefined && head.run !== undefined) {
        return this.#startExecuteResult(head.portal, head.run, buf, start, end);
      }
      throw new BackendProtocolError('DataRow without a RowDescription');
    }
    const budget = result.budget;
    if (budget.cut) return Step.Replace;
    if (budget.sent >= budget.limit) {
      // The client has every row the policy lets it have: the rest is read and dropped, unrecorded.
      budget.cut = true;
      budget.by = 'maxRows';
      return Step.Replace;
    }
    if (++this.#rowsSinceRecordingWait > ROWS_PER_RECORDING_WAIT) {
      this.#rowsSinceRecordingWait = 0;
      result.rows.flush();
      return this.#wait(this.#host.recordingWritten());
    }
    if (!withinBytes(budget, end - start)) return Step.Replace;
    budget.sent++;
    const masker = result.masker;
    if (masker === null) {
      result.rows.add(buf, start, end);
      return Step.Forward;
    }
    if (masker.dialect === 'postgres') {
      const step = this.#maskRun(result, masker, buf, start);
      if (step !== null) return step;
    }
    const message = buf.subarray(start, end);
    const out = masker.dialect === 'postgres' ? masker.maskDataRow(message) : message;
    result.rows.add(out, 0, out.length);
    if (out === message) return Step.Forward;
    result.rewritten++;
    this.#replacement = out;
    return Step.Replace;
  }

  /**
   * Masks the run of whole DataRows that starts at buf[start] (this chunk's, up to the row limit
   * and the next recording wait) in one call, into one new buffer that replaces them. Null when
   * not even the first row was done (a row larger than the run buffer): it goes alone.
   */
  #maskRun(result: CurrentResult, masker: PostgresRowMasker, buf: Buffer, start: number): Step | null {
    const budget = result.budget;
    // The first row is already counted against both.
    let more = Math.min(budget.limit - budget.sent, ROWS_PER_RECORDING_WAIT - this.#rowsSinceRecordingWait);
    if (budget.byteLimit !== Number.POSITIVE_INFINITY) more = rowsWithin(buf, start, more, budget);
    const out = this.#spareRunBuffers.pop() ?? Buffer.allocUnsafe(RUN_BUFFER_BYTES);
    const written = masker.maskRowsInto(buf, start, buf.length, out, 0, 1 + Math.max(0, more));
    const rows = masker.rows;
    if (rows === 0) {
      this.#spareRunBuffers.push(out);
      return null;
    }
    budget.sent += rows - 1;
    if (budget.byteLimit !== Number.POSITIVE_INFINITY) budget.bytes += bytesOfRows(buf, start, rows);
    this.#rowsSinceRecordingWait += rows - 1;
    result.rewritten += masker.changedRows;
    result.rows.addRun(out, 0, written, rows);
    this.#replacement = out.subarray(0, written);
    this.#replacementBuffer = out;
    this.#consumed = masker.consumed;
    return Step.Replace;
  }

  /** The first row of an Execute: the portal's shape is known from a Describe; plan once per formats. */
  #startExecuteResult(portal: PortalEntry, run: StatementRun, buf: Buffer, start: number, end: number): Step {
    const statement = portal.statement;
    let shape: RowShape | null | undefined = portal.shape;
    if (shape === undefined && statement.shape) {
      const base = statement.shape;
      shape = {
        columns: base.columns,
        formats: base.columns.map((_, i) => formatOf(portal.formats, i)),
      };
    }
    if (!shape) throw new BackendProtocolError('rows for a portal whose columns are unknown');
    const key = shape.formats.join(',');
    // A FETCH or MOVE is planned by the cursor it reads as it is at each run (it may have been
    // declared again, for another query, since): its plan is not kept with the statement.
    const maskers = run.cursor === undefined ? statement.maskers : new Map<string, WireRowMasker | null>();
    const cached = maskers.get(key);
    const known = shape;
    if (cached !== undefined || maskers.has(key)) {
      this.#startResult(run.statementId, known, known.formats, cached ?? null, portal);
      return this.#dataRow(buf, start, end);
    }
    // A statement of a known shape has its plan already: no pause of the target for it.
    const ready = this.#host.masking.cachedPlan(known, run, known.formats);
    if (ready !== undefined) {
      maskers.set(key, ready);
      this.#startResult(run.statementId, known, known.formats, ready, portal);
      return this.#dataRow(buf, start, end);
    }
    return this.#wait(
      this.#host.masking.plan(known, run, known.formats).then(
        (masker) => {
          maskers.set(key, masker);
          this.#startResult(run.statementId, known, known.formats, masker, portal);
        },
        (err: unknown) => this.#refuseResult(run.statementId, err),
      ),
    );
  }

  #startResult(
    statementId: string,
    shape: RowShape,
    formats: readonly number[],
    masker: WireRowMasker | null,
    portal?: PortalEntry,
  ): void {
    const masked = masker?.dialect === 'postgres' ? masker.ruleMasked : masker?.masked;
    this.#host.session.recording.onColumns({
      statementId,
      columns: shape.columns.map((c, i) => ({ name: c.name, type: c.type, masked: masked?.[i] ?? false })),
    });
    this.#result = {
      masker,
      rows: new RowRecording(this.#host.session.recording, statementId, formats),
      statementId,
      maskedPerRow: masked?.filter(Boolean).length ?? 0,
      rewritten: 0,
      budget: this.#budget(portal),
      portal,
    };
  }

  /** What a result may send: the limits, less what earlier Executes of the same portal sent. */
  #budget(portal: PortalEntry | undefined): RowBudget {
    return {
      limit: Math.max(0, this.#maxRows - (portal?.rowsSent ?? 0)),
      sent: 0,
      byteLimit: Math.max(0, this.#maxBytes - (portal?.bytesSent ?? 0)),
      bytes: 0,
      cut: false,
    };
  }

  #startCopyOut(run: StatementRun, buf: Buffer, start: number, end: number, budget: RowBudget): Step {
    if (end - start < HEADER + 1) throw new BackendProtocolError('malformed CopyOutResponse');
    const binary = buf[start + HEADER] === 1;
    const index = run.copyOuts ?? 0;
    run.copyOuts = index + 1;
    this.#copyOut = {
      binary,
      header: !binary && copyOutHasHeader(run.verdict.parsed, index),
      budget,
    };
    return Step.Forward;
  }

  /**
   * A line of COPY ... TO STDOUT: the backend sends one CopyData per row. Not rows: a text or CSV
   * header line, and binary COPY's file header and trailer (which still go out after a cut, so
   * that the client's file stays well formed).
   */
  #copyData(buf: Buffer, start: number, end: number): Step {
    const copy = this.#copyOut;
    if (copy === null) return Step.Forward;
    if (copy.header) {
      copy.header = false;
      return Step.Forward;
    }
    if (copy.binary && !binaryCopyHoldsRow(buf, start + HEADER, end)) return Step.Forward;
    const budget = copy.budget;
    if (budget.cut) return Step.Replace;
    if (budget.sent >= budget.limit) {
      budget.cut = true;
      budget.by = 'maxRows';
      return Step.Replace;
    }
    if (!withinBytes(budget, end - start)) return Step.Replace;
    budget.sent++;
    return Step.Forward;
  }

  /** The row budget of the result now relayed, when that result was cut. */
  #cutBudget(): RowBudget | null {
    const budget = this.#result?.budget ?? this.#copyOut?.budget;
    return budget?.cut === true ? budget : null;
  }

  #cutNotice(budget: RowBudget): Buffer {
    if (budget.by === 'maxBytes') {
      return noticeResponse({
        severity: 'WARNING',
        code: WARNING,
        message: `result cut at ${this.#maxBytes} bytes by the policy's byte limit (limits.maxBytes)`,
        detail: `${budget.sent} rows (${budget.bytes} bytes) were sent${budget.byteLimit < this.#maxBytes ? ' by this Execute' : ''}; the rest was read from the database and discarded.`,
        hint: 'Select fewer or narrower columns, or fewer rows.',
      });
    }
    return noticeResponse({
      severity: 'WARNING',
      code: WARNING,
      message: `result cut at ${this.#maxRows} rows by the policy's row limit (limits.maxRows)`,
      detail:
        budget.limit < this.#maxRows
          ? `Earlier Executes of this portal sent ${this.#maxRows - budget.limit} rows; this one sent ${budget.sent}. The rest was read from the database and discarded.`
          : `${budget.sent} rows were sent; the rest was read from the database and discarded.`,
    });
  }

  /** An ErrorResponse ends a simple Query's statement; after a cut the client also hears why its rows stopped. */
  #resultError(run: StatementRun, buf: Buffer, start: number, end: number): Step {
    const cut = this.#cutBudget();
    this.#recordError(run.statementId, buf, start, end);
    this.#copyOut = null;
    if (cut === null) return Step.Forward;
    this.#replacement = Buffer.concat([this.#cutNotice(cut), buf.subarray(start, end)]);
    return Step.Replace;
  }

  /**
   * Masking refused the result (or could not plan it): nothing of it reaches the client. Its rows
   * are dropped as they come, the target is asked to stop, and the client gets the reason.
   */
  #refuseResult(statementId: string, err: unknown): void {
    const error: NoticeFields =
      err instanceof GatewayError
        ? refusal(err.sqlstate ?? INSUFFICIENT_PRIVILEGE, err.message)
        : refusal(INSUFFICIENT_PRIVILEGE, 'result refused: its masking could not be decided');
    this.#host.session.recording.onError({ statementId, code: error.code, message: error.message });
    this.#refusedResult = true;
    this.#result = null;
    this.#host.writeClient(errorResponse(error));
    this.#host.cancelTarget();
  }

  #endResult(tag: string, run: StatementRun): Step {
    if (this.#refusedResult) return Step.Replace;
    const result = this.#result;
    const copy = this.#copyOut;
    this.#result = null;
    this.#copyOut = null;
    let rowCount = tagRowCount(tag);
    if (result !== null) {
      result.rows.flush();
      rowCount = result.rows.rows;
      if (result.portal !== undefined) {
        result.portal.rowsSent = (result.portal.rowsSent ?? 0) + result.budget.sent;
        result.portal.bytesSent = (result.portal.bytesSent ?? 0) + result.budget.bytes;
      }
    }
    const budget = result?.budget ?? copy?.budget;
    const truncated = budget?.cut === true;
    let command = tag;
    if (truncated) {
      // The client ends the result normally, told by the tag how many rows it has, and why.
      rowCount = budget.sent;
      command = cutTag(tag, run, budget.sent);
      this.#replacement = Buffer.concat([this.#cutNotice(budget), commandComplete(command)]);
    }
    const session = this.#host.session;
    const durationMs = this.#host.now() - run.startedAt;
    session.recording.onResultEnd({
      statementId: run.statementId,
      rowCount,
      truncated,
      command,
      durationMs,
    });
    session.metrics.finished(
      session.context.channel,
      durationMs / 1000,
      result === null ? 0 : result.rewritten * result.maskedPerRow,
      truncated,
    );
    return truncated ? Step.Replace : Step.Forward;
  }

  #recordError(statementId: string, buf: Buffer, start: number, end: number): void {
    const { code, message } = readErrorFields(buf, start, end);
    this.#result?.rows.flush();
    this.#result = null;
    this.#host.session.recording.onError({ statementId, code, message });
    this.#host.session.metrics.failed(this.#host.session.context.channel, code);
  }
}

/**
 * Counts a message against the byte limit; false (the result now cut) when it would pass it: the
 * result ends before the row that does not fit.
 */
function withinBytes(budget: RowBudget, size: number): boolean {
  if (budget.bytes + size > budget.byteLimit) {
    budget.cut = true;
    budget.by = 'maxBytes';
    return false;
  }
  budget.bytes += size;
  return true;
}

/**
 * Of the DataRows that follow the one at `start` (already counted), how many more fit in the byte
 * limit, at most `max`: the masking run stops before the first that does not.
 */
function rowsWithin(buf: Buffer, start: number, max: number, budget: RowBudget): number {
  let at = start + 1 + buf.readInt32BE(start + 1);
  let bytes = budget.bytes;
  let n = 0;
  while (n < max && at + 5 <= buf.length && buf[at] === Backend.DataRow) {
    const size = 1 + buf.readInt32BE(at + 1);
    if (at + size > buf.length || bytes + size > budget.byteLimit) break;
    bytes += size;
    at += size;
    n++;
  }
  return n;
}

/** Bytes of the rows after the first of a run of `rows` DataRows at `start`. */
function bytesOfRows(buf: Buffer, start: number, rows: number): number {
  let at = start + 1 + buf.readInt32BE(start + 1);
  let bytes = 0;
  for (let i = 1; i < rows; i++) {
    const size = 1 + buf.readInt32BE(at + 1);
    bytes += size;
    at += size;
  }
  return bytes;
}

/** Commands whose tag ends in a row count, as Postgres writes them. */
const COUNTED_TAGS: Readonly<Record<string, string>> = {
  SELECT: 'SELECT',
  INSERT: 'INSERT 0',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
  MERGE: 'MERGE',
  FETCH: 'FETCH',
  COPY: 'COPY',
};

/**
 * The tag of a cut result: the target's own with its count replaced by the rows sent, or, when
 * the target suspended the portal instead (no tag), one made from the statement's command.
 */
function cutTag(tag: string, run: StatementRun, sent: number): string {
  if (/ \d+$/.test(tag)) return tag.replace(/\d+$/, String(sent));
  if (tag !== '') return tag;
  const command = run.verdict.statements.length === 1 ? run.verdict.statements[0]?.command : undefined;
  return `${COUNTED_TAGS[command ?? ''] ?? 'SELECT'} ${sent}`;
}

/**
 * Whether a binary COPY CopyData (payload at buf[from, end)) carries a row: not when it is only
 * the file header, the trailer (field count -1), or both (an empty COPY).
 */
function binaryCopyHoldsRow(buf: Buffer, from: number, end: number): boolean {
  let pos = from;
  const signatureEnd = pos + BINARY_COPY_SIGNATURE.length;
  if (end >= pos + BINARY_COPY_HEADER && buf.subarray(pos, signatureEnd).equals(BINARY_COPY_SIGNATURE)) {
    pos += BINARY_COPY_HEADER + buf.readUInt32BE(signatureEnd + 4);
  }
  if (pos >= end) return false;
  return !(end - pos === 2 && buf.readInt16BE(pos) === -1);
}
