"""The SQL steps that turn contract tables into snapshot features, in DuckDB's dialect.

Each step is ``(name, sql)``; an engine materialises them in order as temporary tables, so later
steps read earlier ones by name. Only constructs that DuckDB and Spark SQL share are used (sqlglot
transpiles the dialect), and every date is an integer day number, so both engines agree exactly.
The input ``snap_dates`` table holds one row per snapshot date: ``as_of_day`` (day number) plus the
calendar parts ``y``, ``m``, ``d``.

Sums and means of DOUBLE columns (event values, session minutes, MRR, seats, scores) add exact
``DECIMAL(38, 9)`` values and turn the result back into a DOUBLE: a sum of doubles depends on the
order of its terms, which parallel aggregation varies from run to run, whereas decimal addition is
exact, so every build gives bit-identical features. Nine decimals keep every input value to
within 5e-10 (the sample data has one decimal, which stays exact), and 29 integer digits hold
any total of the amounts validation lets through (``vitals.features.rules.MAX_AMOUNT``, 1e15 each).
"""

from __future__ import annotations

from vitals.features.definitions import Feature

Step = tuple[str, str]

MAX_LOOKBACK = 180
DAY = "CAST(date_diff('day', DATE '1970-01-01', CAST({col} AS DATE)) AS INTEGER)"
NO_END = 2147483647  # stands in for a null end day when ordering or taking maxima
EXACT = "DECIMAL(38, 9)"  # sums of doubles run on this exact type (see the module docstring)


def day_of(column: str) -> str:
    """SQL for the day number of a timestamp or date column."""
    return DAY.format(col=column)


def exact(expr: str) -> str:
    """SQL for ``expr`` (a DOUBLE) as an exact decimal, whose sums do not depend on their order."""
    return f"CAST({expr} AS {EXACT})"


def exact_sum(expr: str) -> str:
    """SQL for the order-independent sum of a DOUBLE expression, as a DOUBLE."""
    return f"CAST(SUM({exact(expr)}) AS DOUBLE)"


def exact_avg(expr: str) -> str:
    """SQL for the order-independent mean of a DOUBLE expression (NULL without values)."""
    value = exact(expr)
    return f"CAST(SUM({value}) AS DOUBLE) / COUNT({value})"


def _quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def staging_steps(extra_account_columns: list[str]) -> list[Step]:
    """Typed, day-numbered copies of the contract tables the feature steps read."""
    extras = "".join(f', "{c}"' for c in extra_account_columns)
    return [
        (
            "acc",
            f"SELECT account_id, parent_id, segment, {day_of('created_at')} AS created_day"
            f"{extras} FROM accounts",
        ),
        (
            "subs",
            f"SELECT account_id, {day_of('start_date')} AS start_day, "
            f"{day_of('end_date')} AS end_day, mrr, seats, discount, "
            "COALESCE(billing_period_months, 1) AS period, "
            "year(start_date) AS sy, month(start_date) AS sm, day(start_date) AS sd "
            "FROM subscriptions",
        ),
    ]


def subscription_steps() -> list[Step]:
    """Subscription state at each snapshot date and 90 days before it.

    A line runs at a reference day when it started before it and has no end day before it; an
    end day on or after the snapshot date is not yet known at the snapshot, so it never matters.
    The next renewal falls a whole number of billing periods after the start date (day of month
    capped at 28 so every month has it).
    """
    months_elapsed = "((a.y - x.sy) * 12 + (a.m - x.sm) - CASE WHEN a.d < x.sd THEN 1 ELSE 0 END)"
    renewal_offset = f"((CAST(floor({months_elapsed} / x.period) AS INTEGER) + 1) * x.period)"
    month_index = f"(x.sm - 1 + {renewal_offset})"
    renewal = (
        f"make_date(CAST(x.sy + floor({month_index} / 12) AS INTEGER), "
        f"CAST({month_index} % 12 + 1 AS INTEGER), CAST(least(x.sd, 28) AS INTEGER))"
    )
    discounted_mrr = exact_sum("CASE WHEN x.discount IS NULL THEN 0 ELSE x.mrr END")
    state = (
        f"SELECT x.account_id, a.as_of_day, {exact_sum('x.mrr')} AS mrr, "
        f"{exact_sum('x.seats')} AS seats, "
        f"{exact_sum('x.mrr * x.discount')} / NULLIF({discounted_mrr}, 0)"
        " AS discount, MAX(x.period) AS billing_period_months, COUNT(*) AS lines, "
        "MIN({renewal_days}) AS days_to_renewal FROM subs x JOIN snap_dates a "
        "ON x.start_day < a.as_of_day - {shift} AND (x.end_day IS NULL OR x.end_day >= a.as_of_day "
        "- {shift}) GROUP BY 1, 2"
    )
    renewal_days = f"{day_of(renewal)} - a.as_of_day"
    return [
        ("sub_now", state.format(renewal_days=renewal_days, shift=0)),
        ("sub_90", state.format(renewal_days="NULL", shift=90)),
    ]


def ticket_steps() -> list[Step]:
    """Ticket counts, open tickets, resolution time and CSAT per snapshot date."""
    tk = (
        f"SELECT account_id, {day_of('opened_at')} AS opened_day, {day_of('closed_at')} "
        "AS closed_day, priority IN ('urgent', 'high') AS urgent, csat, "
        "CAST(date_diff('second', opened_at, closed_at) AS DOUBLE) / 3600 AS resolution_hours "
        "FROM tickets"
    )
    closed_90 = (
        "x.closed_day IS NOT NULL AND x.closed_day < a.as_of_day "
        "AND x.closed_day >= a.as_of_day - 90"
    )
    open_now = "(x.closed_day IS NULL OR x.closed_day >= a.as_of_day)"
    win = (
        "SELECT x.account_id, a.as_of_day, "
        "SUM(CASE WHEN x.opened_day >= a.as_of_day - 30 THEN 1 ELSE 0 END) AS tickets_opened_30d, "
        "SUM(CASE WHEN x.opened_day >= a.as_of_day - 60 AND x.opened_day < a.as_of_day - 30 "
        "THEN 1 ELSE 0 END) AS tickets_opened_prev_30d, "
        "SUM(CASE WHEN x.opened_day >= a.as_of_day - 90 THEN 1 ELSE 0 END) AS tickets_opened_90d, "
        "SUM(CASE WHEN x.opened_day >= a.as_of_day - 30 AND x.urgent THEN 1 ELSE 0 END) "
        "AS urgent_opened_30d, "
        f"SUM(CASE WHEN {open_now} THEN 1 ELSE 0 END) AS open_tickets, "
        f"SUM(CASE WHEN {open_now} AND x.urgent THEN 1 ELSE 0 END) AS open_urgent, "
        f"median(CASE WHEN {closed_90} THEN x.resolution_hours END) "
        "AS median_resolution_hours_90d, "
        f"{exact_avg(f'CASE WHEN {closed_90} THEN x.csat END')} AS ticket_csat_avg_90d "
        "FROM tk x JOIN snap_dates a ON x.opened_day < a.as_of_day GROUP BY 1, 2"
    )
    return [("tk", tk), ("tickets_win", win)]


def survey_steps() -> list[Step]:
    """NPS and CSAT survey aggregates per snapshot date.

    The latest NPS answer is the highest of those given at the latest moment, should there be more.
    """
    sv = (
        f"SELECT account_id, kind, score, responded_at, {day_of('responded_at')} AS day "
        "FROM surveys"
    )
    nps = "x.kind = 'nps'"
    nps_180 = f"{nps} AND x.day >= a.as_of_day - 180"
    csat_90 = "CASE WHEN x.kind = 'csat' AND x.day >= a.as_of_day - 90 THEN x.score END"
    # answers given at the same moment are ordered by score, so the pick never depends on row order
    latest = f"CASE WHEN {nps} THEN {{'t': x.responded_at, 's': x.score}} END"
    win = (
        "SELECT x.account_id, a.as_of_day, "
        f"max_by(CASE WHEN {nps} THEN x.score END, {latest}) AS nps_latest, "
        f"{exact_avg(f'CASE WHEN {nps_180} THEN x.score END')} AS nps_avg_180d, "
        f"AVG(CASE WHEN {nps_180} THEN CASE WHEN x.score <= 6 THEN 1 ELSE 0 END END) "
        "AS nps_detractor_share_180d, "
        f"SUM(CASE WHEN {nps_180} THEN 1 ELSE 0 END) AS nps_responses_180d, "
        f"{exact_avg(csat_90)} AS csat_avg_90d "
        "FROM sv x JOIN snap_dates a ON x.day < a.as_of_day GROUP BY 1, 2"
    )
    return [("sv", sv), ("surveys_win", win)]


SENTIMENT_SCORE = "CASE rating WHEN 'red' THEN 0.0 WHEN 'yellow' THEN 1.0 WHEN 'green' THEN 2.0 END"


def sentiment_steps() -> list[Step]:
    """The CSM's latest rating (red 0, yellow 1, green 2), its age, and its change over 90 days.

    Ratings given at the same moment are ordered by rating, so the pick never depends on row order.
    """
    st = (
        f"SELECT account_id, {SENTIMENT_SCORE} AS score, recorded_at, "
        f"{day_of('recorded_at')} AS day FROM sentiment"
    )
    latest = "{'t': x.recorded_at, 's': x.score}"
    then = "CASE WHEN x.day < a.as_of_day - 90 THEN {'t': x.recorded_at, 's': x.score} END"
    win = (
        "SELECT x.account_id, a.as_of_day, "
        f"max_by(x.score, {latest}) AS sentiment_latest, "
        "a.as_of_day - MAX(x.day) AS sentiment_days_since, "
        f"max_by(CASE WHEN x.day < a.as_of_day - 90 THEN x.score END, {then}) "
        "AS sentiment_90d_ago "
        "FROM st x JOIN snap_dates a ON x.day < a.as_of_day GROUP BY 1, 2"
    )
    return [("st", st), ("sentiment_win", win)]


def label_steps(horizon: int, grace: int, data_end_day: int) -> list[Step]:
    """Churn days (gaps-and-islands over subscription lines) and one label per snapshot.

    Lines of an account whose starts fall within ``grace`` days of the latest end so far form one
    *island* of continuous custom; an island with a known end is a churn on that day. A snapshot
    is labelled only when its horizon and the grace gap after it lie inside the data; otherwise
    the label is null (censored), never "retained".
    """
    islands = (
        f"SELECT account_id, island, MAX(COALESCE(end_day, {NO_END})) AS end_day FROM ("
        "SELECT *, SUM(new_island) OVER (PARTITION BY account_id ORDER BY start_day, "
        f"COALESCE(end_day, {NO_END}) ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island "
        f"FROM (SELECT *, CASE WHEN prev_end IS NULL OR start_day - {grace} > prev_end THEN 1 "
        "ELSE 0 END AS new_island FROM (SELECT account_id, start_day, end_day, "
        f"MAX(COALESCE(end_day, {NO_END})) OVER (PARTITION BY account_id ORDER BY start_day, "
        f"COALESCE(end_day, {NO_END}) ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) "
        "AS prev_end "
        "FROM subs) p) q) r GROUP BY 1, 2"
    )
    churns = f"SELECT account_id, end_day AS churn_day FROM islands WHERE end_day < {NO_END}"
    labels = (
        "SELECT b.account_id, b.as_of_day, MIN(c.churn_day) AS churn_day FROM base b "
        "LEFT JOIN churns c ON c.account_id = b.account_id AND c.churn_day >= b.as_of_day "
        "GROUP BY 1, 2"
    )
    label_sql = (
        f"CASE WHEN l.as_of_day + {horizon} + {grace} > {data_end_day} THEN NULL "
        f"WHEN l.churn_day IS NOT NULL AND l.churn_day < l.as_of_day + {horizon} THEN 1 ELSE 0 END"
    )
    # a churn day is known once every day of the grace gap after it is inside the data (the
    # data end day is the day after the last one), as a label needs as_of + horizon + grace <= it
    final = (
        f"SELECT l.account_id, l.as_of_day, {label_sql} AS churned_within_horizon, "
        f"CASE WHEN l.churn_day + {grace} < {data_end_day} THEN l.churn_day END AS churn_day "
        "FROM labels l"
    )
    return [("islands", islands), ("churns", churns), ("labels", labels), ("labelled", final)]


def base_step() -> Step:
    """One row per (account, snapshot date) for accounts that are customers at that date."""
    return (
        "base",
        "SELECT acc.account_id, a.as_of_day FROM acc JOIN snap_dates a "
        "ON acc.created_day < a.as_of_day JOIN sub_now s "
        "ON s.account_id = acc.account_id AND s.as_of_day = a.as_of_day",
    )


def snapshot_query(features: list[Feature], tables: set[str]) -> str:
    """The final select: identifiers, every feature expression and the label columns."""
    joins = [
        "JOIN acc ON acc.account_id = b.account_id",
        "JOIN snap_dates a ON a.as_of_day = b.as_of_day",
        "JOIN sub_now s ON s.account_id = b.account_id AND s.as_of_day = b.as_of_day",
        "LEFT JOIN sub_90 s90 ON s90.account_id = b.account_id AND s90.as_of_day = b.as_of_day",
        "LEFT JOIN ev_win e ON e.account_id = b.account_id AND e.as_of_day = b.as_of_day",
        "LEFT JOIN users_win u ON u.account_id = b.account_id AND u.as_of_day = b.as_of_day",
        "LEFT JOIN features_win f ON f.account_id = b.account_id AND f.as_of_day = b.as_of_day",
        "LEFT JOIN features_avail fa ON fa.as_of_day = b.as_of_day",
        "JOIN labelled l ON l.account_id = b.account_id AND l.as_of_day = b.as_of_day",
    ]
    if "tickets" in tables:
        joins.append(
            "LEFT JOIN tickets_win t ON t.account_id = b.account_id AND t.as_of_day = b.as_of_day"
        )
    if "surveys" in tables:
        joins.append(
            "LEFT JOIN surveys_win sv ON sv.account_id = b.account_id "
            "AND sv.as_of_day = b.as_of_day"
        )
    if "sentiment" in tables:
        joins.append(
            "LEFT JOIN sentiment_win st ON st.account_id = b.account_id "
            "AND st.as_of_day = b.as_of_day"
        )
    columns = ["b.account_id", "b.as_of_day", "acc.parent_id"]
    columns += [f"{f.sql} AS {f.spec.name}" for f in features]
    columns += ["l.churned_within_horizon", "l.churn_day"]
    return f"SELECT {', '.join(columns)} FROM base b {' '.join(joins)} ORDER BY 1, 2"
