"""Scorecard files: rule scorecards per health profile, in TOML (the ``scorecard`` setting).

A scorecard is what customer-success teams score health with by hand: measures, each a catalog
feature turned into 0-100 points and weighted. One file holds one card per health profile, and
a ``default`` card for every profile without its own (when the routing's default profile is
also named ``default``, that card serves it too)::

    name = "rules"                          # optional; default: the file's stem

    [[scorecards.default.measures]]
    name = "Active days"                    # optional; default: the feature name
    feature = "active_days_30d"             # a numeric feature of the catalog
    weight = 10                             # > 0
    linear = {from = 1, to = 28}            # 1 -> 0 points, 28 -> 100, clipped; from > to allowed
    missing = 50                            # points of a missing value (default 50)

    [[scorecards.smb.measures]]
    feature = "tickets_opened_30d"
    weight = 5
    ranges = [{to = 1, points = 100}, {from = 1, to = 4, points = 50}, {from = 4, points = 0}]

Ranges are ``[from, to)``, ordered and not overlapping; an open end is left out. A value in no
range (a gap between ranges) scores like a missing one. Points lie in 0-100.

``vitals.toml`` names the file with ``scorecard = "path.toml"`` (relative to the working
directory); without it, the built-in :func:`default_scorecard_path` applies. Every error is a
:class:`ScorecardError` naming the file, the line and the measure. This module only reads and
checks the definitions; :mod:`vitals.models.scorecard` scores them.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import tomllib
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import Any

from vitals.config.scorecard_defs import (
    DEFAULT_CARD,
    NEUTRAL_POINTS,
    Linear,
    Measure,
    PointRange,
    Scorecard,
    ScorecardError,
    ScorecardSet,
    measure_problems,
)

__all__ = [
    "DEFAULT_CARD",
    "NEUTRAL_POINTS",
    "Linear",
    "Measure",
    "PointRange",
    "Scorecard",
    "ScorecardError",
    "ScorecardSet",
    "configured_scorecards",
    "default_scorecard_path",
    "load_scorecards",
    "parse_scorecards",
]

logger = logging.getLogger(__name__)

_FILE_KEYS = {"name", "description", "scorecards"}
_CARD_KEYS = {"description", "measures"}
_MEASURE_KEYS = {"name", "feature", "weight", "linear", "ranges", "missing", "description"}
_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*(?:\.|$)')


def default_scorecard_path() -> Path:
    """The built-in default scorecard (the training report's rules baseline as a file)."""
    return Path(str(resources.files("vitals.config").joinpath("default_scorecard.toml")))


def load_scorecards(
    path: str | Path | None = None,
    *,
    features: Collection[str] | None = None,
    categorical: Collection[str] = (),
    profiles: Collection[str] | None = None,
) -> ScorecardSet:
    """Read and check a scorecard file.

    Args:
        path: the file; ``None`` reads the built-in default, whose measures on features absent
            from ``features`` are left out (the rest keep their weights) instead of failing.
        features: the feature names the data or the model know (``None``: not checked).
        categorical: those of them that are categorical (a measure needs a numeric feature).
        profiles: the health profiles the model routes to (``None``: not checked); ``default``
            is always allowed.

    Returns:
        The :class:`ScorecardSet`.

    Raises:
        ScorecardError: naming the file, the line and the measure.
    """
    builtin = path is None
    file = default_scorecard_path() if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScorecardError(f"cannot read the file: {error}", file=str(file)) from None
    return parse_scorecards(
        text,
        str(file),
        features=features,
        categorical=categorical,
        profiles=profiles,
        drop_unknown=builtin,
        default_name=file.stem,
    )


def configured_scorecards(
    scorecard: str | None,
    *,
    features: Collection[str] | None = None,
    categorical: Collection[str] = (),
    profiles: Collection[str] | None = None,
) -> ScorecardSet:
    """The scorecard the settings name (``settings.scorecard``), or the built-in default.

    Raises:
        ScorecardError: a missing or bad file.
    """
    if scorecard is not None and not Path(scorecard).is_file():
        raise ScorecardError(
            "no such file (the `scorecard` setting of vitals.toml)", file=scorecard
        )
    return load_scorecards(scorecard, features=features, categorical=categorical, profiles=profiles)


def parse_scorecards(
    text: str,
    source: str,
    *,
    features: Collection[str] | None = None,
    categorical: Collection[str] = (),
    profiles: Collection[str] | None = None,
    drop_unknown: bool = False,
    default_name: str = "scorecard",
) -> ScorecardSet:
    """Check the text of a scorecard file (see :func:`load_scorecards`; ``source`` names it).

    Raises:
        ScorecardError: naming the file, the line and the measure.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"line (\d+)", str(error))
        raise ScorecardError(
            f"not valid TOML: {error}", file=source, line=int(found[1]) if found else None
        ) from None
    lines = _Lines(text)
    tables = data.get("scorecards")

    def fail(problem: str, line: int | None = None, card: str | None = None) -> ScorecardError:
        measure = _first_measure(tables, card) if card is not None else None
        return ScorecardError(problem, file=source, line=line or 1, card=card, measure=measure)

    if unknown := sorted(set(data) - _FILE_KEYS):
        raise fail(
            f"unknown key {unknown[0]!r} (allowed: {sorted(_FILE_KEYS)})", lines.top_key(unknown[0])
        )
    if not isinstance(tables, dict) or not tables:
        raise fail("no scorecard: add a [[scorecards.default.measures]] table")
    dropped: list[str] = []
    cards: dict[str, Scorecard] = {}
    for profile, table in tables.items():
        where = lines.card(profile)
        if profiles is not None and profile != DEFAULT_CARD and profile not in profiles:
            raise fail(
                f"unknown health profile {profile!r}: the model's profiles are "
                f"{sorted(profiles)} (or {DEFAULT_CARD!r} for every profile without a card)",
                where,
                profile,
            )
        if not isinstance(table, dict) or (extra := sorted(set(table) - _CARD_KEYS)):
            bad = "not a table" if not isinstance(table, dict) else f"unknown key {extra[0]!r}"
            raise fail(f"{bad}: a card holds [[scorecards.{profile}.measures]]", where, profile)
        entries = table.get("measures")
        if not isinstance(entries, list) or not entries:
            raise fail("has no measures", where, profile)
        measures, indices = [], []
        for index, entry in enumerate(entries):
            measure = _measure(entry, profile, index, source, lines)
            problem = _known_feature(measure.feature, features, categorical)
            if problem and drop_unknown and features is not None:
                dropped.append(measure.name)
                continue
            if problem:
                line = lines.key(profile, index, "feature")
                raise ScorecardError(
                    problem, file=source, line=line, card=profile, measure=measure.name
                )
            measures.append(measure)
            indices.append(index)
        names = [m.name for m in measures]
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            index = indices[len(names) - 1 - names[::-1].index(repeated[0])]
            raise ScorecardError(
                "two measures of one card share this name: give each its own `name`",
                file=source,
                line=lines.key(profile, index, "name"),
                card=profile,
                measure=repeated[0],
            )
        if not measures:
            raise fail("every measure's feature is missing from the data", where, profile)
        cards[profile] = Scorecard(profile, tuple(measures))
    if dropped:
        logger.info("scorecard measures left out, their features are not in the data: %s", dropped)
    name, description = data.get("name", default_name), data.get("description", "")
    if not isinstance(name, str) or not name or not isinstance(description, str):
        raise fail("`name` and `description` must be text", lines.top_key("name"))
    return ScorecardSet(name, cards, source, description, tuple(dropped))


def _measure(entry: Any, profile: str, index: int, source: str, lines: _Lines) -> Measure:
    """One measure table, its keys and values checked (its feature is checked by the caller)."""
    header = lines.measure(profile, index)
    label = entry.get("name") or entry.get("feature") if isinstance(entry, dict) else None
    label = label if isinstance(label, str) else f"#{index + 1}"

    def fail(problem: str, key: str | None = None, item: int | None = None) -> ScorecardError:
        line = header if key is None else lines.key(profile, index, key, item)
        return ScorecardError(problem, file=source, line=line, card=profile, measure=label)

    if not isinstance(entry, dict):
        raise fail("a measure must be a table with feature, weight and linear or ranges")
    if extra := sorted(set(entry) - _MEASURE_KEYS):
        raise fail(f"unknown key {extra[0]!r} (allowed: {sorted(_MEASURE_KEYS)})", extra[0])
    feature = entry.get("feature")
    if not isinstance(feature, str) or not feature:
        raise fail('needs `feature = "<catalog feature>"`', "feature")
    name = entry.get("name", feature)
    if not isinstance(name, str) or not name.strip():
        raise fail("`name` must be non-empty text", "name")
    if "weight" not in entry:
        raise fail("needs a `weight` (a positive number)")
    weight = _num(entry["weight"], "weight", fail)
    linear = None
    if "linear" in entry:
        spec = entry["linear"]
        if not isinstance(spec, dict) or set(spec) != {"from", "to"}:
            raise fail("`linear` must be {from = <0 points>, to = <100 points>}", "linear")
        linear = Linear(_num(spec["from"], "linear", fail), _num(spec["to"], "linear", fail))
    ranges: list[PointRange] = []
    raw_ranges = entry.get("ranges", [])
    if not isinstance(raw_ranges, list):
        raise fail("`ranges` must be a list of {from, to, points}", "ranges")
    for k, item in enumerate(raw_ranges):
        if (
            not isinstance(item, dict)
            or "points" not in item
            or set(item) - {"from", "to", "points"}
        ):
            raise fail(f"range {k + 1} must be {{from = ..., to = ..., points = ...}}", "ranges", k)
        lo = None if "from" not in item else _num(item["from"], "ranges", fail, k)
        hi = None if "to" not in item else _num(item["to"], "ranges", fail, k)
        ranges.append(PointRange(lo, hi, _num(item["points"], "ranges", fail, k)))
    missing = _num(entry.get("missing", NEUTRAL_POINTS), "missing", fail)
    measure = Measure(name.strip(), feature, weight, tuple(ranges), linear, missing)
    for key, item, problem in measure_problems(measure):
        raise fail(problem, key, item)
    return measure


def _first_measure(tables: Any, card: str) -> str | None:
    """The name of a card's first measure (errors about a whole card point at it)."""
    table = tables.get(card) if isinstance(tables, dict) else None
    entries = table.get("measures") if isinstance(table, dict) else None
    first = entries[0] if isinstance(entries, list) and entries else None
    if not isinstance(first, dict):
        return None
    name = first.get("name") or first.get("feature")
    return name if isinstance(name, str) else None


def _known_feature(
    feature: str, features: Collection[str] | None, categorical: Collection[str]
) -> str | None:
    if feature in categorical:
        return f"feature {feature!r} is categorical: a measure needs a numeric feature"
    if features is None or feature in features:
        return None
    close = difflib.get_close_matches(feature, list(features), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (see `vitals features --list`)"
    return f"unknown feature {feature!r}{hint}"


def _num(value: Any, key: str, fail: Any, item: int | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"`{key}` needs finite numbers, got {value!r}", key, item)
    return float(value)


class _Lines:
    """Where tables and keys sit in the text (tomllib keeps no line numbers)."""

    def __init__(self, text: str) -> None:
        self.text = text.splitlines()
        self.headers: list[tuple[int, tuple[str, ...], bool]] = []  # line, key parts, is array
        for number, line in enumerate(self.text, start=1):
            if (found := _HEADER.match(line)) and (parts := _split_key(found[1])):
                self.headers.append((number, parts, line.lstrip().startswith("[[")))

    def card(self, profile: str) -> int | None:
        """First line of a profile's card (its table or first measure header)."""
        return next(
            (n for n, parts, _ in self.headers if parts[:2] == ("scorecards", profile)), None
        )

    def measure(self, profile: str, index: int) -> int | None:
        """Header line of the profile's ``index``-th ``[[...measures]]`` table."""
        found = [
            n
            for n, parts, array in self.headers
            if array and parts == ("scorecards", profile, "measures")
        ]
        return found[index] if index < len(found) else self.card(profile)

    def key(self, profile: str, index: int, key: str, item: int | None = None) -> int | None:
        """Line of ``key`` in a measure (of its ``item``-th ``{`` for a list), else its header."""
        start = self.measure(profile, index)
        if start is None:
            return None
        end = next((n for n, _, _ in self.headers if n > start), len(self.text) + 1)
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
        for number in range(start + 1, end):
            if pattern.match(self.text[number - 1]):
                return number if item is None else self._brace(number, end, item)
        return start

    def top_key(self, key: str) -> int | None:
        first = self.headers[0][0] if self.headers else len(self.text) + 1
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        found = (n for n in range(1, first) if pattern.match(self.text[n - 1]))
        tables = (n for n, parts, _ in self.headers if parts[0] == key)
        return next(found, None) or next(tables, None)

    def _brace(self, line: int, end: int, item: int) -> int:
        seen = -1
        for number in range(line, end):
            seen += self.text[number - 1].split("#")[0].count("{")
            if seen >= item:
                return number
        return line


def _split_key(text: str) -> tuple[str, ...]:
    parts, position = [], 0
    while position < len(text):
        found = _KEY_PART.match(text, position)
        if not found or found.end() == position:
            return ()
        parts.append(next(g for g in found.groups() if g is not None))
        position = found.end()
    return tuple(parts)
