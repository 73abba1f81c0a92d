"""MySQL features exercised the way Python applications use them, with PyMySQL.

The connection comes from the environment: MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD,
MYSQL_DATABASE, and MYSQL_TLS=1 for TLS (the gateway's certificate is not verified: it is a test
certificate). Prints one JSON object a line, as pg_features.py does.
"""
import json
import os
import ssl

import pymysql
from pymysql.constants import CLIENT

PREFIX = os.environ.get("COMPAT_PREFIX", "compat")
T = f"{PREFIX}_items"


def connect(**extra):
    options = dict(
        host=os.environ["MYSQL_HOST"],
        port=int(os.environ["MYSQL_PORT"]),
        user=os.environ["MYSQL_USER"],
        password=os.environ.get("MYSQL_PASSWORD", ""),
        database=os.environ["MYSQL_DATABASE"],
        autocommit=False,
    )
    if os.environ.get("MYSQL_TLS") == "1":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        options["ssl"] = context
    options.update(extra)
    return pymysql.connect(**options)


def report(feature, fn):
    try:
        detail = fn()
        print(json.dumps({"feature": feature, "ok": True, "detail": detail}), flush=True)
    except Exception as err:  # noqa: BLE001
        print(json.dumps({"feature": feature, "ok": False, "detail": f"{type(err).__name__}: {err}"[:300]}), flush=True)


def with_conn(fn, **extra):
    conn = connect(**extra)
    try:
        return fn(conn)
    finally:
        conn.close()


def setup(conn):
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {T}")
        cur.execute(f"CREATE TABLE {T} (id INT PRIMARY KEY, name VARCHAR(40), data BLOB, n DECIMAL(10,2))")
        cur.executemany(f"INSERT INTO {T} (id, name, n) VALUES (%s, %s, %s)", [(i, f"item {i}", i / 4) for i in range(1, 51)])
    conn.commit()
    return "created"


def params(conn):
    with conn.cursor() as cur:
        cur.execute(f"SELECT name, n FROM {T} WHERE id = %s AND name LIKE %s", (7, "item%"))
        row = cur.fetchone()
    assert row[0] == "item 7" and float(row[1]) == 1.75, row
    return repr(row[0])


def executemany(conn):
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {T} (id, name) VALUES (%s, %s)", [(100 + i, f"many {i}") for i in range(20)])
        conn.commit()
        cur.execute(f"SELECT count(*) FROM {T} WHERE id >= 100")
        n = cur.fetchone()[0]
    assert n == 20, n
    return n


def rollback(conn):
    with conn.cursor() as cur:
        cur.execute(f"UPDATE {T} SET name = 'changed' WHERE id = 1")
        conn.rollback()
        cur.execute(f"SELECT name FROM {T} WHERE id = 1")
        name = cur.fetchone()[0]
    assert name == "item 1", name
    return "rolled back"


def error_recovery(conn):
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT * FROM no_such_table_here")
            raise AssertionError("no error")
        except pymysql.err.ProgrammingError as err:
            assert err.args[0] == 1146, err.args
        cur.execute("SELECT 2")
        assert cur.fetchone()[0] == 2
    return "1146, then went on"


def blob_roundtrip(conn):
    blob = bytes(range(256)) * 4
    with conn.cursor() as cur:
        cur.execute(f"UPDATE {T} SET data = %s WHERE id = 2", (blob,))
        conn.commit()
        cur.execute(f"SELECT data FROM {T} WHERE id = 2")
        got = cur.fetchone()[0]
    assert got == blob, len(got)
    return f"{len(blob)} bytes"


def multi_statements(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 1; SELECT 2")
        first = cur.fetchone()[0]
        cur.nextset()
        second = cur.fetchone()[0]
    assert (first, second) == (1, 2), (first, second)
    return "two results"


def metadata(conn):
    with conn.cursor() as cur:
        cur.execute(f"SHOW COLUMNS FROM {T}")
        columns = [r[0] for r in cur.fetchall()]
        cur.execute("SHOW TABLES")
        tables = [r[0] for r in cur.fetchall()]
    assert columns == ["id", "name", "data", "n"], columns
    assert T in tables, tables
    return "SHOW COLUMNS, SHOW TABLES"


def dict_cursor(conn):
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(f"SELECT id, name FROM {T} WHERE id = 3")
        row = cur.fetchone()
    assert row == {"id": 3, "name": "item 3"}, row
    return "dict rows"


def server_side_cursor(conn):
    with conn.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute(f"SELECT id FROM {T} WHERE id <= 50 ORDER BY id")
        ids = [r[0] for r in cur]
    assert ids == list(range(1, 51)), ids[:5]
    return len(ids)


def teardown(conn):
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {T}")
    conn.commit()
    return "dropped"


report("setup", lambda: with_conn(setup))
report("parameters", lambda: with_conn(params))
report("executemany", lambda: with_conn(executemany))
report("rollback", lambda: with_conn(rollback))
report("error recovery", lambda: with_conn(error_recovery))
report("BLOB round trip", lambda: with_conn(blob_roundtrip))
report("multi-statement text", lambda: with_conn(multi_statements, client_flag=CLIENT.MULTI_STATEMENTS))
report("metadata (SHOW)", lambda: with_conn(metadata))
report("dict cursor", lambda: with_conn(dict_cursor))
report("unbuffered cursor", lambda: with_conn(server_side_cursor))
report("teardown", lambda: with_conn(teardown))
