"""Postgres features exercised the way Python applications use them, with psycopg2 or psycopg 3.

Usage: pg_features.py DRIVER  (DRIVER: psycopg2 | psycopg3), with the connection in the
environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE). Prints one JSON object
a line: {"feature": ..., "ok": true|false, "detail": ...}. Each feature stands alone: it opens its
own connection, so one failure does not hide the next. Tables are prefixed with COMPAT_PREFIX.
"""
import json
import os
import sys
import threading
import time

DRIVER = sys.argv[1]
PREFIX = os.environ.get("COMPAT_PREFIX", "compat")

if DRIVER == "psycopg2":
    import psycopg2 as db
    import psycopg2.extras  # noqa: F401

    def connect():
        return db.connect("")
else:
    import psycopg as db

    def connect():
        return db.connect("")


def report(feature, fn):
    try:
        detail = fn()
        print(json.dumps({"feature": feature, "ok": True, "detail": detail}), flush=True)
    except Exception as err:  # noqa: BLE001 - every failure is reported, not raised
        print(json.dumps({"feature": feature, "ok": False, "detail": f"{type(err).__name__}: {err}"[:300]}), flush=True)


def with_conn(fn, autocommit=False):
    conn = connect()
    try:
        conn.autocommit = autocommit
        return fn(conn)
    finally:
        conn.close()


T = f"{PREFIX}_items"


def setup(conn):
    cur = conn.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {T}")
    cur.execute(f"CREATE TABLE {T} (id int PRIMARY KEY, name text, data bytea, n numeric(10,2))")
    cur.execute(f"INSERT INTO {T} SELECT g, 'item ' || g, NULL, g / 4.0 FROM generate_series(1, 50) g")
    return "created"


def params(conn):
    cur = conn.cursor()
    cur.execute(f"SELECT name, n FROM {T} WHERE id = %s AND name LIKE %s", (7, "item%"))
    row = cur.fetchone()
    assert row[0] == "item 7" and float(row[1]) == 1.75, row
    return repr(row[0])


def executemany(conn):
    cur = conn.cursor()
    cur.executemany(f"INSERT INTO {T} (id, name) VALUES (%s, %s)", [(100 + i, f"many {i}") for i in range(20)])
    conn.commit()
    cur.execute(f"SELECT count(*) FROM {T} WHERE id >= 100")
    n = cur.fetchone()[0]
    assert n == 20, n
    return n


def server_cursor(conn):
    cur = conn.cursor(name="compat_cursor")
    cur.itersize = 7
    cur.execute(f"SELECT id FROM {T} WHERE id <= 50 ORDER BY id")
    ids = [r[0] for r in cur]
    cur.close()
    conn.commit()
    assert ids == list(range(1, 51)), ids[:5]
    return len(ids)


def copy_both_ways(conn):
    cur = conn.cursor()
    lines = "".join(f"{200 + i}\tcopied {i}\n" for i in range(5))
    if DRIVER == "psycopg2":
        import io

        cur.copy_expert(f"COPY {T} (id, name) FROM STDIN", io.StringIO(lines))
        out = io.StringIO()
        cur.copy_expert(f"COPY (SELECT id, name FROM {T} WHERE id >= 200 ORDER BY id) TO STDOUT", out)
        text = out.getvalue()
    else:
        with cur.copy(f"COPY {T} (id, name) FROM STDIN") as copy:
            for i in range(5):
                copy.write_row((200 + i, f"copied {i}"))
        chunks = []
        with cur.copy(f"COPY (SELECT id, name FROM {T} WHERE id >= 200 ORDER BY id) TO STDOUT") as copy:
            for data in copy:
                chunks.append(bytes(data).decode())
        text = "".join(chunks)
    conn.commit()
    assert text.count("\n") == 5 and "copied 4" in text, text
    return "5 rows in, 5 out"


def error_recovery(conn):
    cur = conn.cursor()
    try:
        cur.execute("SELECT 1/0")
        raise AssertionError("no error")
    except db.Error as err:
        code = getattr(err, "pgcode", None) or getattr(getattr(err, "diag", None), "sqlstate", None)
        assert code == "22012", code
    conn.rollback()
    cur.execute("SELECT 2")
    assert cur.fetchone()[0] == 2
    return "22012, then rolled back and went on"


def notices(conn):
    cur = conn.cursor()
    seen = []
    if DRIVER == "psycopg2":
        cur.execute("DO $$ BEGIN RAISE NOTICE 'compat notice'; END $$")
        seen = [n for n in conn.notices if "compat notice" in n]
    else:
        conn.add_notice_handler(lambda d: seen.append(d.message_primary))
        cur.execute("DO $$ BEGIN RAISE NOTICE 'compat notice'; END $$")
    assert seen, "no notice"
    return "received"


def listen_notify(conn):
    cur = conn.cursor()
    payloads = []
    if DRIVER == "psycopg3":
        conn.add_notify_handler(lambda n: payloads.append(n.payload))
    cur.execute("LISTEN compat_channel")
    other = connect()
    other.autocommit = True
    other.cursor().execute("NOTIFY compat_channel, 'hello'")
    other.close()
    deadline = time.time() + 5
    while time.time() < deadline and not payloads:
        if DRIVER == "psycopg2":
            conn.poll()
            payloads = [n.payload for n in conn.notifies]
        else:
            cur.execute("SELECT 1")
        time.sleep(0.05)
    assert payloads == ["hello"], payloads
    return "hello"


def bytea_roundtrip(conn):
    cur = conn.cursor()
    blob = bytes(range(256)) * 4
    cur.execute(f"UPDATE {T} SET data = %s WHERE id = 1", (blob,))
    cur.execute(f"SELECT data FROM {T} WHERE id = 1")
    got = bytes(cur.fetchone()[0])
    conn.commit()
    assert got == blob, len(got)
    return f"{len(blob)} bytes"


def large_object(conn):
    if DRIVER == "psycopg2":
        lo = conn.lobject(0, "wb")
        lo.write(b"large object bytes")
        oid = lo.oid
        lo.close()
        back = conn.lobject(oid, "rb").read()
        conn.lobject(oid).unlink()
    else:
        cur = conn.cursor()
        cur.execute("SELECT lo_from_bytea(0, %s)", (b"large object bytes",))
        oid = cur.fetchone()[0]
        cur.execute("SELECT lo_get(%s)", (oid,))
        back = bytes(cur.fetchone()[0])
        cur.execute("SELECT lo_unlink(%s)", (oid,))
    conn.commit()
    assert back == b"large object bytes", back
    return f"oid {oid}"


def cancel(conn):
    cur = conn.cursor()
    timer = threading.Timer(0.5, conn.cancel)
    timer.start()
    started = time.time()
    try:
        cur.execute("SELECT pg_sleep(10)")
        raise AssertionError("not cancelled")
    except db.Error as err:
        code = getattr(err, "pgcode", None) or getattr(getattr(err, "diag", None), "sqlstate", None)
        assert code == "57014", code
    finally:
        timer.cancel()
    conn.rollback()
    took = time.time() - started
    assert took < 5, took
    return f"57014 after {took:.1f}s"


def prepared_reuse(conn):
    cur = conn.cursor()
    total = 0
    for i in range(1, 8):
        if DRIVER == "psycopg3":
            cur.execute(f"SELECT id FROM {T} WHERE id = %s", (i,), prepare=True)
        else:
            cur.execute(f"SELECT id FROM {T} WHERE id = %s", (i,))
        total += cur.fetchone()[0]
    assert total == 28, total
    return "7 runs"


def binary_format(conn):
    if DRIVER != "psycopg3":
        return "n/a (psycopg2 reads text)"
    cur = conn.cursor(binary=True)
    cur.execute(f"SELECT id, name, n FROM {T} WHERE id = %s", (3,))
    row = cur.fetchone()
    assert row[0] == 3 and row[1] == "item 3" and float(row[2]) == 0.75, row
    return "binary rows"


def pipeline(conn):
    if DRIVER != "psycopg3":
        return "n/a (psycopg2 has no pipeline mode)"
    results = []
    with conn.pipeline():
        curs = [conn.execute(f"SELECT id FROM {T} WHERE id = %s", (i,)) for i in range(1, 6)]
    for c in curs:
        results.append(c.fetchone()[0])
    assert results == [1, 2, 3, 4, 5], results
    return "5 in one pipeline"


def multi_result(conn):
    cur = conn.cursor()
    cur.execute("SELECT 1; SELECT 2")
    if DRIVER == "psycopg3":
        assert cur.fetchone()[0] == 1
        cur.nextset()
    last = cur.fetchone()[0]
    assert last == 2, last
    return "last result read"


def teardown(conn):
    conn.cursor().execute(f"DROP TABLE IF EXISTS {T}")
    conn.commit()
    return "dropped"


report("setup", lambda: with_conn(lambda c: (setup(c), c.commit())[0]))
report("parameters", lambda: with_conn(params))
report("executemany", lambda: with_conn(executemany))
report("server-side cursor", lambda: with_conn(server_cursor))
report("COPY both ways", lambda: with_conn(copy_both_ways))
report("error recovery in a transaction", lambda: with_conn(error_recovery))
report("notices", lambda: with_conn(notices, autocommit=True))
report("LISTEN/NOTIFY", lambda: with_conn(listen_notify, autocommit=True))
report("bytea round trip", lambda: with_conn(bytea_roundtrip))
report("large objects", lambda: with_conn(large_object))
report("cancel", lambda: with_conn(cancel))
report("prepared statement reuse", lambda: with_conn(prepared_reuse))
report("binary format", lambda: with_conn(binary_format))
report("pipeline mode", lambda: with_conn(pipeline))
report("multi-result simple query", lambda: with_conn(multi_result, autocommit=True))
report("teardown", lambda: with_conn(teardown))
