"""Settings: the TOML file, then ``VITALS_*`` variables, then arguments; and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vitals.config.settings import BandThresholds, ProfileConfig, Settings, get_settings


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vitals.toml"
    path.write_text(
        "horizon_days = 60\ngrace_days = 10\nseed = 3\n\n"
        "[training]\ntest_days = 50\n\n"
        '[[profiles]]\nname = "web"\nsegments = ["web"]\nbands = { good = 85, poor = 55 }\n'
    )
    monkeypatch.setenv("VITALS_CONFIG", str(path))
    for name in ("VITALS_HORIZON_DAYS", "VITALS_GRACE_DAYS", "VITALS_SEED"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    return path


def test_file_then_environment_then_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    from_file = Settings()
    assert (from_file.horizon_days, from_file.grace_days, from_file.seed) == (60, 10, 3)
    assert from_file.training.test_days == 50
    assert [p.name for p in from_file.profiles] == ["web"]
    assert from_file.profiles[0].bands == BandThresholds(good=85, poor=55)

    monkeypatch.setenv("VITALS_HORIZON_DAYS", "45")
    monkeypatch.setenv("VITALS_TRAINING__TEST_DAYS", "70")
    from_env = Settings()
    assert (from_env.horizon_days, from_env.grace_days) == (45, 10)
    assert from_env.training.test_days == 70

    given = Settings(horizon_days=30)
    assert (given.horizon_days, given.grace_days) == (30, 10)


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("VITALS_SEED", "11")
    assert get_settings() is first and first.seed == 3
    get_settings.cache_clear()
    assert get_settings().seed == 11


def test_a_missing_file_gives_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "absent.toml"))
    defaults = Settings()
    assert (defaults.horizon_days, defaults.grace_days) == (90, 30)
    assert [p.name for p in defaults.profiles] == ["onboarding", "enterprise", "mid_market", "smb"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BandThresholds(good=50, poor=60), "poor <= good"),
        (lambda: BandThresholds(good=120, poor=60), "less than or equal to 100"),
        (lambda: ProfileConfig(name="x", max_tenure_days=0), "greater than 0"),
        (lambda: Settings(horizon_days=0), "greater than 0"),
        (lambda: Settings(grace_days=-1), "greater than or equal to 0"),
        (
            lambda: Settings(profiles=[ProfileConfig(name="a"), ProfileConfig(name="a")]),
            r"unique, repeated: \['a'\]",
        ),
    ],
)
def test_bad_values_are_refused_with_the_reason(build, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_a_bad_value_in_the_environment_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITALS_HORIZON_DAYS", "soon")
    with pytest.raises(ValidationError, match="horizon_days"):
        Settings()
