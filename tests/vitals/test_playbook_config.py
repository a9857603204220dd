"""Playbook files: the default one fits the built-in catalog, and every bad file is refused with
a message that names the file, the rule and the line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vitals.config.playbooks import (
    DEFAULT_PLAYBOOK,
    PlaybookError,
    default_playbook_path,
    read_playbook,
)
from vitals.config.settings import Settings, get_settings
from vitals.features.pipeline import catalog_preview
from vitals.models.playbook import builtin_feature_names, configured_playbook, load_playbook

ROOT = Path(__file__).resolve().parents[2]
KNOWN = ["active_users_30d", "logins_30d", "license_utilization_30d", "nps_latest"]

GOOD_RULE = """
[[rules]]
id = "fine"
feature = "logins_30d"
direction = "lowers"
action = "Logins fell: call the admin"
"""


def _error(tmp_path: Path, text: str, profiles: list[str] | None = None) -> PlaybookError:
    path = tmp_path / "team_playbook.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        read_playbook(path, KNOWN, profiles)
    return caught.value


def test_the_default_playbook_validates_against_the_built_in_catalog() -> None:
    catalog = catalog_preview()  # what `vitals features --list` prints
    rules = read_playbook(None, [s.name for s in catalog])
    assert len(rules) >= 15
    assert {r.direction for r in rules} == {"lowers", "raises"}
    assert all(r.id and r.title and r.action.strip() for r in rules)
    builtin = set(builtin_feature_names())
    assert {f for r in rules for f in r.features} <= builtin  # no data-specific feature
    covered = {f for r in rules if r.direction == "lowers" for f in r.features}
    measures = {s.measure for s in catalog if s.name in builtin}
    uncovered = {
        m for m in measures if not any(s.measure == m and s.name in covered for s in catalog)
    }
    assert not uncovered, f"measures without a rule in the default playbook: {uncovered}"


def test_the_default_playbook_ships_as_package_data() -> None:
    assert default_playbook_path().name == DEFAULT_PLAYBOOK and default_playbook_path().is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]
    assert DEFAULT_PLAYBOOK in data["vitals.config"]


def test_a_good_file_reads_with_lists_restrictions_and_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "playbook.toml"
    path.write_text(
        "# comment\n"
        "[[rules]]\n"
        'feature = ["active_users_30d", "logins_30d"]\n'
        'direction = "lowers"\n'
        'band = ["average", "poor"]\n'
        'profile = "smb"\n'
        "priority = 2\n"
        'action = """Usage fell:\n  call them"""\n' + GOOD_RULE,
        encoding="utf-8",
    )
    first, second = read_playbook(path, KNOWN, ["smb", "default"])
    assert first.features == ("active_users_30d", "logins_30d")
    assert (first.bands, first.profiles, first.priority, first.id) == (
        ("average", "poor"), ("smb",), 2, None,
    )  # fmt: skip
    assert (first.index, first.line, second.index, second.line) == (1, 2, 2, 11)
    assert first.applies_to("smb", "poor") and not first.applies_to("smb", "good")
    assert not first.applies_to("enterprise", "poor") and not first.applies_to(None, "poor")


@pytest.mark.parametrize(
    ("rule", "line", "words"),
    [
        (
            'feature = "active_user_30d"',
            8,
            ["unknown feature 'active_user_30d'", "active_users_30d"],
        ),
        ('feature = ["logins_30d", "nope"]', 8, ["unknown feature 'nope'"]),
        ("feature = []", 8, ["feature names no feature"]),
        ("feature = 3", 8, ["feature must be a name or a list of names"]),
        ('feature = "logins_30d"\ndirection = "down"', 9, ["direction", "'down'"]),
        ('feature = "logins_30d"\nband = "bad"', 9, ["unknown band", "'bad'"]),
        ('feature = "logins_30d"\nband = ["poor", "great"]', 9, ["unknown band", "'great'"]),
        ('feature = "logins_30d"\naction = "   "', 9, ["action text is missing or empty"]),
        ('feature = "logins_30d"\npriority = "high"', 9, ["priority must be an integer"]),
        ('feature = "logins_30d"\nprofile = "web"', 9, ["unknown profile", "'web'"]),
        ('feature = "logins_30d"\ndirecton = "lowers"', 9, ["unknown key 'directon'"]),
        ('feature = "logins_30d"\nid = "has space"', 9, ["id must be"]),
    ],
)
def test_a_bad_rule_is_named_with_its_file_rule_and_line(
    tmp_path: Path, rule: str, line: int, words: list[str]
) -> None:
    body = rule
    if "direction" not in rule:
        body += '\ndirection = "lowers"'
    if "action" not in rule:
        body += '\naction = "Do something"'
    # the first rule takes lines 1-5; the bad one starts at line 7, its keys at line 8
    error = _error(tmp_path, GOOD_RULE.lstrip("\n") + "\n[[rules]]\n" + body + "\n", ["smb"])
    assert isinstance(error, ValueError)
    message = str(error)
    assert message.startswith(f"{tmp_path / 'team_playbook.toml'}, rule 2, line {line}: "), message
    for word in words:
        assert word in message
    (problem,) = error.problems
    assert (problem.rule, problem.line) == (2, line)


def test_missing_keys_are_named_at_the_rule_line(tmp_path: Path) -> None:
    error = _error(tmp_path, GOOD_RULE + '\n[[rules]]\nid = "empty"\n')
    messages = [str(p) for p in error.problems]
    assert len(messages) == 3
    assert all("rule 2 ('empty'), line 8" in m for m in messages), messages
    assert any("feature is missing" in m for m in messages)
    assert any("direction must be 'lowers' or 'raises', got missing" in m for m in messages)
    assert any("action text is missing" in m for m in messages)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        '[[rules]]\nid = "a"\nfeature = "x"\ndirection = "lowers"\naction = "A"\n\n'
        '[[rules]]\nid = "a"\nfeature = "logins_30d"\ndirection = "up"\naction = "B"\n'
    )
    error = _error(tmp_path, text)
    assert [(p.rule, p.line) for p in error.problems] == [(1, 3), (2, 10)]
    assert str(error).startswith("2 problems in playbook")
    ids = _error(tmp_path, text.replace('"x"', '"logins_30d"').replace('"up"', '"raises"'))
    assert "rule 2 ('a'), line 7: id 'a' repeats the id of rule 1" in str(ids)


def test_a_file_that_is_not_toml_or_not_a_playbook_names_the_line(tmp_path: Path) -> None:
    broken = _error(tmp_path, GOOD_RULE + "\n[[rules]\n")
    assert "team_playbook.toml" in str(broken) and broken.problems[0].line == 8
    stray = _error(tmp_path, 'title = "x"\n' + GOOD_RULE)
    assert "team_playbook.toml, line 1: unknown key 'title'" in str(stray)
    inline = _error(tmp_path, 'rules = "none"\n')
    assert "line 1: rules must be an array of tables" in str(inline)
    flag = _error(tmp_path, 'include_default = "yes"\n' + GOOD_RULE)
    assert "line 1: include_default must be true or false" in str(flag)
    with pytest.raises(PlaybookError, match=r"missing\.toml.*cannot read"):
        read_playbook(tmp_path / "missing.toml", KNOWN)


def test_inline_rules_are_named_by_the_line_of_rules(tmp_path: Path) -> None:
    text = '\nrules = [\n  {feature = "nope", direction = "lowers", action = "A"},\n]\n'
    assert "rule 1, line 2: unknown feature 'nope'" in str(_error(tmp_path, text))


def test_a_team_file_can_add_to_the_default_playbook(tmp_path: Path) -> None:
    known = [*builtin_feature_names(), "event_report_built_30d"]
    path = tmp_path / "playbook.toml"
    path.write_text(
        "include_default = true\n" + GOOD_RULE.replace('"logins_30d"', '"event_report_built_30d"'),
        encoding="utf-8",
    )
    rules = read_playbook(path, known)
    default = read_playbook(None, known)
    assert rules[: len(default)] == default and rules[-1].id == "fine"
    assert rules[-1].file == str(path) and rules[0].file == str(default_playbook_path())
    path.write_text(
        "include_default = true\n" + GOOD_RULE.replace('"fine"', f'"{default[0].id}"'),
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError, match=r"rule 1 .*line 3: id .* default playbook"):
        read_playbook(path, known)


def test_settings_name_the_playbook_and_configured_profiles_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "no-vitals.toml"))
    monkeypatch.delenv("VITALS_PLAYBOOK", raising=False)
    assert Settings().playbook is None
    assert len(configured_playbook(Settings())) == len(read_playbook(None, builtin_feature_names()))
    path = tmp_path / "playbook.toml"
    path.write_text(GOOD_RULE + 'profile = "enterprise"\n', encoding="utf-8")
    monkeypatch.setenv("VITALS_PLAYBOOK", str(path))
    get_settings.cache_clear()
    try:
        assert get_settings().playbook == str(path)
        (rule,) = configured_playbook().rules
        assert rule.profiles == ("enterprise",)
    finally:
        get_settings.cache_clear()
    path.write_text(GOOD_RULE + 'profile = "web"\n', encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"rule 1 \('fine'\), line 7: unknown profile"):
        configured_playbook(Settings(playbook=str(path)))
    custom = tmp_path / "custom.toml"
    custom.write_text(GOOD_RULE.replace('"logins_30d"', '"key_reports_30d"'), encoding="utf-8")
    with pytest.raises(PlaybookError, match="unknown feature 'key_reports_30d'"):
        load_playbook(custom)
    assert len(load_playbook(custom, features=["key_reports_30d"])) == 1
