"""The SQL steps for event features: daily roll-ups, windowed sums, active users and features.

Windowed sums run in two stages. The daily roll-up ``ev_day`` is first summed per snapshot into
the disjoint look-back intervals that the windows are made of (``ev_bins``: days back in (0, 7],
(7, 14], (14, 30], (30, 60], (60, 90], (90, 180]); ``ev_win`` then adds up at most six rows per
snapshot for each window. One pass of plain sums over the large join costs far less than one
conditional sum per window and column, and integer and exact decimal sums make both stages give
the same numbers as summing each window directly.
"""

from __future__ import annotations

import itertools

from vitals.features.dates import from_day
from vitals.features.definitions import WINDOWS
from vitals.features.families.vocabulary import CountedItem
from vitals.features.queries import MAX_LOOKBACK, Step, day_of, exact

#: ``ev_day`` columns that hold exact decimal sums of event values (the others count rows)
EXACT_METRICS = frozenset({"session_minutes", "value_sum"})
SLOPE_DAYS = 90
LOGIN = "event_type = 'login'"
SESSION = "event_type = 'session'"


def window_conditions() -> dict[str, str]:
    """Suffix -> condition on ``x.day`` for every current and previous window."""
    conds = {}
    for w in WINDOWS:
        conds[f"{w}d"] = f"x.day >= a.as_of_day - {w}"
        conds[f"prev_{w}d"] = f"x.day >= a.as_of_day - {2 * w} AND x.day < a.as_of_day - {w}"
    return conds


def look_back_bins() -> list[tuple[int, int]]:
    """Disjoint intervals ``(lo, hi]`` of days back (snapshot day - event day) that every current
    and previous window is a union of, covering 1 to ``MAX_LOOKBACK`` days."""
    edges = sorted({0, *WINDOWS, *(2 * w for w in WINDOWS)})
    if edges[-1] != MAX_LOOKBACK:
        raise ValueError(f"the longest window look-back must be {MAX_LOOKBACK} days")
    return list(itertools.pairwise(edges))


def _bins_of(suffix: str) -> list[int]:
    """Indices of the look-back bins that make up a window suffix (``30d``, ``prev_30d``)."""
    width = int(suffix.removeprefix("prev_").removesuffix("d"))
    lo, hi = (width, 2 * width) if suffix.startswith("prev_") else (0, width)
    return [i for i, (a, b) in enumerate(look_back_bins()) if a >= lo and b <= hi]


def _in_bins(bins: list[int]) -> str:
    return f"x.bin IN ({', '.join(map(str, bins))})"


def _distinct_in_windows(
    source: str, prefix: str, suffixes: tuple[str, ...], extra: tuple[str, ...] = ()
) -> str:
    """Distinct keys (users, features) per (account, snapshot) and window, without grouping by key.

    ``source`` has one row per (account, key, day) with ``prev_day``, the key's previous active
    day. A key is active in a window [L, R) exactly once at its first day there, the row whose
    day lies in [L, R) and whose ``prev_day`` is before L, so a plain conditional sum counts it.
    """
    conds = window_conditions()
    cols = []
    for suffix in suffixes:
        start = conds[suffix].split(" AND ")[0].replace("x.day >= ", "")
        cols.append(
            f"SUM(CASE WHEN {conds[suffix]} AND (x.prev_day IS NULL OR x.prev_day < {start}) "
            f"THEN 1 ELSE 0 END) AS {prefix}_{suffix}"
        )
    cols += extra
    lookback = _lookback(suffixes)
    return (
        f"SELECT x.account_id, a.as_of_day, {', '.join(cols)} FROM {source} x "
        f"JOIN snap_dates a ON x.day < a.as_of_day AND x.day >= a.as_of_day - {lookback} "
        "GROUP BY 1, 2"
    )


def _lookback(suffixes: tuple[str, ...]) -> int:
    """Days back from a snapshot that the windows of ``suffixes`` reach (``prev_30d``: 60)."""
    return max(
        int(s.removeprefix("prev_").removesuffix("d")) * (2 if "prev" in s else 1) for s in suffixes
    )


def _slope_sums(metric: str, expr: str) -> list[str]:
    """Sums of y and t*y over the last 90 days (t = day index 0..89), for a least-squares slope."""
    recent = f"x.day >= a.as_of_day - {SLOPE_DAYS}"
    return [
        f"SUM(CASE WHEN {recent} THEN {expr} ELSE 0 END) AS {metric}_y_90d",
        f"SUM(CASE WHEN {recent} THEN (x.day - (a.as_of_day - {SLOPE_DAYS})) * {expr} ELSE 0 END) "
        f"AS {metric}_ty_90d",
    ]


def _key_days(key: str, since: str, source: str) -> str:
    """Distinct (account, key, day) rows of the events of ``source``."""
    return (
        f"SELECT DISTINCT account_id, {key}, {day_of('timestamp')} AS day "
        f"FROM {source} WHERE {key} IS NOT NULL AND {since}"
    )


def active_days(key: str, key_days: str) -> str:
    """The (account, key, day) rows of the relation ``key_days`` with the key's previous active
    day (``prev_day``)."""
    return (
        f"SELECT account_id, {key}, day, LAG(day) OVER (PARTITION BY account_id, {key} "
        f"ORDER BY day) AS prev_day FROM {key_days}"
    )


def _count(predicate: str | None = None) -> str:
    """An integer count of the group's rows (those matching ``predicate``). ``COUNT_IF``: DuckDB
    runs a ``COUNT(*) FILTER`` per item as a filtered pass of its own, about a fifth slower over
    the dozens of counted items of a vocabulary."""
    counted = "COUNT(*)" if predicate is None else f"COUNT_IF({predicate})"
    return f"CAST({counted} AS INTEGER)"


def _daily(items: list[CountedItem], since: str, source: str) -> str:
    """``ev_day``: per account and day, event counts, session minutes, value sums and items, of
    the events of ``source``. Every column is a count or an exact sum: the roll-up of two sets
    of events is the sum of theirs (:mod:`vitals.features.daily_rollups` relies on it)."""
    keys = "".join(f", {_count(item.predicate)} AS {item.column}" for item in items)
    return (
        f"SELECT account_id, {day_of('timestamp')} AS day, {_count()} AS events, "
        f"{_count(LOGIN)} AS logins, {_count(SESSION)} AS sessions, "
        f"SUM(CASE WHEN {SESSION} THEN {exact('COALESCE(value, 1.0)')} ELSE 0 END) "
        f"AS session_minutes, SUM({exact('COALESCE(value, 1.0)')}) AS value_sum"
        f"{keys} FROM {source} WHERE {since} GROUP BY 1, 2"
    )


def _binned(metrics: list[str], lasts: list[str]) -> str:
    """``ev_bins``: ``ev_day`` summed per (account, snapshot, look-back bin)."""
    bins = look_back_bins()
    bin_of = " ".join(
        f"WHEN x.day >= a.as_of_day - {hi} THEN {i}" for i, (_, hi) in enumerate(bins[:-1])
    )
    cols = [f"CASE {bin_of} ELSE {len(bins) - 1} END AS bin"]
    cols += [
        "COUNT(*) AS active_days" if m == "active_days" else f"SUM(x.{m}) AS {m}" for m in metrics
    ]
    cols += [
        "SUM(CAST(x.day AS BIGINT) * x.events) AS events_day_sum",
        "MAX(x.day) AS last_day",
    ]
    cols += [f"MAX(CASE WHEN x.{c} > 0 THEN x.day END) AS {c}_last" for c in lasts]
    return (
        f"SELECT x.account_id, a.as_of_day, {', '.join(cols)} FROM ev_day x JOIN snap_dates a "
        f"ON x.day < a.as_of_day AND x.day >= a.as_of_day - {MAX_LOOKBACK} GROUP BY 1, 2, 3"
    )


def _folded(columns: list[tuple[str, str]], lasts: list[str]) -> str:
    """``ev_win``: each needed ``(metric, window suffix)`` summed over its bins of ``ev_bins``."""
    cols = []
    for metric, suffix in columns:
        total = f"SUM(CASE WHEN {_in_bins(_bins_of(suffix))} THEN x.{metric} ELSE 0 END)"
        if metric in EXACT_METRICS:  # exact decimal sums go back to DOUBLE here
            total = f"CAST({total} AS DOUBLE)"
        cols.append(f"{total} AS {metric}_{suffix}")
    recent = _in_bins(_bins_of(f"{SLOPE_DAYS}d"))
    cols += [
        f"SUM(CASE WHEN {recent} THEN x.events ELSE 0 END) AS events_y_90d",
        f"SUM(CASE WHEN {recent} THEN x.events_day_sum - (x.as_of_day - {SLOPE_DAYS}) * x.events "
        "ELSE 0 END) AS events_ty_90d",
        "MAX(x.last_day) AS last_active_day",
    ]
    cols += [f"MAX(x.{c}_last) AS {c}_last" for c in lasts]
    return f"SELECT x.account_id, x.as_of_day, {', '.join(cols)} FROM ev_bins x GROUP BY 1, 2"


def events_since(first_day: int, lookback: int = MAX_LOOKBACK) -> str:
    """SQL condition keeping the events that can reach a window of a snapshot on ``first_day``
    or later (every events query but the first use of each product feature reads only these), or
    only those within ``lookback`` days of it."""
    return f"timestamp >= DATE '{from_day(first_day - lookback)}'"


#: The steps that roll events up per account and day, the only ones reading every event (besides
#: the first use of each feature): ``ev_day`` counts and sums (see :func:`_daily`), the others
#: hold the days each user or product feature (:data:`ACTIVE_KEYS`) was active, with the one
#: before (:func:`active_days`).
DAILY_STEPS = ("ev_day", "user_day", "feature_day")
ACTIVE_KEYS = {"user_day": "user_id", "feature_day": "feature"}
USER_WINDOWS = ("7d", "prev_7d", "30d", "prev_30d", "90d")
FEATURE_WINDOWS = ("30d", "prev_30d", "90d")


def daily_steps(items: list[CountedItem], first_day: int, source: str = "events") -> list[Step]:
    """The :data:`DAILY_STEPS` over the events of ``source`` (see :func:`event_steps`)."""
    return [
        ("ev_day", _daily(items, events_since(first_day), source)),
        *(
            (step, active_days(key, f"({key_days(step, first_day, source)}) AS d"))
            for step, key in ACTIVE_KEYS.items()
        ),
    ]


def key_days(step: str, first_day: int, source: str) -> str:
    """The distinct (account, key, day) rows of the events of ``source`` that the step ``step``
    (of :data:`ACTIVE_KEYS`) reads for snapshots on ``first_day`` or later."""
    windows = USER_WINDOWS if step == "user_day" else FEATURE_WINDOWS
    # a key's active days older than its windows reach only serve as its previous active day,
    # and one that old is before every window's start, as no previous day at all is
    return _key_days(ACTIVE_KEYS[step], events_since(first_day, _lookback(windows)), source)


def event_steps(items: list[CountedItem], needed: set[str], first_day: int) -> list[Step]:
    """Daily roll-ups of events and their windowed sums per snapshot date.

    Args:
        items: the vocabulary's counted items; each becomes a daily count column ``v<i>``.
        needed: the window columns of ``ev_win`` that feature expressions read.
        first_day: day number of the earliest snapshot date; older events than its look-back
            cannot reach any window, so the daily roll-ups skip them.
    """
    metrics = ["events", "logins", "sessions", "session_minutes", "value_sum", "active_days"]
    metrics += [item.column for item in items]
    columns = [
        (metric, suffix)
        for metric in metrics
        for suffix in window_conditions()
        if f"{metric}_{suffix}" in needed
    ]
    summed = [m for m in metrics if m == "events" or any(m == c for c, _ in columns)]
    lasts = [item.column for item in items if f"{item.column}_last" in needed]
    # daily active users: one user_day row per active user and day
    conds = window_conditions()
    dau = (
        f"SUM(CASE WHEN {conds['30d']} THEN 1 ELSE 0 END) AS dau_sum_30d",
        f"SUM(CASE WHEN {conds['prev_30d']} THEN 1 ELSE 0 END) AS dau_sum_prev_30d",
        *_slope_sums("dau", "1"),
    )
    feature_available = (
        "SELECT a.as_of_day, COUNT(x.feature) AS features_available FROM snap_dates a "
        "LEFT JOIN (SELECT feature, MIN(day) AS first_day FROM (SELECT feature, "
        f"{day_of('timestamp')} AS day FROM events WHERE feature IS NOT NULL) e GROUP BY 1) x "
        "ON x.first_day < a.as_of_day GROUP BY 1"
    )
    summed_daily, user_day, feature_day = daily_steps(items, first_day)
    # each roll-up just before its readers: fewer large tables held at once
    return [
        summed_daily,
        ("ev_bins", _binned(summed, lasts)),
        ("ev_win", _folded(columns, lasts)),
        user_day,
        ("users_win", _distinct_in_windows("user_day", "active_users", USER_WINDOWS, dau)),
        feature_day,
        (
            "features_win",
            _distinct_in_windows("feature_day", "features_used", FEATURE_WINDOWS),
        ),
        ("features_avail", feature_available),
    ]
