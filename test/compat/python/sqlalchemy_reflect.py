"""What an ORM or BI tool does on connect, with SQLAlchemy: reflect tables, columns, keys and
indexes, then read rows. Usage: sqlalchemy_reflect.py URL. Prints one JSON object a line, as
pg_features.py does; the "rows" feature prints the rows read, for the caller to check masking.
"""
import json
import sys

import sqlalchemy as sa

URL = sys.argv[1]
engine = sa.create_engine(URL, connect_args={"sslmode": "require"} if URL.startswith("postgresql") and "sslmode" not in URL else {})


def report(feature, fn):
    try:
        detail = fn()
        print(json.dumps({"feature": feature, "ok": True, "detail": detail}, default=str), flush=True)
    except Exception as err:  # noqa: BLE001
        print(json.dumps({"feature": feature, "ok": False, "detail": f"{type(err).__name__}: {err}"[:300]}), flush=True)


inspector = None


def connect():
    global inspector
    inspector = sa.inspect(engine)
    return "connected"


report("connect and inspect", connect)
report("tables", lambda: sorted(inspector.get_table_names()))
report("columns", lambda: [c["name"] for c in inspector.get_columns("customers")])
report("primary key", lambda: inspector.get_pk_constraint("customers")["constrained_columns"])
report("foreign keys", lambda: [fk["referred_table"] for fk in inspector.get_foreign_keys("orders")])
report("indexes", lambda: sorted(i["name"] for i in inspector.get_indexes("orders")))
report("views", lambda: sorted(inspector.get_view_names()))


def rows():
    table = sa.Table("customers", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        return [list(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]


report("rows", rows)
