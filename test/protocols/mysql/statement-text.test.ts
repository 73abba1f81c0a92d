import t from 'tap';
import { clientCharsetById, type ClientCharset } from '../../../protocols/mysql/codec/charsets.js';
import { decodeStatementText } from '../../../protocols/mysql/codec/statement-text.js';
import { MysqlProtocolError } from '../../../protocols/mysql/errors.js';

/**
 * Statement text with binary string literals (what PyMySQL and mysqlclient send for bytes
 * parameters) decodes to a string meaning the same bytes: UTF-8 text as it is, each non-UTF-8
 * literal as the hex literal of its value.
 */
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

t.test('UTF-8 text is returned as decoded', async (t) => {
  t.equal(decodeStatementText(bytes("SELECT 'é', `naïve`")), "SELECT 'é', `naïve`");
});

t.test('a binary literal becomes the hex literal of its bytes', async (t) => {
  t.equal(
    decodeStatementText(bytes("INSERT INTO t VALUES (1, _binary'", [0x00, 0x80, 0xff], "')")),
    "INSERT INTO t VALUES (1, _binary X'0080ff')",
  );
});

t.test('backslash escapes and doubled quotes stand for their bytes', async (t) => {
  // \0 \' \" \\ \n \r \Z, a doubled quote, and a byte that is not UTF-8.
  const sql = bytes("SELECT '", "\\0\\'\\\"\\\\\\n\\r\\Z''", [0xfe], "'");
  t.equal(decodeStatementText(sql), "SELECT X'0027225c0a0d1a27fe'");
  t.equal(
    decodeStatementText(bytes('SELECT "', [0x81], '\\%\\_"')),
    "SELECT X'815c255c5f'",
    '\\% and \\_ keep their backslash',
  );
});

t.test('UTF-8 literals beside a binary one are left as written', async (t) => {
  t.equal(
    decodeStatementText(bytes("SELECT 'ünï', '", [0xc3], "', 'x''y' -- ", 'caf\u00e9\n')),
    "SELECT 'ünï', X'c3', 'x''y' -- café\n",
  );
});

t.test('quotes inside comments and identifiers do not open a literal', async (t) => {
  t.equal(
    decodeStatementText(bytes("SELECT /* it's */ `a'b`, '", [0x90], "' # '\n")),
    "SELECT /* it's */ `a'b`, X'90' # '\n",
  );
});

t.test('bytes that are not UTF-8 outside a literal are refused, with a clear error', async (t) => {
  for (const sql of [
    bytes('SELECT ', [0xff], ' FROM t'),
    bytes('SELECT `', [0xff], '` FROM t'),
    bytes("SELECT '", [0xff]),
  ]) {
    let error: unknown;
    try {
      decodeStatementText(sql);
    } catch (err) {
      error = err;
    }
    t.ok(error instanceof MysqlProtocolError, String(error));
    t.equal((error as MysqlProtocolError).code, 'ERR_TEXT_ENCODING');
  }
});

t.test(
  'a client of another character set: text decoded from it, binary literals as their bytes',
  async (t) => {
    const sjis = clientCharsetById(13) as ClientCharset;
    const gbk = clientCharsetById(28) as ClientCharset;
    const cp1251 = clientCharsetById(51) as ClientCharset;
    t.equal(sjis.name, 'sjis');
    // ソ is 0x83 0x5c in SJIS: its second byte is not a backslash, so the quote after it closes.
    t.equal(decodeStatementText(sjis.encode("SELECT 'ソ', 'a'"), sjis), "SELECT 'ソ', 'a'");
    // GBK 0xbf 0x5c is one character; the quote after it ends the literal, as the server reads it.
    const injected = Buffer.concat([
      Buffer.from("SELECT '"),
      Buffer.from([0xbf, 0x5c]),
      Buffer.from("' OR 1=1 -- '"),
    ]);
    t.equal(
      decodeStatementText(injected, gbk),
      `SELECT '${gbk.decode(Buffer.from([0xbf, 0x5c]))}' OR 1=1 -- '`,
    );
    t.equal(
      decodeStatementText(sjis.encode("INSERT INTO t VALUES (_binary'ソn', 'ソn')"), sjis),
      "INSERT INTO t VALUES (_binary X'835c6e', 'ソn')",
    );
    t.equal(
      decodeStatementText(
        cp1251.encode("SELECT _BINARY 'я\\\\n''', `_binary'x'`, /* _binary'y' */ 'Ж'"),
        cp1251,
      ),
      "SELECT _BINARY  X'ff5c6e27', `_binary'x'`, /* _binary'y' */ 'Ж'",
    );
  },
);

t.test(
  'character sets: UCS-2/UTF-16/UTF-32 fall back to utf8mb4, sets that cannot be converted are unknown',
  async (t) => {
    t.equal(clientCharsetById(35)?.name, 'utf8mb4', 'ucs2');
    t.equal(clientCharsetById(56)?.name, 'utf8mb4', 'utf16le');
    t.equal(clientCharsetById(255)?.name, 'utf8mb4', "MySQL 8's utf8mb4_0900_ai_ci");
    const utf8mb3 = clientCharsetById(33) as ClientCharset;
    t.equal(utf8mb3.name, 'utf8mb3');
    t.equal(
      utf8mb3.decode(Buffer.from('eda0bdedb2a9', 'hex')),
      '💩',
      'CESU-8 surrogates, as mysql2 sends them',
    );
    t.equal(utf8mb3.decode(Buffer.from('💩é')), '💩é', 'and plain UTF-8');
    t.equal(utf8mb3.encode('💩').toString('hex'), 'eda0bdedb2a9');
    t.equal(clientCharsetById(3), undefined, 'dec8');
    t.equal(clientCharsetById(0), undefined);
    t.equal(clientCharsetById(8)?.decode(Buffer.from([0x80])), '€', "MySQL's latin1 is cp1252");
  },
);
