"""SQL that reads a source column as its contract type, and finds the values that cannot be read.

The loader reads each file as it is (Parquet with its own types, CSV as text) and converts every
contract column here, in DuckDB, so that a bad value is found with ``TRY_CAST`` and reported by
row instead of failing the whole query.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitals.features.contract import DUCKDB_TYPES, Column

_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
_NAIVE_TIMESTAMPS = frozenset({"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"})
# zone-aware timestamps; pandas writes nanosecond ones to Parquet, which DuckDB calls TIMESTAMPTZ_NS
_TZ_TIMESTAMPS = frozenset({"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS"})
_NULL_TYPE = '"NULL"'  # the type DuckDB gives an all-null Parquet column
_NOT_TEXT = ("[]", "STRUCT", "MAP", "UNION", "BLOB", "BIT")

# An ISO-8601 timestamp that carries a UTC offset; a plain TIMESTAMP cast would drop the offset.
_OFFSET_RE = r"\d:\d\d(:\d\d(\.\d*)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$"

WHAT = {
    "string": "a string",
    "timestamp": "an ISO-8601 timestamp",
    "date": "an ISO-8601 date",
    "float": "a number",
    "int": "an integer",
}


@dataclass(frozen=True)
class Conversion:
    """How one source column becomes its contract column.

    Attributes:
        expr: SQL giving the contract-typed value (NULL where the value cannot be read).
        failed: SQL predicate true where a present source value cannot be read, or ``None``
            when every value converts (the source already has a compatible type).
    """

    expr: str
    failed: str | None = None


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _is_float(source_type: str) -> bool:
    return source_type in ("FLOAT", "DOUBLE") or source_type.startswith("DECIMAL")


def _parse_timestamp(text: str) -> str:
    """SQL reading an ISO-8601 string as a UTC TIMESTAMP, honouring an explicit offset."""
    return (
        f"CASE WHEN regexp_matches({text}, {literal(_OFFSET_RE)}) "
        f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({text} AS TIMESTAMP) END"
    )


def _midnight_date(ts: str) -> str:
    """SQL giving the DATE of a TIMESTAMP expression, NULL when it has a time of day."""
    return f"CASE WHEN {ts} = CAST(CAST({ts} AS DATE) AS TIMESTAMP) THEN CAST({ts} AS DATE) END"


def _from_text(column: Column, col: str) -> Conversion:
    text = f"nullif(trim({col}), '')"
    number = f"TRY_CAST({text} AS DOUBLE)"
    whole = f"CASE WHEN isfinite({number}) AND {number} = trunc({number}) THEN {number} END"
    parsed = {
        "timestamp": _parse_timestamp(text),
        "date": _midnight_date(_parse_timestamp(text)),
        "float": number,
        "int": f"CAST({whole} AS BIGINT)",
    }[column.type]
    expr = f"nullif({parsed}, 'NaN'::DOUBLE)" if column.type == "float" else parsed
    return Conversion(expr, f"{text} IS NOT NULL AND ({parsed}) IS NULL")


def convert(column: Column, source_type: str) -> Conversion | None:
    """SQL reading a source column of DuckDB type ``source_type`` as ``column``'s contract type.

    NaN in a float column is read as NULL (it is how pandas writes a missing number). A float
    holding a whole number becomes an integer or an id without a trailing ``.0``; a timestamp
    stored in a date column must fall on midnight; a timestamp with a time zone is converted to
    UTC.

    Args:
        column: the contract column.
        source_type: the column's type in the file, as DuckDB names it.

    Returns:
        The conversion, or ``None`` when a column of that type cannot be read as the contract type.
    """
    col = quote(column.name)
    target = DUCKDB_TYPES[column.type]
    if source_type == _NULL_TYPE:
        return Conversion(f"CAST({col} AS {target})")
    if source_type == "VARCHAR":
        return Conversion(col) if column.type == "string" else _from_text(column, col)
    if column.type == "string":
        if any(marker in source_type for marker in _NOT_TEXT):
            return None
        if _is_float(source_type):
            # 12.0 -> "12", so ids that pandas turned into floats still match their accounts
            whole = f"CAST(TRY_CAST({col} AS BIGINT) AS VARCHAR)"
            return Conversion(
                f"CASE WHEN {col} = trunc({col}) THEN {whole} ELSE CAST({col} AS VARCHAR) END"
            )
        return Conversion(f"CAST({col} AS VARCHAR)")
    if column.type == "float" and (source_type in _INTEGERS or _is_float(source_type)):
        return Conversion(f"nullif(CAST({col} AS DOUBLE), 'NaN'::DOUBLE)")
    if column.type == "int" and source_type in _INTEGERS:
        return Conversion(f"CAST({col} AS BIGINT)")
    if column.type == "int" and _is_float(source_type):
        value = f"CAST({col} AS DOUBLE)"
        whole = f"CASE WHEN isfinite({value}) AND {value} = trunc({value}) THEN {value} END"
        parsed = f"CAST({whole} AS BIGINT)"
        return Conversion(parsed, f"{col} IS NOT NULL AND NOT isnan({value}) AND {whole} IS NULL")
    if column.type in ("timestamp", "date"):
        if source_type in _NAIVE_TIMESTAMPS or source_type == "DATE":
            ts = f"CAST({col} AS TIMESTAMP)"
        elif source_type in _TZ_TIMESTAMPS:
            ts = f"timezone('UTC', CAST({col} AS TIMESTAMPTZ))"
        else:
            return None
        if column.type == "timestamp":
            return Conversion(ts)
        if source_type == "DATE":
            return Conversion(col)
        return Conversion(
            _midnight_date(ts), f"{col} IS NOT NULL AND ({_midnight_date(ts)}) IS NULL"
        )
    return None


def _numeric_text(text: str) -> str:
    """SQL: a text value is a plain number (zero-padded codes such as zip codes are not)."""
    return f"TRY_CAST({text} AS DOUBLE) IS NOT NULL AND NOT regexp_matches({text}, '^[+-]?0[0-9]')"


def extra_type_probe(name: str) -> str:
    """SQL aggregates counting, for a text column, the values that are not integers and not numbers.

    The loader reads an extra CSV column as BIGINT or DOUBLE when every value is one, else as text.
    """
    text = f"nullif(trim({quote(name)}), '')"
    number = _numeric_text(text)
    value = f"TRY_CAST({text} AS DOUBLE)"
    whole = f"{number} AND isfinite({value}) AND {value} = trunc({value})"
    return (
        f"count_if({text} IS NOT NULL AND NOT ({whole})), "
        f"count_if({text} IS NOT NULL AND NOT ({number})), "
        f"count({text})"
    )


def extra_expr(name: str, bad_ints: int, bad_numbers: int, present: int) -> str:
    """SQL reading an extra CSV column, given the counts from :func:`extra_type_probe`."""
    col = quote(name)
    text = f"nullif(trim({col}), '')"
    if present and not bad_ints:
        return f"CAST(CAST({text} AS DOUBLE) AS BIGINT) AS {col}"
    if present and not bad_numbers:
        return f"CAST({text} AS DOUBLE) AS {col}"
    return col
