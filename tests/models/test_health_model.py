import numpy as np
import pandas as pd
import pytest
from modeldata import FEATURES, routing, training_matrix

from vitals.models.health_model import HealthModel
from vitals.models.reasons import OTHER_COMPONENT, PROFILE_COMPONENT
from vitals.models.scoring import default_bands


def test_predict_columns_ranges_and_routing(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    frame = snapshots.set_index(pd.RangeIndex(100, 100 + len(snapshots)))
    out = fitted_model.predict(frame)
    assert list(out.columns) == [
        "account_id",
        "as_of",
        "profile",
        "pooled",
        "churn_probability",
        "health_score",
        "band",
        "risk_30d",
        "risk_90d",
        "risk_180d",
        "risk_365d",
        "renewal_risk",
    ]
    assert out.index.equals(frame.index)
    # a model without risk pieces (as saved before the survival curve) has no curve
    assert out.filter(like="risk_").isna().all().all()
    assert out["churn_probability"].between(0, 1).all()
    np.testing.assert_allclose(out["health_score"], 100 * (1 - out["churn_probability"]))
    expected = np.select(
        [frame["tenure_days"] < 90, frame["segment"] == "smb", frame["segment"] == "enterprise"],
        ["onboarding", "smb", "enterprise"],
        "default",
    )
    assert (out["profile"].to_numpy() == expected).all()
    assert (out["pooled"] == out["profile"].isin(["enterprise", "default"])).all()


def test_bands_follow_each_profiles_thresholds(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    out = fitted_model.predict(snapshots)
    for name, group in out.groupby("profile"):
        bands = fitted_model.profiles_[name].bands
        expected = np.where(
            group["health_score"] >= bands.good,
            "good",
            np.where(group["health_score"] < bands.poor, "poor", "average"),
        )
        assert (group["band"].to_numpy() == expected).all()


def test_a_profiles_rule_bands_win_over_the_base_rate_defaults(
    fitted_model: HealthModel,
) -> None:
    rules = {r.name: r.bands for r in routing()}
    for name, profile in fitted_model.profiles_.items():
        derived = default_bands(profile.piece.base_rate)
        assert profile.bands == (rules.get(name) or derived), name
    assert rules["enterprise"] != default_bands(
        fitted_model.profiles_["enterprise"].piece.base_rate
    )


def test_contributions_plus_base_value_equal_the_raw_margin(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    phi = fitted_model.contributions(snapshots)
    profiles = fitted_model.predict(snapshots)["profile"]
    for name in profiles.unique():
        rows = (profiles == name).to_numpy()
        booster = fitted_model.profiles_[name].piece.booster
        margin = booster.predict(training_matrix(snapshots[rows]), raw_score=True)
        np.testing.assert_allclose(phi[rows].sum(axis=1), margin, atol=1e-9)


def test_reasons_sum_to_score_minus_baseline(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    explained = fitted_model.explain(snapshots, top_k=len(FEATURES))
    total = explained.reasons.groupby("account_id")["health_points"].sum()
    scores = explained.scores.set_index("account_id")
    gap = scores["health_score"] - scores["baseline_score"]
    np.testing.assert_allclose(total.reindex(gap.index, fill_value=0.0), gap, atol=1e-6)
    pd.testing.assert_frame_equal(
        explained.scores.drop(columns="baseline_score"), fitted_model.predict(snapshots)
    )


def test_top_reasons_are_ordered_and_worded_from_the_catalog(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    reasons = fitted_model.explain(snapshots, top_k=3).reasons
    assert reasons.groupby("account_id")["rank"].max().max() == 3
    size = reasons["health_points"].abs().to_numpy()
    same = reasons["account_id"].to_numpy()[1:] == reasons["account_id"].to_numpy()[:-1]
    assert np.all(size[1:][same] <= size[:-1][same])
    assert ((reasons["direction"] == "raises") == (reasons["health_points"] > 0)).all()
    seats = reasons[
        (reasons["feature"] == "active_users_per_seat") & reasons["value"].notna()
    ].iloc[0]
    row = snapshots.set_index("account_id").loc[seats["account_id"]]
    assert seats["exact_value"] == row["active_users_per_seat"]
    assert seats["exact_previous_value"] == row["active_users_per_seat_prev"]
    # rounded for reading: three significant digits below 1
    assert seats["value"] == pytest.approx(row["active_users_per_seat"], rel=5e-3)
    assert len(repr(seats["value"]).lstrip("0.")) <= 3
    verb = "rose" if row["active_users_per_seat"] > row["active_users_per_seat_prev"] else "fell"
    assert seats["sentence"].startswith(
        f"{seats['measure']}: Active users per seat {verb} from "
        f"{row['active_users_per_seat_prev']:.2f} to {row['active_users_per_seat']:.2f} over the "
        "last 30 days ("
    )
    for reason in reasons.itertuples():  # a measure's points are the sum of its breakdown
        assert sum(e["health_points"] for e in reason.breakdown) == pytest.approx(
            reason.health_points, abs=1e-9
        )
        assert reason.breakdown[0]["feature"] == reason.feature
    assert seats["sentence"].endswith("health points)") or seats["sentence"].endswith(
        "health point)"
    )


def test_one_account_explains_like_the_batch(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    batch = fitted_model.explain(snapshots, top_k=5)
    one = fitted_model.explain(snapshots.iloc[[7]], top_k=5)
    expected = batch.reasons[batch.reasons["account_id"] == snapshots["account_id"].iloc[7]]
    pd.testing.assert_frame_equal(one.reasons, expected.reset_index(drop=True))


def _later(frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(99)
    later = frame.sample(frac=1.0, random_state=3)  # same accounts, another order
    later["as_of"] = pd.Timestamp("2024-09-01")
    later["tenure_days"] += 92  # every onboarding account leaves onboarding
    later["active_users_per_seat"] = rng.uniform(0, 1, len(later))
    later["tickets_90d"] = rng.poisson(3, len(later)).astype(float)
    later.loc[later.index[:10], "plan"] = "max"
    return later


def test_change_contributions_sum_to_the_score_change(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    later = _later(snapshots)
    change = fitted_model.explain_change(snapshots, later)
    summary = change.summary.set_index("account_id")
    total = change.contributions.groupby("account_id")["health_points"].sum()
    np.testing.assert_allclose(
        total.reindex(summary.index, fill_value=0.0), summary["score_change"], atol=0.01
    )
    assert (summary.index == later["account_id"].to_numpy()).all()
    now = fitted_model.predict(later).set_index("account_id")
    then = fitted_model.predict(snapshots).set_index("account_id")
    np.testing.assert_allclose(summary["score_now"], now["health_score"])
    np.testing.assert_allclose(summary["score_then"], then.loc[summary.index, "health_score"])
    moved = summary["profile_then"] != summary["profile_now"]
    assert moved.any()
    profile_rows = change.contributions[change.contributions["component"] == PROFILE_COMPONENT]
    assert set(profile_rows["account_id"]) == set(summary.index[moved])
    for _, group in change.contributions.groupby("account_id"):
        size = group["health_points"].abs().to_numpy()
        assert np.all(np.diff(size) <= 0) and (group["rank"] == np.arange(1, len(group) + 1)).all()


def test_change_with_top_k_keeps_the_sum_in_an_other_row(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    later = _later(snapshots)
    change = fitted_model.explain_change(snapshots, later, top_k=2)
    contributions = change.contributions
    features = contributions[~contributions["component"].isin([PROFILE_COMPONENT, OTHER_COMPONENT])]
    assert features.groupby("account_id").size().max() <= 2
    assert (contributions["component"] == OTHER_COMPONENT).any()
    total = contributions.groupby("account_id")["health_points"].sum()
    summary = change.summary.set_index("account_id")["score_change"]
    np.testing.assert_allclose(total.reindex(summary.index, fill_value=0.0), summary, atol=0.01)


def test_unchanged_snapshot_has_no_change(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    change = fitted_model.explain_change(snapshots, snapshots)
    assert (change.summary["score_change"] == 0).all()
    assert change.contributions.empty


def test_unseen_category_counts_as_missing(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    unseen = snapshots.head(20).assign(plan="platinum")
    missing = snapshots.head(20).assign(plan=None)
    pd.testing.assert_frame_equal(fitted_model.predict(unseen), fitted_model.predict(missing))


def test_category_dtype_input_predicts_like_strings(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    as_category = snapshots.assign(
        plan=pd.Categorical(snapshots["plan"], categories=["pro", "basic"])
    )
    expected = fitted_model.predict(
        snapshots.assign(plan=snapshots["plan"].where(snapshots["plan"] != "max"))
    )
    pd.testing.assert_frame_equal(fitted_model.predict(as_category), expected)


def test_predict_matches_the_boosters_on_pandas_input(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    out = fitted_model.predict(snapshots)
    rows = (out["profile"] == "smb").to_numpy()
    piece = fitted_model.profiles_["smb"].piece
    margin = piece.booster.predict(training_matrix(snapshots[rows]), raw_score=True)
    np.testing.assert_allclose(
        out.loc[rows, "churn_probability"], piece.calibrator.transform(margin)
    )


@pytest.mark.parametrize("top_k", [1, 5])
def test_explain_handles_empty_and_tiny_frames(
    fitted_model: HealthModel, snapshots: pd.DataFrame, top_k: int
) -> None:
    empty = fitted_model.explain(snapshots.iloc[:0], top_k=top_k)
    assert empty.scores.empty and empty.reasons.empty
    one = fitted_model.explain(snapshots.iloc[:1], top_k=top_k)
    phi = fitted_model.contributions(snapshots.iloc[:1]).iloc[0, :-1]
    measure_of = {name: fitted_model.catalog_[name].measure for name in phi.index}
    moved = int((phi.groupby(measure_of).sum() != 0).sum())  # reasons are measures
    assert moved > 0 and len(one.reasons) == min(top_k, moved)
    assert one.reasons["rank"].tolist() == list(range(1, len(one.reasons) + 1))


@pytest.fixture(scope="module")
def span_model(fitted_model: HealthModel) -> HealthModel:
    """The fitted model's pieces, with health over a year (onboarding then its next profile)."""
    pieces = [p.piece for p in fitted_model.profiles_.values()]
    model = HealthModel(
        fitted_model.feature_set, fitted_model.routing, "default", health_span_days=365
    )
    return model.fit(pieces)


def test_health_over_the_span_chains_the_profiles_an_account_passes_through(
    span_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    young = snapshots[snapshots["tenure_days"] < 60].head(20).assign(tenure_days=30)
    assert len(young)
    exponent = 365 / span_model.feature_set.horizon_days
    scores = span_model.predict(young)
    graduated = span_model.predict(young.assign(tenure_days=400))
    onboarding = span_model.profiles_["onboarding"]
    margin = onboarding.piece.booster.predict(training_matrix(young), raw_score=True)
    p = onboarding.piece.calibrator.transform(margin)
    # 60 of the 365 days in onboarding, the rest in the profile the account graduates into
    later = (graduated["health_score"].to_numpy() / 100) ** (305 / 365)
    expected = 100 * (1 - p) ** (exponent * 60 / 365) * later
    np.testing.assert_allclose(scores["health_score"], expected, rtol=1e-9)
    # no jump where onboarding ends: a day before and after differ by little
    edge = span_model.predict(young.assign(tenure_days=89.5))["health_score"].to_numpy()
    after = span_model.predict(young.assign(tenure_days=90))["health_score"].to_numpy()
    assert np.abs(edge - after).max() < 0.5


def test_span_reasons_and_change_reasons_still_add_up(
    span_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    explained = span_model.explain(snapshots, top_k=len(span_model.feature_names_))
    total = explained.reasons.groupby("account_id")["health_points"].sum()
    scores = explained.scores.set_index("account_id")
    gap = scores["health_score"] - scores["baseline_score"]
    np.testing.assert_allclose(total.reindex(gap.index, fill_value=0.0), gap, atol=1e-6)
    change = span_model.explain_change(snapshots, _later(snapshots))
    summary = change.summary.set_index("account_id")
    moved = change.contributions.groupby("account_id")["health_points"].sum()
    np.testing.assert_allclose(
        moved.reindex(summary.index, fill_value=0.0), summary["score_change"], atol=0.01
    )
