import numpy as np
import pandas as pd
import pytest
from modeldata import make_catalog, make_feature_set, routing
from sklearn.exceptions import NotFittedError

from vitals.models.frames import InputError
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel


def test_missing_feature_column_is_named(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    with pytest.raises(InputError, match=r"missing column\(s\) \['tickets_90d'\]"):
        fitted_model.predict(snapshots.drop(columns="tickets_90d"))


def test_text_in_a_numeric_feature_names_account_and_column(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    frame = snapshots.astype({"logins_30d": object})
    frame.loc[3, "logins_30d"] = "many"
    with pytest.raises(InputError, match=r"'logins_30d' must be numeric.*'acc-00003' has 'many'"):
        fitted_model.predict(frame)
    as_strings = snapshots.assign(nps=snapshots["nps"].astype("str"))
    with pytest.raises(InputError, match=r"'nps' must be numeric"):
        fitted_model.predict(as_strings)


def test_numbers_in_object_columns_are_accepted(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    frame = snapshots.astype({"logins_30d": object})
    pd.testing.assert_frame_equal(fitted_model.predict(frame), fitted_model.predict(snapshots))


def test_number_in_a_categorical_feature_names_account(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    frame = snapshots.astype({"plan": object})
    frame.loc[5, "plan"] = 3
    with pytest.raises(InputError, match=r"'plan' must hold strings.*'acc-00005' has 3"):
        fitted_model.predict(frame)


def test_missing_tenure_names_the_account(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    frame = snapshots.copy()
    frame.loc[8, "tenure_days"] = np.nan
    with pytest.raises(InputError, match=r"account 'acc-00008': column 'tenure_days' is missing"):
        fitted_model.predict(frame)


def test_repeated_feature_column_is_named(
    fitted_model: HealthModel, snapshots: pd.DataFrame
) -> None:
    frame = pd.concat([snapshots, snapshots[["nps"]]], axis=1)
    with pytest.raises(InputError, match=r"\['nps'\] more than once"):
        fitted_model.predict(frame)


def test_missing_account_id(fitted_model: HealthModel, snapshots: pd.DataFrame) -> None:
    frame = snapshots.copy()
    frame.loc[2, "account_id"] = None
    with pytest.raises(InputError, match="'account_id' is empty in row 2"):
        fitted_model.predict(frame)


def test_change_needs_the_same_accounts(fitted_model: HealthModel, snapshots: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="'acc-00000' is missing from frame_then"):
        fitted_model.explain_change(snapshots.iloc[1:], snapshots)
    with pytest.raises(InputError, match="'acc-00000' is missing from frame_now"):
        fitted_model.explain_change(snapshots, snapshots.iloc[1:])
    with pytest.raises(InputError, match="'acc-00001' repeats in frame_now"):
        fitted_model.explain_change(snapshots, pd.concat([snapshots, snapshots.iloc[[1]]]))


def test_profiles_must_match_the_routing(fitted_model: HealthModel) -> None:
    pieces = [p.piece for p in fitted_model.profiles_.values()]
    with pytest.raises(ValueError, match=r"profile\(s\) \['default'\] have no fitted model"):
        HealthModel(make_feature_set(), routing()).fit([p for p in pieces if p.name != "default"])
    stray = ProfileModel("web", pieces[0].booster, pieces[0].calibrator, 0.1)
    with pytest.raises(ValueError, match=r"unknown profile\(s\) \['web'\]"):
        HealthModel(make_feature_set(), routing()).fit([*pieces, stray])


def test_catalog_must_cover_the_features(fitted_model: HealthModel) -> None:
    pieces = [p.piece for p in fitted_model.profiles_.values()]
    catalog = [s for s in make_catalog() if s.name != "nps"]
    with pytest.raises(ValueError, match=r"\['nps'\] have no catalog entry"):
        HealthModel(make_feature_set(catalog), routing()).fit(pieces)


def test_unfitted_model_refuses_to_predict(snapshots: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        HealthModel(make_feature_set(), routing()).predict(snapshots)
