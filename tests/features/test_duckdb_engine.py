"""What the DuckDB engine returns: a query's rows, in its ORDER BY."""

from __future__ import annotations

import duckdb

from vitals.features.engines import DuckDBEngine


def test_a_fetched_query_keeps_its_order_by_when_the_steps_do_not_keep_order() -> None:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    # keys in random order, enough rows for DuckDB to collect a result in parallel
    con.execute(
        "CREATE TABLE t AS SELECT (hash(range) % 1000000)::VARCHAR AS k, range AS v "
        "FROM range(50000)"
    )
    engine = DuckDBEngine(con)  # the steps it materializes need no order
    for _ in range(5):
        keys = engine.fetch("SELECT k, v FROM t ORDER BY k, v")["k"].to_pylist()
        assert keys == sorted(keys)
    engine.close()
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
