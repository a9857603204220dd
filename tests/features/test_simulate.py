"""Tests of the sample-data simulator: contract shape, invariants, determinism, I/O, behaviour."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from vitals.features import contract
from vitals.features.simulate import DEFAULT_END, simulate, write_dataset
from vitals.features.simulation import writer

SMALL = {"accounts": 300, "months": 12, "seed": 11}
BIG = {"accounts": 1500, "months": 18, "seed": 5}
GRACE = timedelta(days=30)


@pytest.fixture(scope="module")
def small() -> dict[str, pa.Table]:
    return simulate(**SMALL)


@pytest.fixture(scope="module")
def big() -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in simulate(**BIG).items()}


def _start(months: int, end: date = DEFAULT_END) -> date:
    year, month0 = divmod(end.year * 12 + end.month - 1 - months, 12)
    return date(year, month0 + 1, end.day)


def _churn_events(subs: pd.DataFrame) -> pd.DataFrame:
    """Churn per the data contract: the last covering line ends and nothing starts within grace."""
    rows = []
    for account, lines in subs.groupby("account_id"):
        for end in lines["end_date"].dropna():
            covered_after = (lines["start_date"] <= end) & (
                lines["end_date"].isna() | (lines["end_date"] > end)
            )
            restart = (lines["start_date"] > end) & (lines["start_date"] <= end + GRACE)
            if not covered_after.any() and not restart.any():
                rows.append((account, end))
    return pd.DataFrame(rows, columns=["account_id", "churn_date"])


def _arrow_type_ok(logical: str, arrow_type: pa.DataType) -> bool:
    if logical == "string":
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    if logical == "timestamp":
        return pa.types.is_timestamp(arrow_type) and arrow_type.tz in (None, "UTC")
    if logical == "date":
        return arrow_type == pa.date32()
    if logical == "float":
        return pa.types.is_floating(arrow_type)
    return pa.types.is_integer(arrow_type)


def test_tables_have_contract_columns_and_types(small: dict[str, pa.Table]) -> None:
    assert set(small) == set(contract.TABLES)
    for name, spec in contract.TABLES.items():
        table = small[name]
        assert table.num_rows > 0, name
        for column in spec.columns:
            assert column.name in table.column_names, (name, column.name)
            arrow_type = table.schema.field(column.name).type
            assert _arrow_type_ok(column.type, arrow_type), (name, column.name, arrow_type)
            if not column.nullable:
                assert table.column(column.name).null_count == 0, (name, column.name)
    for extra in ("plan", "industry", "region", "channel"):
        assert small["accounts"].column(extra).null_count == 0


def test_ids_are_unique_and_references_exist(small: dict[str, pa.Table]) -> None:
    accounts = small["accounts"].column("account_id").to_pylist()
    assert len(set(accounts)) == len(accounts) == SMALL["accounts"]
    tickets = small["tickets"].column("ticket_id").to_pylist()
    assert len(set(tickets)) == len(tickets)
    for name in ("subscriptions", "events", "tickets", "surveys", "sentiment"):
        assert set(small[name].column("account_id").to_pylist()) <= set(accounts), name


def test_hierarchy_is_acyclic_and_at_most_three_levels(big: dict[str, pd.DataFrame]) -> None:
    accounts = big["accounts"].set_index("account_id")
    parent = accounts["parent_id"].dropna()
    assert set(parent) <= set(accounts.index)
    depth = {}
    for account in accounts.index:
        chain, node = [account], accounts.at[account, "parent_id"]
        while isinstance(node, str):
            assert node not in chain, f"cycle through {node}"
            chain.append(node)
            node = accounts.at[node, "parent_id"]
        depth[account] = len(chain)
    assert max(depth.values()) == 3
    assert (accounts.loc[parent.index, "segment"] == "enterprise").all()
    created = accounts["created_at"]
    assert (created[parent.index].to_numpy() >= created[parent.to_numpy()].to_numpy()).all()
    # leaves renew or churn on their own; some parents have a small contract of their own
    subscribed = set(big["subscriptions"]["account_id"])
    leaves = set(parent.index) - set(parent)
    assert leaves <= subscribed
    assert 0 < len(set(parent) & subscribed) < len(set(parent))


def test_segments_and_arrivals(big: dict[str, pd.DataFrame]) -> None:
    accounts = big["accounts"]
    assert set(accounts["segment"].dropna()) == {"enterprise", "mid_market", "smb"}
    assert 0 < accounts["segment"].isna().sum() < 0.05 * len(accounts)
    start = pd.Timestamp(_start(BIG["months"]))
    assert 0.3 < (accounts["created_at"] < start).mean() < 0.7
    arrived = accounts.loc[accounts["created_at"] >= start, "created_at"]
    assert arrived.dt.to_period("Q").nunique() >= 5  # customers keep arriving through the period


def test_nothing_at_or_after_end_and_dates_ordered(small: dict[str, pa.Table]) -> None:
    end = pd.Timestamp(DEFAULT_END)
    start = pd.Timestamp(_start(SMALL["months"]))
    frames = {name: table.to_pandas() for name, table in small.items()}
    for name, column in (
        ("events", "timestamp"), ("tickets", "opened_at"), ("surveys", "responded_at"),
        ("sentiment", "recorded_at"),
    ):  # fmt: skip
        stamps = frames[name][column]
        assert stamps.min() >= start and stamps.max() < end, name
    assert frames["accounts"]["created_at"].max() < end
    tickets = frames["tickets"].dropna(subset=["closed_at"])
    assert (tickets["closed_at"] > tickets["opened_at"]).all() and tickets["closed_at"].max() < end
    assert frames["tickets"]["closed_at"].isna().any()
    subs = frames["subscriptions"]
    assert subs["start_date"].max() < DEFAULT_END
    ended = subs.dropna(subset=["end_date"])
    assert (ended["end_date"] >= ended["start_date"]).all() and ended[
        "end_date"
    ].max() < DEFAULT_END
    events = frames["events"]
    assert events.equals(events.sort_values(["account_id", "timestamp"], kind="stable"))


def test_value_ranges(small: dict[str, pa.Table]) -> None:
    subs = small["subscriptions"].to_pandas()
    assert (subs["mrr"] >= 0).all() and (subs["seats"] >= 1).all()
    assert subs["discount"].dropna().between(0, 1).all() and subs["discount"].isna().any()
    assert set(subs["billing_period_months"]) == {1, 12}
    surveys = small["surveys"].to_pandas()
    for kind, (low, high) in contract.SURVEY_RANGES.items():
        assert surveys.loc[surveys["kind"] == kind, "score"].between(low, high).all()
    assert set(surveys["kind"]) == set(contract.SURVEY_RANGES)
    tickets = small["tickets"].to_pandas()
    assert set(tickets["priority"]) == set(contract.PRIORITIES)
    assert tickets["csat"].dropna().between(1, 5).all()
    assert set(small["sentiment"].column("rating").to_pylist()) == set(contract.SENTIMENT_RATINGS)
    events = small["events"].to_pandas()
    assert {"login", "session", "feature_use", "report_run", "export", "invite", "api_call"} == set(
        events["event_type"]
    )
    assert events["feature"].nunique() == 15
    sessions = events.loc[events["event_type"] == "session", "value"]
    assert sessions.notna().all() and (sessions > 0).all()


def test_same_seed_same_tables_other_seed_differs(small: dict[str, pa.Table]) -> None:
    again = simulate(**SMALL)
    for name, table in small.items():
        assert table.equals(again[name]), name
    other = simulate(**{**SMALL, "seed": SMALL["seed"] + 1})
    assert not other["events"].equals(small["events"])


def test_custom_end_bounds_the_data() -> None:
    end = date(2025, 3, 15)
    tables = simulate(accounts=40, months=3, seed=1, end=end)
    stamps = tables["events"].column("timestamp").to_pandas()
    assert stamps.max() < pd.Timestamp(end) and stamps.min() >= pd.Timestamp(date(2024, 12, 15))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_and_read_back(small: dict[str, pa.Table], tmp_path: Path, fmt: str) -> None:
    paths = write_dataset(small, tmp_path / "data", fmt=fmt)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(
        f"{name}.{fmt}" for name in small
    )
    for name, table in small.items():
        if fmt == "parquet":
            back = pq.read_table(paths[name])
        else:
            types = {f.name: f.type for f in table.schema}
            options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
            back = pacsv.read_csv(paths[name], convert_options=options)
        assert back.equals(table), name
    header = paths["events"].read_text().splitlines()[:2] if fmt == "csv" else None
    if header:
        assert header[0].replace('"', "") == "account_id,timestamp,event_type,user_id,feature,value"
        assert "T" in header[1].split(",")[1]  # ISO-8601 timestamp


def test_failed_write_leaves_no_partial_file(
    small: dict[str, pa.Table], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(table: pa.Table, where: str, **kwargs: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(writer.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(small, tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []


def test_contracts_renew_and_churn_on_their_renewal_dates(big: dict[str, pd.DataFrame]) -> None:
    subs = big["subscriptions"]
    churn = _churn_events(subs)
    lines = subs.merge(
        churn, left_on=["account_id", "end_date"], right_on=["account_id", "churn_date"]
    )
    assert len(lines) == len(churn) > 50
    months = (lines["end_date"].map(lambda d: d.year * 12 + d.month)) - lines["start_date"].map(
        lambda d: d.year * 12 + d.month
    )
    assert (months % lines["billing_period_months"] == 0).all()
    running = subs[subs["end_date"].isna()]
    assert running["account_id"].is_unique  # one running line per customer
    # a seat change ends a line and starts the next one the following day
    follow = subs.sort_values(["account_id", "start_date"]).groupby("account_id").shift(-1)
    changed = subs["end_date"].notna() & follow["start_date"].notna()
    gap = follow.loc[changed, "start_date"] - subs.loc[changed, "end_date"]
    seat_change = gap == timedelta(days=1)
    assert seat_change.mean() > 0.8
    ratio = follow.loc[changed, "seats"][seat_change] / subs.loc[changed, "seats"][seat_change]
    assert (ratio > 1).any() and (ratio < 1).any()  # upsells and downsells
    assert (gap > GRACE).any()  # some churned customers come back


def test_segments_churn_in_expected_order(big: dict[str, pd.DataFrame]) -> None:
    churn = _churn_events(big["subscriptions"])
    segment = big["accounts"].set_index("account_id")["segment"]
    subs = big["subscriptions"].copy()
    last_day = DEFAULT_END - timedelta(days=1)
    first_day = _start(BIG["months"])
    start = subs["start_date"].clip(lower=first_day)
    stop = subs["end_date"].fillna(last_day)
    subs["years"] = [(b - a).days / 365 for a, b in zip(start, stop, strict=True)]
    exposure = subs[subs["years"] > 0].groupby(subs["account_id"].map(segment))["years"].sum()
    rate = churn.groupby(churn["account_id"].map(segment)).size() / exposure
    assert rate["enterprise"] < rate["mid_market"] < rate["smb"]
    assert 0.02 < rate["enterprise"] < 0.12 and 0.2 < rate["smb"] < 0.5


def _window_stats(events: pd.DataFrame, until: date, days: int) -> tuple[float, float]:
    """Events per day and distinct features of an account over ``days`` days before ``until``."""
    since = pd.Timestamp(until - timedelta(days=days))
    rows = events[(events["timestamp"] >= since) & (events["timestamp"] < pd.Timestamp(until))]
    return len(rows) / days, rows["feature"].nunique()


@pytest.fixture(scope="module")
def before_churn(big: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Usage of churners just before churn and earlier; of retained customers likewise."""
    subs = big["subscriptions"]
    churn = _churn_events(subs)
    first_day = _start(BIG["months"])
    events = dict(iter(big["events"].groupby("account_id")))
    segment = big["accounts"].set_index("account_id")["segment"]
    seats = subs.sort_values("start_date").groupby("account_id")["seats"].last()
    churners = churn[churn["churn_date"] >= first_day + timedelta(days=200)]
    at_start = (subs["start_date"] <= first_day) & ~(subs["end_date"] < first_day)
    running = set(subs.loc[subs["end_date"].isna(), "account_id"])
    retained = sorted(set(subs.loc[at_start, "account_id"]) & running - set(churn["account_id"]))
    last_day = DEFAULT_END - timedelta(days=1)
    frames = {}
    for group, pairs in (
        ("churned", zip(churners["account_id"], churners["churn_date"], strict=True)),
        ("retained", ((account, last_day) for account in retained)),
    ):
        rows = []
        for account, until in pairs:
            history = events.get(account, big["events"].iloc[:0])
            late = _window_stats(history, until, 60)
            early = _window_stats(history, until - timedelta(days=140), 60)
            rows.append((account, segment.get(account), seats[account], *late, *early))
        columns = ["account_id", "segment", "seats", "rate", "features", "early_rate"]
        frames[group] = pd.DataFrame(rows, columns=[*columns, "early_features"])
    return frames


def test_churners_show_warning_signs_in_usage(before_churn: dict[str, pd.DataFrame]) -> None:
    churned, retained = before_churn["churned"], before_churn["retained"]
    assert len(churned) > 100 and len(retained) > 300
    churned = churned[churned["early_rate"] > 0]
    retained = retained[retained["early_rate"] > 0]
    # usage per seat is below that of retained customers of the same segment
    typical = (retained["rate"] / retained["seats"]).groupby(retained["segment"]).median()
    relative = churned["rate"] / churned["seats"] / churned["segment"].map(typical)
    assert relative.median() < 0.85
    # smb churn follows usage: it falls against the account's own earlier level, unlike that of
    # retained customers, and fewer product features are used than before
    smb_churned = churned[churned["segment"] == "smb"]
    smb_retained = retained[retained["segment"] == "smb"]
    trend_churned = (smb_churned["rate"] / smb_churned["early_rate"]).median()
    trend_retained = (smb_retained["rate"] / smb_retained["early_rate"]).median()
    assert trend_churned < 0.92 * trend_retained
    narrowing_churned = (smb_churned["features"] - smb_churned["early_features"]).mean()
    narrowing_retained = (smb_retained["features"] - smb_retained["early_features"]).mean()
    assert narrowing_churned < narrowing_retained - 0.3


@pytest.fixture(scope="module")
def warning_signs(big: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per segment (rows), signs of churners before their churn against retained customers.

    Columns: ``nps_gap`` (mean NPS answer of retained customers minus that of churners in the
    180 days before the churn), ``detractor_gap`` (share of NPS answers 0-6, churners minus
    retained), ``urgent_gap`` (share of high / urgent tickets opened in the 90 days before,
    churners minus retained) and ``recent_usage`` (median events per day in the 14 days before
    the churn or the end, over those of the 60 days before that, churners over retained).
    """
    churn = _churn_events(big["subscriptions"])
    last = churn.groupby("account_id")["churn_date"].max().map(pd.Timestamp)
    segment = big["accounts"].set_index("account_id")["segment"]
    end = pd.Timestamp(DEFAULT_END)

    def before(frame: pd.DataFrame, stamp: str, days: int, skip: int = 0) -> pd.DataFrame:
        until = frame["account_id"].map(last).fillna(end) - pd.Timedelta(days=skip)
        rows = frame[(frame[stamp] < until) & (frame[stamp] >= until - pd.Timedelta(days=days))]
        return rows.assign(
            churned=rows["account_id"].isin(last.index), segment=rows["account_id"].map(segment)
        )

    def by_segment(frame: pd.DataFrame, column: str, how: str = "mean") -> pd.DataFrame:
        """``column`` aggregated per segment (rows) for churners (True) and retained (False)."""
        return frame.groupby(["segment", "churned"])[column].agg(how).unstack()

    nps = before(big["surveys"][big["surveys"]["kind"] == "nps"], "responded_at", 180)
    nps = by_segment(nps.assign(detractor=nps["score"] <= 6), ["score", "detractor"])
    tickets = before(big["tickets"], "opened_at", 90)
    urgent = by_segment(
        tickets.assign(urgent=tickets["priority"].isin(["high", "urgent"])), "urgent"
    )
    recent = before(big["events"], "timestamp", 14).groupby("account_id").size() / 14
    prior = before(big["events"], "timestamp", 60, skip=14).groupby("account_id").size() / 60
    usage = (recent.reindex(prior.index).fillna(0) / prior).rename("usage").reset_index()
    usage = usage.assign(
        churned=usage["account_id"].isin(last.index), segment=usage["account_id"].map(segment)
    )
    usage = by_segment(usage, "usage", "median")
    return pd.DataFrame(
        {
            "nps_gap": nps[("score", False)] - nps[("score", True)],
            "detractor_gap": nps[("detractor", True)] - nps[("detractor", False)],
            "urgent_gap": urgent[True] - urgent[False],
            "recent_usage": usage[True] / usage[False],
        }
    )


def test_churners_show_warning_signs_in_feedback(warning_signs: pd.DataFrame) -> None:
    # the admins of an enterprise account about to leave answer NPS lower, more as detractors
    assert warning_signs.at["enterprise", "nps_gap"] > 0.5
    assert warning_signs.at["enterprise", "detractor_gap"] > 0.1
    # a mid-market account about to leave opens more urgent tickets
    assert warning_signs.at["mid_market", "urgent_gap"] > 0.08


def test_churn_drivers_differ_by_segment(warning_signs: pd.DataFrame) -> None:
    """Each sign separates churners in the segment whose renewals weigh it, hardly elsewhere."""
    signs = warning_signs
    # NPS (the executive sponsor) decides enterprise renewals; smb churners answer as the rest
    assert signs.at["enterprise", "nps_gap"] > 0.5 and signs.at["smb", "nps_gap"] < 0.3
    assert signs.at["enterprise", "detractor_gap"] > signs.at["smb", "detractor_gap"] + 0.1
    # support pain decides mid-market renewals; smb churners open hardly more urgent tickets
    assert signs.at["mid_market", "urgent_gap"] > 0.08
    assert signs.at["mid_market", "urgent_gap"] > signs.at["smb", "urgent_gap"] + 0.08
    # smb customers drift away in the last weeks; enterprise churners use it much as before
    assert signs.at["smb", "recent_usage"] < 0.7
    assert signs.at["enterprise", "recent_usage"] > signs.at["smb", "recent_usage"] + 0.3


def _seats_on(lines: pd.DataFrame, day: date) -> float:
    """Seats of the line covering ``day`` (NaN if none)."""
    covering = lines[(lines["start_date"] <= day) & ~(lines["end_date"] < day)]
    return covering["seats"].iloc[-1] if len(covering) else np.nan


def test_churners_cut_seats_before_they_leave(big: dict[str, pd.DataFrame]) -> None:
    subs = big["subscriptions"].sort_values(["account_id", "start_date"])
    lines = dict(iter(subs.groupby("account_id")))
    churn = _churn_events(subs)
    last = churn.groupby("account_id")["churn_date"].max()
    running = set(subs.loc[subs["end_date"].isna(), "account_id"]) - set(last.index)
    until = pd.concat([last, pd.Series(DEFAULT_END, index=sorted(running))])
    rows = [
        (account in last.index, _seats_on(lines[account], day - timedelta(days=250)),
         _seats_on(lines[account], day - timedelta(days=1)))
        for account, day in until.items()
    ]  # fmt: skip
    seats = pd.DataFrame(rows, columns=["churned", "before", "after"]).dropna()
    net_cut = np.sign(seats["before"] - seats["after"]).groupby(seats["churned"]).mean()
    # churners shrink on balance in the months before they leave, unlike retained customers
    assert seats["churned"].sum() > 50
    assert net_cut[True] > 0.05
    assert net_cut[True] > net_cut[False] + 0.08


def test_usage_follows_seats_and_the_week(big: dict[str, pd.DataFrame]) -> None:
    events = big["events"]
    per_day = events.groupby(events["timestamp"].dt.date).size()
    weekday = pd.to_datetime(pd.Series(per_day.index)).dt.day_of_week.to_numpy()
    assert per_day[weekday >= 5].mean() < 0.5 * per_day[weekday < 5].mean()
    users = events.groupby("account_id")["user_id"].nunique()
    seats = big["subscriptions"].groupby("account_id")["seats"].max()
    both = pd.concat([users, seats], axis=1, join="inner")
    assert np.log1p(both).corr().iloc[0, 1] > 0.7
    assert (both["user_id"] <= both["seats"]).all()  # users come from the licensed seats
