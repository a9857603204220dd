"""Where the feature SQL runs: DuckDB in-process (default) or Apache Spark.

Both engines take the same DuckDB-dialect steps (``vitals.features.queries``); the Spark engine
transpiles them with sqlglot. Each step is materialised under its name so later steps read it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import sqlglot

logger = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    """What the feature builder needs from an engine."""

    name: str

    def register(self, name: str, table: pa.Table) -> None:
        """Make a small Arrow table (e.g. the snapshot dates) available under ``name``."""

    def materialize(self, name: str, sql: str) -> None:
        """Run ``sql`` (DuckDB dialect) and keep its result as table ``name``."""

    def fetch(self, sql: str) -> pa.Table:
        """Run ``sql`` (DuckDB dialect) and return the result as Arrow."""

    def release(self, name: str) -> None:
        """Free step ``name``: no later step or query reads it."""

    def close(self) -> None:
        """Drop what the engine created."""


class DuckDBEngine:
    """Runs steps as temporary tables on the dataset's own DuckDB connection."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._created: list[str] = []
        self._views: set[str] = set()  # the steps given as relations (see alias)
        # the final query sorts its output; intermediate steps need no order, which saves memory
        self._order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        con.execute("SET preserve_insertion_order = false")
        # fetch runs its query as a statement: DuckDB 2's relations (``con.sql``) bind a query
        # once to describe it and again to run it, 40-50 ms more for the snapshot query (about
        # 400 columns) from 90 to 1,400 rows. The copy of the rows DuckDB warns about costs less.
        warnings.filterwarnings(
            "ignore",
            message="Arrow output on a DB-API result makes an extra copy",
            category=UserWarning,
            module=re.escape(__name__),
        )

    def register(self, name: str, table: pa.Table) -> None:
        """Copy a small Arrow table into a temporary table."""
        self.con.register(f"_{name}_arrow", table)
        self.materialize(name, f"SELECT * FROM _{name}_arrow")
        self.con.unregister(f"_{name}_arrow")

    def materialize(self, name: str, sql: str) -> None:
        """``CREATE TEMP TABLE name AS sql``."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        self._created.append(name)

    def alias(self, name: str, relation: str) -> None:
        """Make step ``name`` read the rows of ``relation`` (a table or view of the connection)
        where they are, without a copy."""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {relation}")
        self._created.append(name)
        self._views.add(name)

    def fetch(self, sql: str) -> pa.Table:
        """Run a query (as a statement: see ``__init__``) and return Arrow.

        With ``preserve_insertion_order`` off, DuckDB 2's Arrow output of a statement loses its
        ORDER BY from about 5,000 rows: it is on for the query.
        """
        self.con.execute("SET preserve_insertion_order = true")
        rows = self.con.execute(sql).to_arrow_table()  # on failure it stays on, as is safe
        self.con.execute("SET preserve_insertion_order = false")
        return rows

    def release(self, name: str) -> None:
        """Drop a temporary table early, so the large intermediate ones do not add up in memory."""
        self._drop(name)
        self._created.remove(name)

    def close(self) -> None:
        """Drop the temporary tables."""
        for name in reversed(self._created):
            self._drop(name)
        self._created.clear()
        self.con.execute(f"SET preserve_insertion_order = {bool(self._order[0][0])}")

    def _drop(self, name: str) -> None:
        kind = "VIEW" if name in self._views else "TABLE"
        self.con.execute(f"DROP {kind} IF EXISTS {name}")
        self._views.discard(name)


def spark_session(master: str = "local[2]", app_name: str = "vitals"):
    """A Spark session bound to loopback, UTC, no UI (pyspark is imported only here).

    Raises:
        RuntimeError: when pyspark is not installed.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("--engine spark needs pyspark: pip install 'vitals[spark]'") from exc
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers must run this interpreter, which can import the project
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.ansi.enabled", "false")
    )
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    return builder.getOrCreate()


class SparkEngine:
    """Runs the transpiled steps on Spark; contract tables arrive as Parquet files.

    The DuckDB connection has already loaded (and type-checked) the contract tables; they are
    written once as Parquet for Spark to read, so both engines see identical typed inputs.
    """

    name = "spark"

    def __init__(self, con: duckdb.DuckDBPyConnection, tables: list[str], master: str) -> None:
        self.spark = spark_session(master)
        self._tmp = tempfile.TemporaryDirectory(prefix="vitals-spark-")
        self._views: list[str] = []
        for table in tables:
            path = Path(self._tmp.name) / f"{table}.parquet"
            con.execute(f"COPY (SELECT * FROM {table}) TO '{path}' (FORMAT parquet)")
            self.spark.read.parquet(str(path)).createOrReplaceTempView(table)
            self._views.append(table)

    @staticmethod
    def transpile(sql: str) -> str:
        """DuckDB dialect -> Spark SQL."""
        return sqlglot.transpile(sql, read="duckdb", write="spark")[0]

    def register(self, name: str, table: pa.Table) -> None:
        """Make a small Arrow table a temporary view."""
        self.spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)
        self._views.append(name)

    def materialize(self, name: str, sql: str) -> None:
        """Cache the step's result as a temporary view."""
        frame = self.spark.sql(self.transpile(sql)).cache()
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def fetch(self, sql: str) -> pa.Table:
        """Run a query and collect it as Arrow."""
        return self.spark.sql(self.transpile(sql)).toArrow()

    def release(self, name: str) -> None:
        """Keep the view: Spark caches lazily, so a step's data is computed, and needed, only when
        the final query runs; :meth:`close` frees it."""

    def close(self) -> None:
        """Drop the views and cached data and remove the Parquet copies."""
        for name in reversed(self._views):
            self.spark.catalog.dropTempView(name)
        self.spark.catalog.clearCache()
        self._views.clear()
        self._tmp.cleanup()
