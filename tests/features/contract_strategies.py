"""Hypothesis strategies for small, contract-valid data directories, and a brute-force label oracle.

A :class:`Case` holds the data as plain Python values (every timestamp in UTC, every date a
``date``) and how each value is written: CSV text, naive, ``Z`` or with a UTC offset (``+02:00``,
``-05:30``, ``+0200``, ``-03``), or Parquet with naive, zoned or date-as-timestamp columns. The
layouts of real exports are drawn on purpose: several lines of one account starting the same day
(plan + add-on), open-ended lines followed by other lines, nested and overlapping lines, gaps
just inside, at and just past the grace period, renewals on the previous line's end date,
zero-MRR lines, add-ons without seats, line ends after the export (scheduled ends), accounts
without events, parents without subscriptions, events before ``created_at``, empty
(header-only) and absent optional tables, long and non-ASCII ids. The data is often cut at an
export day just before, at or after the end of a churn's grace gap, and snapshot dates are drawn
around churns, horizon ends and the data end, where labels change. Sizes stay small (a handful
of accounts, dates within about two years) so that one example builds in a fraction of a second.

The oracle (:func:`account_churns`, :func:`expected_snapshots`) is written from the data
contract's text, not from the feature SQL.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
from hypothesis import strategies as st

from vitals.features.simulate import write_dataset

BASE = date(2022, 1, 1)  # every stamp falls within BASE .. BASE + SPAN (+ a line's length)
SPAN = 640

# --- identifiers and text -------------------------------------------------------------------

_ID_CHARS = st.sampled_from(
    [*"abcxyzAZ0179-_. ", "é", "ß", "Ω", "ø", "中", "文", "客", "😀", "'", '"', ",", "&", "/"]
)
_SHORT_ID = st.text(_ID_CHARS, min_size=1, max_size=6).filter(lambda s: s.strip() != "")
_ID = st.one_of(
    _SHORT_ID,
    st.sampled_from(["NA", "null", "None", "nan", "007", "7", "1e3", "TRUE"]),
    # long ids, as some CRMs export them (URNs, UUID chains, names)
    st.builds(lambda s: "urn:crm:Société-Générale-客户-" * 8 + s, _SHORT_ID),
)
_TEXT = st.one_of(
    st.none(),
    st.text(st.sampled_from([*"ab ,;", '"', "'", "\n", "é", "😀", "\t"]), max_size=12),
)
EVENT_TYPES = (
    "login",
    "session",
    "report_run",
    "export",
    "Add contact",
    "add_contact",
    "rapport été",
)
FEATURES = ("reports", "dashboards", "api", "Éditeur", "o'clock", "客")
SEGMENTS = (None, "enterprise", "smb", "web", "mid-market", "Entreprise é")

# --- stamps: a UTC instant and how it is written --------------------------------------------

#: CSV renderings of a timestamp: (name, offset in minutes or None for naive/Z).
CSV_STYLES = (
    ("T", None),
    ("space", None),
    ("Z", None),
    ("frac", None),
    ("+02:00", 120),
    ("-05:30", -330),
    ("+14:00", 840),
    ("-12:00", -720),
    ("+00:00", 0),
    ("+0200", 120),  # basic-format offsets
    ("-03", -180),
)
#: Parquet types of a timestamp column (``timestamp[ns, tz=...]`` is what pandas writes for
#: zone-aware columns: DuckDB reads it as TIMESTAMPTZ_NS).
PARQUET_TIMESTAMPS = (
    pa.timestamp("us"),
    pa.timestamp("ms"),
    pa.timestamp("ns"),
    pa.timestamp("us", tz="UTC"),
    pa.timestamp("us", tz="+02:00"),
    pa.timestamp("ns", tz="UTC"),
)
#: Parquet types of a date column (pandas often writes dates as midnight timestamps).
PARQUET_DATES = (pa.date32(), pa.timestamp("ns"), pa.timestamp("us", tz="UTC"))

_TIMES = st.one_of(
    st.sampled_from(
        [time(0, 0), time(0, 30), time(1, 59), time(12, 0), time(22, 30), time(23, 59, 59)]
    ),
    st.builds(
        time,
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.sampled_from([0, 0, 250_000, 999_000]),
    ),
)


@dataclass(frozen=True)
class Stamp:
    """A UTC instant and the CSV style it is written in."""

    utc: datetime  # naive, UTC
    style: str = "T"

    @property
    def day(self) -> date:
        """The UTC calendar day."""
        return self.utc.date()

    def csv(self) -> str:
        """ISO-8601 text in this stamp's style (same instant)."""
        if self.style == "date":
            return self.utc.date().isoformat()
        offset = dict(CSV_STYLES).get(self.style)
        local = self.utc + timedelta(minutes=offset or 0)
        sep = " " if self.style == "space" else "T"
        text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        if self.style == "frac" or local.microsecond:
            text += f".{local.microsecond:06d}"
        if self.style == "Z":
            return text + "Z"
        if offset is None:
            return text
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset), 60)
        return text + {
            "+0200": f"{sign}{hours:02d}{minutes:02d}",
            "-03": f"{sign}{hours:02d}",
        }.get(self.style, f"{sign}{hours:02d}:{minutes:02d}")


@st.composite
def stamps(draw: st.DrawFn, first: int = 0, last: int = SPAN) -> Stamp:
    """A timestamp on a day in ``BASE + [first, last]``, often near midnight."""
    day = BASE + timedelta(days=draw(st.integers(first, last)))
    moment = datetime.combine(day, draw(_TIMES))
    styles = [name for name, _ in CSV_STYLES]
    if moment.time() == time(0, 0):
        styles.append("date")
    return Stamp(moment, draw(st.sampled_from(styles)))


# --- subscription lines ----------------------------------------------------------------------


@dataclass
class Line:
    """One subscription line."""

    account_id: str
    start: date
    end: date | None
    mrr: float = 100.0
    seats: float | None = 10.0
    product: str | None = "plan"
    discount: float | None = None
    period: int | None = 1


#: How a line starts relative to the previous line of its account.
RELATIONS = (
    "same_start",  # plan + add-on on the same day
    "renewal",  # starts on the previous line's end date
    "grace_inside",  # gap = grace - 1
    "grace_at",  # gap = grace
    "grace_past",  # gap = grace + 1
    "nested",  # inside the previous line
    "overlap",  # starts inside the previous line, ends later
    "later",  # anything after the previous start
)
_LENGTHS = st.one_of(
    st.sampled_from([0, 1, 29, 30, 31, 90, 365]),
    st.integers(0, 400),
)


@st.composite
def subscription_lines(
    draw: st.DrawFn, account_id: str, grace: int, cohort: int = 0, min_count: int = 0
) -> list[Line]:
    """The lines of one account, each placed relative to the one before it; the first starts
    within 150 days after day ``cohort``."""
    count = draw(st.integers(min_count, 4))
    lines: list[Line] = []
    for k in range(count):
        if k == 0:
            start = BASE + timedelta(days=cohort + draw(st.integers(0, 150)))
        else:
            prev = lines[-1]
            how = draw(st.sampled_from(RELATIONS))
            gap = {"renewal": 0, "grace_inside": grace - 1, "grace_at": grace}
            gap["grace_past"] = grace + 1
            if how == "same_start" or (how in gap and prev.end is None):
                start = prev.start
            elif how in gap:
                start = prev.end + timedelta(days=max(gap[how], 0))
            elif how in ("nested", "overlap") and prev.end is not None:
                start = prev.start + timedelta(
                    days=draw(st.integers(0, (prev.end - prev.start).days))
                )
            else:
                start = prev.start + timedelta(days=draw(st.integers(0, 200)))
        if draw(st.integers(0, 9)) < 3:
            end = None  # still running
        else:
            end = start + timedelta(days=draw(_LENGTHS))
            if k and how == "nested" and lines[-1].end is not None:
                end = min(end, lines[-1].end)
        addon = draw(st.booleans())
        lines.append(
            Line(
                account_id,
                start,
                end,
                mrr=draw(st.sampled_from([0.0, 0.0, 9.99, 100.0, 1234.5])),
                seats=None if addon else draw(st.sampled_from([1.0, 5.0, 40.0, 2.5])),
                product=draw(st.sampled_from(["add-on", "Zusatz-modul é", None]))
                if addon
                else "plan",
                discount=draw(st.sampled_from([None, None, 0.0, 0.15, 1.0])),
                period=draw(st.sampled_from([None, 1, 1, 3, 12])),
            )
        )
    return lines


# --- a whole data directory ------------------------------------------------------------------


@dataclass
class Case:
    """A contract-valid data directory, as values, plus the snapshot settings to build it with.

    Optional tables are ``None`` when absent and ``[]`` when present with a header only.
    """

    fmt: str
    accounts: list[dict]
    lines: list[Line]
    events: list[dict]
    tickets: list[dict] | None
    surveys: list[dict] | None
    sentiment: list[dict] | None
    grace: int
    horizon: int
    as_of: list[date] = field(default_factory=list)
    #: Parquet types per (table, column) of timestamps and dates, and of billing periods
    parquet_types: dict[tuple[str, str], pa.DataType] = field(default_factory=dict)
    period_as_float: bool = False

    # -- what the contract says about it

    def stamp_days(self, with_ends: bool = True) -> list[date]:
        """The UTC day of every timestamp and date in the data (line ends only ``with_ends``)."""
        days = [a["created_at"].day for a in self.accounts]
        days += [line.start for line in self.lines]
        if with_ends:
            days += [line.end for line in self.lines if line.end is not None]
        days += [e["timestamp"].day for e in self.events]
        for t in self.tickets or []:
            days.append(t["opened_at"].day)
            if t["closed_at"] is not None:
                days.append(t["closed_at"].day)
        days += [s["responded_at"].day for s in self.surveys or []]
        days += [s["recorded_at"].day for s in self.sentiment or []]
        return days

    def lines_of(self, account_id: str, end: date | None = None) -> list[Line]:
        """The account's lines; with the data ``end``, later line ends are not yet known."""
        return [
            ln
            if end is None or ln.end is None or ln.end < end
            else dataclasses.replace(ln, end=None)
            for ln in self.lines
            if ln.account_id == account_id
        ]

    def cut(self, as_of: date, keep_ends: bool = False) -> Case:
        """The data as it looked on ``as_of``: rows stamped on or after it removed, and line ends
        on or after it not yet known (kept as scheduled ends with ``keep_ends``). Accounts stay.
        """
        moment = datetime.combine(as_of, time())
        lines = [
            ln
            if keep_ends or ln.end is None or ln.end < as_of
            else dataclasses.replace(ln, end=None)
            for ln in self.lines
            if ln.start < as_of
        ]

        def before(rows: list[dict] | None, column: str) -> list[dict] | None:
            return None if rows is None else [r for r in rows if r[column].utc < moment]

        tickets = before(self.tickets, "opened_at")
        if tickets is not None:
            tickets = [
                t
                if t["closed_at"] is None or t["closed_at"].utc < moment
                else {**t, "closed_at": None, "csat": None}
                for t in tickets
            ]
        return dataclasses.replace(
            self,
            lines=lines,
            events=before(self.events, "timestamp"),
            tickets=tickets,
            surveys=before(self.surveys, "responded_at"),
            sentiment=before(self.sentiment, "recorded_at"),
        )

    def exported(self, day: date) -> Case:
        """The data as exported at the end of ``day``: nothing stamped later, except scheduled
        line ends; accounts created later are moved to that day (they exist at export)."""
        case = self.cut(day + timedelta(days=1), keep_ends=True)
        last = datetime.combine(day, time())
        case.accounts = [
            a if a["created_at"].day <= day else {**a, "created_at": Stamp(last, "T")}
            for a in case.accounts
        ]
        return case

    # -- writing it

    def tables(self) -> dict[str, pa.Table]:
        """Every present table as Arrow, typed for the chosen format."""
        subs = [
            {
                "account_id": ln.account_id,
                "start_date": ln.start,
                "end_date": ln.end,
                "mrr": ln.mrr,
                "seats": ln.seats,
                "product": ln.product,
                "discount": ln.discount,
                "billing_period_months": ln.period,
            }
            for ln in self.lines
        ]
        rows = {
            "accounts": self.accounts,
            "subscriptions": subs,
            "events": self.events,
            "tickets": self.tickets,
            "surveys": self.surveys,
            "sentiment": self.sentiment,
        }
        return {name: self._arrow(name, data) for name, data in rows.items() if data is not None}

    def _arrow(self, name: str, rows: list[dict]) -> pa.Table:
        columns = {}
        for column, kind in SCHEMAS[name].items():
            values = [r[column] for r in rows]
            columns[column] = self._array(name, column, kind, values)
        return pa.table(columns)

    def _array(self, table: str, column: str, kind: str, values: list) -> pa.Array:
        if kind == "timestamp":
            if self.fmt == "csv":
                return pa.array([None if v is None else v.csv() for v in values], pa.string())
            return pa.array(
                [None if v is None else v.utc for v in values],
                self.parquet_types.get((table, column), pa.timestamp("us")),
            )
        if kind == "date":
            target = pa.date32() if self.fmt == "csv" else self.parquet_types[(table, column)]
            if pa.types.is_timestamp(target):
                values = [None if v is None else datetime.combine(v, time()) for v in values]
            if self.fmt == "parquet" and all(v is None for v in values) and column == "end_date":
                target = pa.null()  # how pandas writes an all-empty column
            return pa.array(values, target)
        if kind == "int":
            return pa.array(values, pa.float64() if self.period_as_float else pa.int64())
        return pa.array(values, {"string": pa.string(), "float": pa.float64()}[kind])

    def write(self, root: Path) -> Path:
        """Write the data directory with the public writer; return ``root``."""
        write_dataset(self.tables(), root, self.fmt)
        return root


SCHEMAS: dict[str, dict[str, str]] = {
    "accounts": {
        "account_id": "string",
        "parent_id": "string",
        "name": "string",
        "segment": "string",
        "created_at": "timestamp",
        "plan": "string",  # extra columns: attributes
        "employees": "float",
    },
    "subscriptions": {
        "account_id": "string",
        "start_date": "date",
        "end_date": "date",
        "mrr": "float",
        "seats": "float",
        "product": "string",
        "discount": "float",
        "billing_period_months": "int",
    },
    "events": {
        "account_id": "string",
        "timestamp": "timestamp",
        "event_type": "string",
        "user_id": "string",
        "feature": "string",
        "value": "float",
    },
    "tickets": {
        "account_id": "string",
        "ticket_id": "string",
        "opened_at": "timestamp",
        "closed_at": "timestamp",
        "priority": "string",
        "csat": "float",
    },
    "surveys": {
        "account_id": "string",
        "responded_at": "timestamp",
        "kind": "string",
        "score": "float",
        "user_id": "string",
        "comment": "string",
    },
    "sentiment": {
        "account_id": "string",
        "recorded_at": "timestamp",
        "rating": "string",
        "author": "string",
        "note": "string",
    },
}


@st.composite
def _optional_rows(draw: st.DrawFn, row: st.SearchStrategy[dict]) -> list[dict] | None:
    """Absent (None), header only ([]) or a few rows."""
    shape = draw(st.sampled_from(["absent", "empty", "rows", "rows"]))
    if shape == "absent":
        return None
    if shape == "empty":
        return []
    return draw(st.lists(row, min_size=1, max_size=4))


@st.composite
def cases(draw: st.DrawFn, max_accounts: int = 5, max_dates: int = 4) -> Case:
    """A small, contract-valid data directory and the snapshot settings to build it with."""
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    grace = draw(st.sampled_from([30, 30, 30, 7, 0]))
    horizon = draw(st.sampled_from([90, 90, 30]))
    ids = draw(st.lists(_ID, min_size=1, max_size=max_accounts, unique=True))
    parents = [
        draw(st.one_of(st.none(), st.sampled_from(ids[:i]))) if i else None for i in range(len(ids))
    ]
    lines: list[Line] = []
    accounts = []
    cohort = draw(st.integers(0, SPAN - 300))  # the accounts' first lines start close together
    for account_id, parent in zip(ids, parents, strict=True):
        own = draw(subscription_lines(account_id, grace, cohort))
        if account_id in parents and draw(st.booleans()):
            own = []  # a parent without subscriptions of its own
        lines += own
        if own and draw(st.integers(0, 3)):  # mostly created when the first line starts
            first = min(ln.start for ln in own) - timedelta(days=draw(st.sampled_from([0, 1, 30])))
            created = Stamp(
                datetime.combine(first, draw(_TIMES)),
                draw(st.sampled_from(["T", "Z", "date", "+02:00", "-05:30"])),
            )
            if created.style == "date":
                created = Stamp(datetime.combine(first, time()), "date")
        else:  # anywhere, also after its events or its first line
            created = draw(stamps(0, SPAN - 30))
        accounts.append(
            {
                "account_id": account_id,
                "parent_id": parent,
                "name": draw(st.one_of(st.none(), st.sampled_from(["Acme", "Ünïcødé GmbH"]))),
                "segment": draw(st.sampled_from(SEGMENTS)),
                "created_at": created,
                "plan": draw(st.sampled_from([None, "gold", "silver"])),
                "employees": draw(st.sampled_from([None, 12.0, 5000.0])),
            }
        )
    if not lines:  # validation wants rows in every required table
        lines = draw(subscription_lines(ids[-1], grace, cohort, min_count=1))
    if draw(st.booleans()):
        lines = draw(st.permutations(lines))  # file order is not time order
    # events: any time in the window, so also before created_at; some accounts get none
    event = st.fixed_dictionaries(
        {
            "account_id": st.sampled_from(ids),
            "timestamp": stamps(),
            "event_type": st.sampled_from(EVENT_TYPES),
            "user_id": st.sampled_from([None, "7", "u1", "ü-ser"]),
            "feature": st.sampled_from([None, *FEATURES]),
            "value": st.one_of(
                st.none(),
                st.sampled_from([0.0, 1.0, 2.5, -3.0]),
                st.floats(-1e3, 1e5, allow_nan=False, allow_infinity=False),
            ),
        }
    )
    events = draw(st.lists(event, min_size=1, max_size=10))
    tickets = draw(_optional_rows(_tickets(ids)))
    if tickets:
        tickets = [{**t, "ticket_id": f"{t['ticket_id']}-{i}"} for i, t in enumerate(tickets)]
    surveys = draw(_optional_rows(_surveys(ids)))
    sentiment = draw(
        _optional_rows(
            st.fixed_dictionaries(
                {
                    "account_id": st.sampled_from(ids),
                    "recorded_at": stamps(),
                    "rating": st.sampled_from(["red", "yellow", "green"]),
                    "author": st.sampled_from([None, "csm1", "Zoë"]),
                    "note": _TEXT,
                }
            )
        )
    )
    case = Case(fmt, accounts, lines, events, tickets, surveys, sentiment, grace, horizon)
    # the export day: all the data, or the data as exported on a day (often just before, at or
    # after the end of a grace gap, so that churns are drawn at the edge of being known)
    export = draw(st.sampled_from(["all", "grace_edge", "grace_edge", "grace_edge", "day"]))
    churned = sorted(
        {d for account_id in ids for d in account_churns(case.lines_of(account_id), grace)}
    )
    focus: list[date] = []  # snapshot dates to include
    if export == "grace_edge" and churned:
        churn = draw(st.sampled_from(churned))
        # on the churn day, and with it on the horizon's last day and the day after it
        focus += [churn, churn - timedelta(days=horizon - 1), churn - timedelta(days=horizon)]
        day = churn + timedelta(days=grace + draw(st.sampled_from([-1, -1, 0, 1])))
    elif export != "all":
        day = BASE + timedelta(days=draw(st.integers(60, SPAN)))
    else:
        day = None
    if day is not None and any(ln.start <= day for ln in lines):
        moment = datetime.combine(day, draw(_TIMES))
        anchor = {**draw(event), "timestamp": Stamp(moment, draw(st.sampled_from(["T", "Z"])))}
        case = dataclasses.replace(case, events=[*case.events, anchor]).exported(day)
    if fmt == "parquet":
        for table, columns in SCHEMAS.items():
            for column, kind in columns.items():
                choices = {"timestamp": PARQUET_TIMESTAMPS, "date": PARQUET_DATES}.get(kind)
                if choices:
                    case.parquet_types[(table, column)] = draw(st.sampled_from(choices))
    case.period_as_float = draw(st.booleans())
    case.as_of = draw(_as_of_dates(case, max_dates, focus))
    return case


def _tickets(ids: list[str]) -> st.SearchStrategy[dict]:
    @st.composite
    def ticket(draw: st.DrawFn) -> dict:
        opened = draw(stamps())
        closed = None
        if draw(st.booleans()):
            delta = draw(st.sampled_from([0, 1, 3600, 86_400, 86_400 * 40]))
            closed = Stamp(
                opened.utc + timedelta(seconds=delta),
                draw(st.sampled_from(["T", "+02:00", "-05:30"])),
            )
        return {
            "account_id": draw(st.sampled_from(ids)),
            "ticket_id": draw(st.sampled_from(["t", "T", "tïcket", "7"])),
            "opened_at": opened,
            "closed_at": closed,
            "priority": draw(st.sampled_from(["low", "normal", "high", "urgent"])),
            "csat": draw(st.sampled_from([None, 1.0, 3.5, 5.0])) if closed else None,
        }

    return ticket()


def _surveys(ids: list[str]) -> st.SearchStrategy[dict]:
    @st.composite
    def survey(draw: st.DrawFn) -> dict:
        kind = draw(st.sampled_from(["nps", "csat"]))
        low, high = (0, 10) if kind == "nps" else (1, 5)
        score = draw(
            st.one_of(st.integers(low, high).map(float), st.sampled_from([float(low) + 0.5]))
        )
        return {
            "account_id": draw(st.sampled_from(ids)),
            "responded_at": draw(stamps()),
            "kind": kind,
            "score": score,
            "user_id": draw(st.sampled_from([None, "7", "u1"])),
            "comment": draw(_TEXT),
        }

    return survey()


@st.composite
def _as_of_dates(
    draw: st.DrawFn, case: Case, count: int, focus: list[date] | None = None
) -> list[date]:
    """Snapshot dates at the edges that matter: around churns (inside and just outside the
    horizon), where a label stops being censored, at line starts and ends; plus ``focus``."""
    end = max(case.stamp_days(with_ends=False)) + timedelta(days=1)
    h, g = timedelta(days=case.horizon), timedelta(days=case.grace)
    one = timedelta(days=1)
    edges = {end - h - g - one, end - h - g, end - h - g + one, end}
    for ln in case.lines:
        edges |= {ln.start, ln.start + one}
        if ln.end is not None:
            edges |= {ln.end, ln.end + one, ln.end + g + one}
    churns = set()
    for account_id in {ln.account_id for ln in case.lines}:
        for c in account_churns(case.lines_of(account_id, end), case.grace):
            churns |= {c, c - one, c - h + one, c - h, c - h - one}
    pick = st.sampled_from(sorted(d for d in edges | churns if BASE < d <= end))
    if churns:
        pick = st.one_of(
            pick, st.sampled_from(sorted(d for d in churns if BASE < d <= end) or [end])
        )
    size = draw(st.integers(1, count))
    dates = set(draw(st.lists(pick, min_size=size, max_size=size)))
    return sorted(dates | {d for d in focus or [] if BASE < d <= end})


# --- the oracle, from the data contract's text ------------------------------------------------


def account_churns(lines: list[Line], grace: int) -> list[date]:
    """Days ``d`` on which the account churned, straight from the contract's sentence.

    "An account has churned at day ``d`` when its last covering subscription ends at ``d`` and no
    subscription of that account starts within the grace gap after ``d``": some line ends on
    ``d``, no line runs past ``d`` (started on or before ``d``, ending after it or never), and no
    line starts in ``(d, d + grace]``.
    """
    found = set()
    for line in lines:
        d = line.end
        if d is None:
            continue
        runs_past = any(o.start <= d and (o.end is None or o.end > d) for o in lines)
        restarts = any(d < o.start <= d + timedelta(days=grace) for o in lines)
        if not runs_past and not restarts:
            found.add(d)
    return sorted(found)


def expected_snapshots(
    case: Case, end: date
) -> dict[tuple[str, date], tuple[int | None, date | None]]:
    """(account, as_of) -> (churned_within_horizon, churn_date) for every expected snapshot.

    ``end`` is the data end: the day after the last day holding data. A line's ``end_date`` is
    known only from that day on, so an end after the last data day is not known yet: the line
    still runs. A snapshot exists for an account created before ``as_of`` with a line running at
    ``as_of`` as known then (started before it; no end, or an end on or after it). Its label is 1
    when the account churns in ``[as_of, as_of + horizon)``, null when ``as_of + horizon + grace``
    runs past ``end``, else 0; its churn date is the first churn on or after ``as_of``, null
    while the grace gap after it is not yet wholly inside the data.
    """
    horizon, grace = timedelta(days=case.horizon), timedelta(days=case.grace)
    expected = {}
    for acc in case.accounts:
        lines = case.lines_of(acc["account_id"], end)
        churns = account_churns(lines, case.grace)
        for as_of in case.as_of:
            created = acc["created_at"].utc < datetime.combine(as_of, time())
            running = any(ln.start < as_of and (ln.end is None or ln.end >= as_of) for ln in lines)
            if not (created and running):
                continue
            first = next((d for d in churns if d >= as_of), None)
            if as_of + horizon + grace > end:
                label = None
            else:
                label = int(first is not None and first < as_of + horizon)
            # known once the days d+1 .. d+grace all lie inside the data (the last data day is
            # the day before ``end``), as the label needs ``as_of + horizon + grace <= end``
            churn_date = first if first is not None and first + grace < end else None
            expected[(acc["account_id"], as_of)] = (label, churn_date)
    return expected


# --- regressions, run before the drawn examples -------------------------------------------------


def _regression(
    lines: list[Line], last_event: datetime, as_of: list[date], grace: int = 30
) -> Case:
    accounts = [
        {
            "account_id": "a",
            "parent_id": None,
            "name": None,
            "segment": None,
            "created_at": Stamp(datetime(2022, 1, 1)),
            "plan": None,
            "employees": None,
        }
    ]
    event = {"account_id": "a", "event_type": "login", "user_id": None, "feature": None}
    events = [{**event, "timestamp": Stamp(last_event), "value": None}]
    return Case("csv", accounts, lines, events, None, None, None, grace, 90, as_of)


#: Label regressions: two open-ended lines starting the same day (their NO_END stand-in
#: overflowed INT32 when the grace was added to it), and a churn whose grace gap ends on the
#: day after the data (its last day unseen, so the churn is not yet known).
REGRESSIONS = (
    _regression(
        [Line("a", date(2022, 1, 1), None), Line("a", date(2022, 1, 1), None, seats=None)],
        datetime(2022, 3, 1, 12),
        [date(2022, 2, 1)],
    ),
    _regression(
        [Line("a", date(2022, 1, 1), date(2022, 3, 1))],
        datetime(2022, 3, 30, 12),  # 2022-03-31 = churn + grace is past the data
        [date(2022, 2, 1), date(2022, 3, 1)],
    ),
)
