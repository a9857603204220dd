"""Playbook files: suggested next steps for the reasons behind a health score.

A playbook is a TOML file of rules. A rule names catalog features and a direction (``lowers``:
the feature costs health, ``raises``: it adds health), optionally the health profiles and bands it
is restricted to, and the action a CS team should take::

    include_default = true          # optional: the built-in rules first, then these

    [[rules]]
    id = "reports-fell"             # optional, unique: letters, digits and _ . : -
    title = "Reports fell"          # optional, a few words
    feature = "event_report_built_change_30d"   # or a list of features
    direction = "lowers"
    profile = "enterprise"          # optional, a profile or a list of profiles
    band = ["average", "poor"]      # optional, good / average / poor, or a list
    priority = 1                    # optional integer, higher first (default 0)
    action = "Reports fell: show the team the report templates that fit their workflow"

``vitals.toml`` names the file (``playbook = "playbook.toml"``, relative to the working
directory); without one, the built-in ``default_playbook.toml`` of this package is used. This layer
knows no feature catalog: whoever reads a playbook passes the feature names it may use. Every
problem of a file is reported at once, each naming the file, the rule and the line.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Direction = Literal["lowers", "raises"]
DIRECTIONS: tuple[str, ...] = ("lowers", "raises")
BANDS: tuple[str, ...] = ("good", "average", "poor")
DEFAULT_PLAYBOOK = "default_playbook.toml"
MAX_ACTION_CHARS = 1000
MAX_TITLE_CHARS = 100
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_RULE_KEYS = ("id", "title", "feature", "direction", "profile", "band", "priority", "action")
_TOP_KEYS = ("include_default", "rules")
_Complain = Callable[[str | None, str], None]  # (key or None for the rule, message)


@dataclass(frozen=True)
class PlaybookProblem:
    """One problem of a playbook file.

    Attributes:
        file: the file, as given.
        message: what is wrong.
        rule: the rule's position in the file (1 = first), ``None`` for the whole file.
        rule_id: the rule's ``id``, when it has one.
        line: the line of the offending key (or of the rule), ``None`` when unknown.
    """

    file: str
    message: str
    rule: int | None = None
    rule_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.rule is not None:
            where.append(f"rule {self.rule}" + (f" ({self.rule_id!r})" if self.rule_id else ""))
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}"


class PlaybookError(ValueError):
    """A playbook file that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[PlaybookProblem]) -> None:
        self.problems = problems
        if len(problems) == 1:
            text = str(problems[0])
        else:
            text = f"{len(problems)} problems in playbook {problems[0].file}:\n" + "\n".join(
                f"  {p}" for p in problems
            )
        super().__init__(text)


@dataclass(frozen=True)
class PlaybookRule:
    """A validated rule: when one of ``features`` moves health in ``direction``, suggest
    ``action`` (see the module docstring for the file format).

    Attributes:
        features: the catalog features it reacts to.
        direction: ``lowers`` (the feature costs health) or ``raises``.
        action: what to do, in a sentence.
        id: a short unique name, or ``None``.
        title: a few words, or ``None``.
        priority: higher first among the actions of one reason.
        profiles: the health profiles it applies to (empty: all).
        bands: the bands it applies to (empty: all).
        file: the file it was read from.
        index: its position in that file (1 = first).
        line: the line it starts at, ``None`` when unknown.
    """

    features: tuple[str, ...]
    direction: Direction
    action: str
    id: str | None = None
    title: str | None = None
    priority: int = 0
    profiles: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()
    file: str = ""
    index: int = 0
    line: int | None = None

    def applies_to(self, profile: str | None, band: str | None) -> bool:
        """Whether the rule's profile and band restrictions admit an account."""
        return (not self.profiles or profile in self.profiles) and (
            not self.bands or band in self.bands
        )


def default_playbook_path() -> Path:
    """The built-in playbook shipped with this package."""
    return Path(str(resources.files("vitals.config").joinpath(DEFAULT_PLAYBOOK)))


def read_playbook(
    path: str | Path | None,
    known_features: Collection[str],
    known_profiles: Collection[str] | None = None,
) -> tuple[PlaybookRule, ...]:
    """Read and validate a playbook file.

    Args:
        path: the TOML file; ``None`` for the built-in default playbook.
        known_features: the feature names a rule may name.
        known_profiles: the health profile names a rule may be restricted to; ``None`` accepts
            any name.

    Returns:
        The rules in file order (the default playbook's first when the file sets
        ``include_default = true``).

    Raises:
        PlaybookError: the file cannot be read or parsed, or has invalid rules; the message names
            the file, the rule and the line of every problem.
    """
    file = default_playbook_path() if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(
            [PlaybookProblem(str(file), f"cannot read the playbook: {exc}")]
        ) from None
    rules, include_default = parse_playbook(text, str(file), known_features, known_profiles)
    if not include_default or path is None:
        return rules
    base = read_playbook(None, known_features, known_profiles)
    taken = {r.id for r in base if r.id}
    clashes = [
        PlaybookProblem(str(file), f"id {r.id!r} is already used by the default playbook",
                        r.index, r.id, r.line)
        for r in rules if r.id in taken
    ]  # fmt: skip
    if clashes:
        raise PlaybookError(clashes)
    return base + rules


def parse_playbook(
    text: str,
    file: str,
    known_features: Collection[str],
    known_profiles: Collection[str] | None = None,
) -> tuple[tuple[PlaybookRule, ...], bool]:
    """Validate the text of a playbook file (see :func:`read_playbook`).

    Returns:
        The rules, and whether the file asks for the default playbook's rules first.

    Raises:
        PlaybookError: every problem found, each naming ``file``, the rule and the line.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # the message ends "(at line L, column C)"
        line = re.search(r"line (\d+)", str(exc))
        problem = PlaybookProblem(file, f"not valid TOML: {exc}", line=line and int(line[1]))
        raise PlaybookError([problem]) from None
    lines = _Lines(text)
    problems: list[PlaybookProblem] = []
    for key in data:
        if key not in _TOP_KEYS:
            message = f"unknown key {key!r} (expected {', '.join(_TOP_KEYS)})"
            problems.append(PlaybookProblem(file, message, line=lines.top.get(key)))
    include_default = data.get("include_default", False)
    if not isinstance(include_default, bool):
        message = f"include_default must be true or false, got {include_default!r}"
        problems.append(PlaybookProblem(file, message, line=lines.top.get("include_default")))
    raw = data.get("rules", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        message = "rules must be an array of tables: [[rules]] sections"
        raise PlaybookError(
            [*problems, PlaybookProblem(file, message, line=lines.top.get("rules"))]
        )
    context = _Context(file, frozenset(known_features), known_profiles, lines)
    rules = []
    for index, entry in enumerate(raw, start=1):
        rule = context.rule(index, entry, problems)
        if rule is not None:
            rules.append(rule)
    seen: dict[str, int] = {}
    for rule in rules:
        if rule.id is None:
            continue
        if rule.id in seen:
            message = f"id {rule.id!r} repeats the id of rule {seen[rule.id]}"
            problems.append(PlaybookProblem(file, message, rule.index, rule.id, rule.line))
        seen.setdefault(rule.id, rule.index)
    if problems:
        raise PlaybookError(sorted(problems, key=lambda p: (p.rule or 0, p.line or 0)))
    return tuple(rules), bool(include_default)


@dataclass(frozen=True)
class _Context:
    """What validating one rule needs: the file, the known names, the lines of the keys."""

    file: str
    features: frozenset[str]
    profiles: Collection[str] | None
    lines: _Lines

    def rule(
        self, index: int, entry: Mapping[str, Any], problems: list[PlaybookProblem]
    ) -> PlaybookRule | None:
        """The validated rule at ``index``, or ``None`` after adding its problems."""
        given = entry.get("id")
        rule_id = given if isinstance(given, str) and _ID.match(given) else None
        start = self.lines.rule_line(index)
        found: list[PlaybookProblem] = []

        def bad(key: str | None, message: str) -> None:
            line = self.lines.key_line(index, key) if key else start
            found.append(PlaybookProblem(self.file, message, index, rule_id, line))

        for key in entry:
            if key not in _RULE_KEYS:
                bad(key, f"unknown key {key!r} (expected {', '.join(_RULE_KEYS)})")
        if "id" in entry and rule_id is None:
            bad("id", f"id must be 1-100 letters, digits or _ . : -, got {entry['id']!r}")
        features = self._features(entry, bad)
        direction = entry.get("direction")
        if direction not in DIRECTIONS:
            shown = "missing" if direction is None else repr(direction)
            bad("direction" if "direction" in entry else None,
                f"direction must be 'lowers' or 'raises', got {shown}")  # fmt: skip
        action = entry.get("action")
        if not isinstance(action, str) or not action.strip():
            bad("action" if "action" in entry else None, "action text is missing or empty")
        elif len(action) > MAX_ACTION_CHARS:
            bad("action", f"action text is longer than {MAX_ACTION_CHARS} characters")
        title = entry.get("title")
        if title is not None and (
            not isinstance(title, str) or not 0 < len(title.strip()) <= MAX_TITLE_CHARS
        ):
            bad("title", f"title must be 1-{MAX_TITLE_CHARS} characters of text")
        priority = entry.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            bad("priority", f"priority must be an integer, got {priority!r}")
        bands = _names(entry, "band", bad)
        if unknown := [b for b in bands if b not in BANDS]:
            bad("band", f"unknown band(s) {unknown} (expected good, average or poor)")
        profiles = _names(entry, "profile", bad)
        if self.profiles is not None and (
            unknown := [p for p in profiles if p not in self.profiles]
        ):
            bad("profile", f"unknown profile(s) {unknown} (known: {', '.join(self.profiles)})")
        if found:
            problems.extend(found)
            return None
        return PlaybookRule(
            features, direction, action.strip(), rule_id, title and title.strip(), priority,
            profiles, bands, self.file, index, start,
        )  # fmt: skip

    def _features(self, entry: Mapping[str, Any], bad: _Complain) -> tuple[str, ...]:
        if "feature" not in entry:
            bad(None, "feature is missing: name a catalog feature (or a list of them)")
            return ()
        features = _names(entry, "feature", bad)
        if entry["feature"] == []:
            bad("feature", "feature names no feature")
        for name in features:
            if name not in self.features:
                close = difflib.get_close_matches(name, self.features, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                bad("feature", f"unknown feature {name!r}{hint}")
        return features


def _names(entry: Mapping[str, Any], key: str, bad: _Complain) -> tuple[str, ...]:
    """A key that holds one name or a list of names, as a tuple without repeats."""
    value = entry.get(key)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        bad(key, f"{key} must be a name or a list of names, got {value!r}")
        return ()
    return tuple(dict.fromkeys(values))


class _Lines:
    """Where things are in a playbook's text: the line of each ``[[rules]]`` header and of each
    key below it, and of the top-level keys (1-based line numbers).

    A light scan, not a parser: it only runs on text that ``tomllib`` accepted. Rules written as
    inline tables (``rules = [{...}]``) get the line of ``rules`` instead.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]*?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.top: dict[str, int] = {}
        self.rules: list[int] = []
        self.keys: list[dict[str, int]] = []
        section: str | None = None  # None: top level; "rule": inside [[rules]]; "other"
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = self._HEADER.match(line)
            if header:
                is_rule = header[1] == "[[" and header[2] == "rules"
                section = "rule" if is_rule else "other"
                if is_rule:
                    self.rules.append(number)
                    self.keys.append({})
                continue
            key = self._KEY.match(line)
            if key:
                name = key[1].strip("\"'")
                if section is None:
                    self.top.setdefault(name, number)
                elif section == "rule":
                    self.keys[-1].setdefault(name, number)
            for quotes in ('"""', "'''"):
                if line.count(quotes) % 2 == 1:
                    in_string = quotes
                    break

    def rule_line(self, index: int) -> int | None:
        """The line of the ``index``-th ``[[rules]]`` header (1 = first)."""
        if 0 < index <= len(self.rules):
            return self.rules[index - 1]
        return self.top.get("rules")

    def key_line(self, index: int, key: str) -> int | None:
        """The line of ``key`` in the ``index``-th rule (its header's line if not found)."""
        if 0 < index <= len(self.keys) and key in self.keys[index - 1]:
            return self.keys[index - 1][key]
        return self.rule_line(index)
