"""Scorecard definitions: cards of measures per health profile, checked, and written as TOML.

Read from files by :mod:`vitals.config.scorecards` (the file format is described there) and
scored by :mod:`vitals.models.scorecard`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

DEFAULT_CARD = "default"
NEUTRAL_POINTS = 50.0


class ScorecardError(ValueError):
    """A scorecard file or definition that cannot be used.

    Attributes:
        file: the file (``None`` for a definition built in code).
        line: 1-based line of the problem, when known.
        card: the scorecard (profile name), when known.
        measure: the measure's name, when known.
        problem: what is wrong.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        card: str | None = None,
        measure: str | None = None,
    ) -> None:
        self.file, self.line, self.card, self.measure = file, line, card, measure
        self.problem = problem
        where = [file or "scorecard"]
        if line is not None:
            where.append(f"line {line}")
        if card is not None:
            where.append(f"scorecard {card!r}")
        if measure is not None:
            where.append(f"measure {measure!r}")
        super().__init__(f"{', '.join(where)}: {problem}")


@dataclass(frozen=True)
class PointRange:
    """Values in ``[lo, hi)`` get ``points`` (``None``: open end)."""

    lo: float | None
    hi: float | None
    points: float


@dataclass(frozen=True)
class Linear:
    """Linear points: ``start`` gives 0, ``end`` gives 100, clipped (``start > end``: less is
    healthier)."""

    start: float
    end: float


@dataclass(frozen=True)
class Measure:
    """One measure: a feature turned into 0-100 points (ranges or linear), and its weight."""

    name: str
    feature: str
    weight: float
    ranges: tuple[PointRange, ...] = ()
    linear: Linear | None = None
    missing: float = NEUTRAL_POINTS


@dataclass(frozen=True)
class Scorecard:
    """The measures of one health profile's card (``profile`` may be ``default``)."""

    profile: str
    measures: tuple[Measure, ...]

    @property
    def total_weight(self) -> float:
        """Sum of the measures' weights."""
        return float(sum(m.weight for m in self.measures))


@dataclass(frozen=True)
class ScorecardSet:
    """Every card of one scorecard file.

    Attributes:
        name: the scorecard's name (reports show it).
        cards: card by profile name (``default``: profiles without their own).
        source: the file it was read from (or a description).
        description: free text from the file.
        dropped: measures of the built-in default left out because the data lack their feature.
    """

    name: str
    cards: Mapping[str, Scorecard]
    source: str = "(in code)"
    description: str = ""
    dropped: tuple[str, ...] = field(default=())

    def card_for(self, profile: str) -> Scorecard | None:
        """The card that scores a profile: its own, else ``default``, else ``None``."""
        return self.cards.get(profile) or self.cards.get(DEFAULT_CARD)

    @property
    def features(self) -> list[str]:
        """Every feature the cards read, sorted."""
        return sorted({m.feature for card in self.cards.values() for m in card.measures})

    def validate(self) -> ScorecardSet:
        """Check every card and measure (no file, so no line numbers); return ``self``.

        Raises:
            ScorecardError: the first problem found.
        """
        if not self.cards:
            raise ScorecardError("no scorecard: add a [[scorecards.default.measures]] table")
        for profile, card in self.cards.items():
            if not card.measures:
                raise ScorecardError("has no measures", card=profile)
            for measure in card.measures:
                for _, _, problem in measure_problems(measure):
                    raise ScorecardError(problem, card=profile, measure=measure.name)
        return self

    def with_weights(self, weights: Mapping[str, Mapping[str, float]]) -> ScorecardSet:
        """A copy with new weights: ``{card: {measure: weight}}``; a weight of 0 drops it."""
        cards = {}
        for profile, card in self.cards.items():
            new = weights.get(profile, {})
            kept = tuple(
                replace(m, weight=float(new.get(m.name, m.weight)))
                for m in card.measures
                if new.get(m.name, m.weight) > 0
            )
            cards[profile] = replace(card, measures=kept)
        return replace(self, cards=cards).validate()

    def to_toml(self, header: str = "") -> str:
        """The cards as a scorecard file (``header`` becomes leading comment lines)."""
        lines = [f"# {text}".rstrip() for text in header.splitlines()]
        lines += [f"name = {_string(self.name)}"]
        if self.description:
            lines.append(f"description = {_string(self.description)}")
        for profile, card in self.cards.items():
            key = profile if re.fullmatch(r"[A-Za-z0-9_-]+", profile) else _string(profile)
            for m in card.measures:
                lines += ["", f"[[scorecards.{key}.measures]]", f"name = {_string(m.name)}"]
                lines += [f"feature = {_string(m.feature)}", f"weight = {_number(m.weight)}"]
                if m.linear is not None:
                    start, end = _number(m.linear.start), _number(m.linear.end)
                    lines.append(f"linear = {{ from = {start}, to = {end} }}")
                else:
                    lines += ["ranges = [", *(f"  {_range(r)}," for r in m.ranges), "]"]
                if m.missing != NEUTRAL_POINTS:
                    lines.append(f"missing = {_number(m.missing)}")
        return "\n".join(lines) + "\n"


def measure_problems(m: Measure) -> list[tuple[str | None, int | None, str]]:
    """Everything wrong with a measure's values, as ``(key, range index, problem)``."""
    found: list[tuple[str | None, int | None, str]] = []
    if not m.weight > 0:
        found.append(("weight", None, f"weight {_number(m.weight)} must be positive"))
    if m.linear is None and not m.ranges:
        found.append((None, None, "needs `linear = {from = ..., to = ...}` or `ranges`"))
    if m.linear is not None and m.ranges:
        found.append(("ranges", None, "give either `linear` or `ranges`, not both"))
    if m.linear is not None and m.linear.start == m.linear.end:
        found.append(("linear", None, "linear `from` and `to` must differ"))
    if not 0 <= m.missing <= 100:
        found.append(("missing", None, f"missing = {_number(m.missing)}: points lie in 0-100"))
    previous: PointRange | None = None
    for k, r in enumerate(m.ranges):
        shown = f"range {k + 1} [{_bound(r.lo, '-inf')}, {_bound(r.hi, 'inf')})"
        if not 0 <= r.points <= 100:
            found.append(("ranges", k, f"{shown}: points {_number(r.points)} outside 0-100"))
        if r.lo is not None and r.hi is not None and r.lo >= r.hi:
            found.append(("ranges", k, f"{shown} is empty or reversed: `from` must be below `to`"))
        if previous is not None:
            prev_lo = -math.inf if previous.lo is None else previous.lo
            prev_hi = math.inf if previous.hi is None else previous.hi
            lo = -math.inf if r.lo is None else r.lo
            if lo < prev_lo:
                found.append(("ranges", k, f"{shown} is out of order: it starts before range {k}"))
            elif lo < prev_hi:
                found.append(
                    (
                        "ranges",
                        k,
                        f"{shown} overlaps range {k}, which ends at {_bound(previous.hi, 'inf')}",
                    )
                )
        previous = r
    return found


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped) + '"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _bound(value: float | None, open_end: str) -> str:
    return open_end if value is None else _number(value)


def _range(r: PointRange) -> str:
    keys = [] if r.lo is None else [f"from = {_number(r.lo)}"]
    keys += [] if r.hi is None else [f"to = {_number(r.hi)}"]
    return "{ " + ", ".join([*keys, f"points = {_number(r.points)}"]) + " }"
