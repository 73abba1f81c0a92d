import type { ClientCharset } from '../codec/charsets.js';
import { encodeEof, encodeErr, encodeOk, type ErrFields, type OkFields } from '../codec/responses.js';
import {
  encodeColumnCount,
  encodeColumnDefinition,
  encodePrepareOk,
  encodeTextRow,
  type ColumnDefinition,
  type TextValue,
} from '../codec/resultset.js';
import { encodeBinaryRow } from '../codec/binary-row.js';
import { ServerStatus } from '../codec/constants.js';
import type { PacketWriter } from '../codec/packet-writer.js';
import type { MysqlReply, MysqlResultWriter } from './types.js';
import type { LocalFileTransfer } from './local-file.js';

/** Where a reply writes: returns false when the socket buffer is full (wait for `drained`). */
export interface ReplyOutput {
  write(bytes: Buffer): boolean;
  drained(): Promise<void>;
}

type ReplyState = 'pending' | 'streaming' | 'answered';

/** One command's answer, framed with the sequence ids that follow the command packet. */
export class CommandReply implements MysqlReply {
  readonly #writer: PacketWriter;
  readonly #out: ReplyOutput;
  #state: ReplyState = 'pending';
  /** Column definitions as this client reads them (with MariaDB's extended metadata or not). */
  readonly #definition: (column: ColumnDefinition) => Buffer;

  /** The client's character set, for the text of OK and ERR packets. */
  readonly #charset: ClientCharset | undefined;
  readonly #localFile: (name: string) => LocalFileTransfer | undefined;
  readonly #lenencInfo: boolean;

  constructor(
    writer: PacketWriter,
    out: ReplyOutput,
    options: {
      extendedMetadata?: boolean;
      charset?: ClientCharset | undefined;
      localFile?: (name: string) => LocalFileTransfer | undefined;
      /** OK's info as a length-encoded string (see encodeOk). */
      lenencInfo?: boolean;
    } = {},
  ) {
    this.#writer = writer;
    this.#out = out;
    const extended = options.extendedMetadata === true;
    const charset = options.charset;
    this.#charset = charset;
    this.#localFile = options.localFile ?? (() => undefined);
    this.#lenencInfo = options.lenencInfo === true;
    this.#definition = (column) => encodeColumnDefinition(column, extended, charset);
  }

  get answered(): boolean {
    return this.#state === 'answered';
  }

  #claim(next: ReplyState): void {
    if (this.#state !== 'pending') throw new Error('this command was already answered');
    this.#state = next;
  }

  ok(fields?: OkFields): void {
    this.#claim(moreFollow(fields) ? 'pending' : 'answered');
    this.#out.write(this.#writer.frame(encodeOk(fields, this.#charset, this.#lenencInfo)));
  }

  localFile(name: string): LocalFileTransfer | undefined {
    if (this.#state !== 'pending') throw new Error('this command was already answered');
    return this.#localFile(name);
  }

  error(fields: ErrFields): void {
    this.#claim('answered');
    this.#out.write(this.#writer.frame(encodeErr(fields, this.#charset)));
  }

  fields(columns: readonly ColumnDefinition[]): void {
    this.#claim('answered');
    this.#out.write(this.#writer.frameAll([...columns.map(this.#definition), encodeEof()]));
  }

  statistics(text: string): void {
    this.#claim('answered');
    this.#out.write(this.#writer.frame(Buffer.from(text, 'utf8')));
  }

  none(): void {
    this.#claim('answered');
  }

  prepared(fields: {
    statementId: number;
    params: readonly ColumnDefinition[];
    columns: readonly ColumnDefinition[];
  }): void {
    this.#claim('answered');
    const payloads = [
      encodePrepareOk({
        statementId: fields.statementId,
        columnCount: fields.columns.length,
        paramCount: fields.params.length,
      }),
    ];
    if (fields.params.length > 0) payloads.push(...fields.params.map(this.#definition), encodeEof());
    if (fields.columns.length > 0) payloads.push(...fields.columns.map(this.#definition), encodeEof());
    this.#out.write(this.#writer.frameAll(payloads));
  }

  resultSet(columns: readonly ColumnDefinition[], options: { binary?: boolean } = {}): MysqlResultWriter {
    this.#claim('streaming');
    const encodeRow = options.binary
      ? (values: readonly TextValue[]) => encodeBinaryRow(columns, values)
      : encodeTextRow;
    this.#out.write(
      this.#writer.frameAll([
        encodeColumnCount(columns.length),
        ...columns.map(this.#definition),
        encodeEof(),
      ]),
    );
    return {
      row: (values: readonly TextValue[]) => {
        if (this.#state !== 'streaming') throw new Error('the result set has ended');
        return this.#out.write(this.#writer.frame(encodeRow(values))) ? undefined : this.#out.drained();
      },
      end: (fields) => {
        if (this.#state !== 'streaming') throw new Error('the result set has ended');
        this.#state = moreFollow(fields) ? 'pending' : 'answered';
        this.#out.write(this.#writer.frame(encodeEof(fields)));
      },
      fail: (fields) => {
        if (this.#state !== 'streaming') throw new Error('the result set has ended');
        this.#state = 'answered';
        this.#out.write(this.#writer.frame(encodeErr(fields, this.#charset)));
      },
    };
  }
}

/** SERVER_MORE_RESULTS_EXISTS: the answer goes on with the next statement's result. */
const moreFollow = (fields: { status?: number } | undefined): boolean =>
  ((fields?.status ?? 0) & ServerStatus.MoreResultsExist) !== 0;
