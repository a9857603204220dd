"""Suggested next steps: the playbook's actions for the reasons behind a score or its change.

A reason (stored, or as the API returns it) is a measure with the features underneath it: its lead
``feature`` and its ``breakdown``, each with its own health points. A rule of the playbook (see
:mod:`vitals.config.playbooks`) matches a reason when one of the rule's features is the reason's
feature or one of its breakdown features, and the direction agrees: the reason's (its
``direction``, else the sign of its ``health_points``) and that feature's own points. Reasons for a
change (``component``, ``feature``, ``health_points``, ``breakdown``) match the same way: points
lost since the earlier date ``lower`` health. Reasons without features (a parent's measures, the
``profile`` and ``other_measures`` components) match nothing.

The actions returned are deduplicated by their text, each with the reasons that triggered it.
Places go first to the best action of each reason, most costly reason first (among one reason's
actions: higher ``priority``, then the more specific rule, then the feature that cost more, then
file order); further actions of the same reasons fill the places left. The actions are then listed
by their most costly triggering reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from vitals.config.playbooks import DIRECTIONS, PlaybookRule, read_playbook
from vitals.config.settings import Settings, get_settings
from vitals.features.catalog import Vocabulary
from vitals.features.contract import TABLES
from vitals.features.families import feature_set

DEFAULT_LIMIT = 3


class Trigger(TypedDict):
    """A reason that triggered an action, and the feature of it that matched the rule."""

    rank: int | None
    component: str | None  # reasons for a change only
    measure: str | None
    feature: str | None
    health_points: float
    matched_feature: str
    matched_points: float


class SuggestedAction(TypedDict):
    """An action of the playbook, with the reasons that triggered it (most costly first).

    ``health_points`` are those of the most costly triggering reason.
    """

    id: str | None
    title: str | None
    action: str
    priority: int
    direction: str
    health_points: float
    reasons: list[Trigger]


def builtin_feature_names() -> list[str]:
    """The built-in catalog's features for a data directory with every table (the customer's
    own event types, product features, key events and attributes left out)."""
    return [f.spec.name for f in feature_set(set(TABLES), Vocabulary(), [], [])]


def load_playbook(
    path: str | Path | None = None,
    *,
    features: Iterable[str] = (),
    profiles: Iterable[str] | None = None,
) -> Playbook:
    """Read and validate a playbook file against the built-in catalog and ``features``.

    Args:
        path: the TOML file; ``None`` for the built-in default playbook.
        features: feature names rules may name besides the built-in catalog's, e.g. a model's
            ``feature_set.names`` (its discovered event types and key events).
        profiles: the health profiles rules may be restricted to; ``None`` accepts any.

    Raises:
        PlaybookError: the message names the file, the rule and the line of every problem.
    """
    known = {*builtin_feature_names(), *features}
    return Playbook(read_playbook(path, known, None if profiles is None else list(profiles)))


def configured_playbook(
    settings: Settings | None = None, *, features: Iterable[str] = ()
) -> Playbook:
    """The playbook ``settings.playbook`` names (the default playbook if none), its profile
    restrictions checked against the configured profiles. Load it once and keep it.

    Args:
        settings: the settings (default: the process-wide ones).
        features: extra feature names rules may name, e.g. the served model's
            ``feature_set.names``.

    Raises:
        PlaybookError: a missing or invalid file (naming the file, the rule and the line).
    """
    settings = settings or get_settings()
    profiles = [p.name for p in settings.profiles] + [settings.default_profile]
    return load_playbook(settings.playbook, features=features, profiles=profiles)


class Playbook:
    """Validated playbook rules that suggest actions for an account's reasons.

    Args:
        rules: the rules, in file order.
    """

    def __init__(self, rules: Sequence[PlaybookRule]) -> None:
        self.rules = tuple(rules)
        self._index: dict[tuple[str, str], list[tuple[int, PlaybookRule]]] = {}
        for order, rule in enumerate(self.rules):
            for feature in rule.features:
                self._index.setdefault((feature, rule.direction), []).append((order, rule))

    def __len__(self) -> int:
        return len(self.rules)

    def suggest(
        self,
        reasons: Sequence[Mapping[str, Any]],
        *,
        profile: str | None = None,
        band: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[SuggestedAction]:
        """The actions for an account's reasons, or for the reasons of a change of its score.

        Args:
            reasons: reasons as stored or returned by the API (``rank, measure, feature,
                health_points, breakdown, ...``), or reasons for a change (``component``
                instead of ``direction``).
            profile: the account's health profile (rules restricted to others do not apply).
            band: its band, ``good``, ``average`` or ``poor`` (for a change: the band now).
            limit: actions returned at most.

        Returns:
            Up to ``limit`` actions, most costly triggering reason first (see the module
            docstring); JSON-ready.
        """
        if limit < 0:
            raise ValueError(f"limit must be at least 0, got {limit}")
        found: dict[str, tuple[PlaybookRule, dict[int, Trigger]]] = {}
        ranked: list[tuple[float, int, list[str]]] = []  # reason points, position, its actions
        for position, reason in enumerate(reasons):
            points = _number(reason.get("health_points"))
            if points is None or points == 0.0:
                continue
            direction = reason.get("direction")
            if direction not in DIRECTIONS:
                direction = "raises" if points > 0 else "lowers"
            keys = []
            for rule, feature, own in self._matches(reason, direction, profile, band):
                key = _key(rule.action)
                _, triggers = found.setdefault(key, (rule, {}))
                if position not in triggers:
                    triggers[position] = _trigger(reason, points, feature, own)
                    keys.append(key)
            rank = reason.get("rank")
            ranked.append((points, rank if isinstance(rank, int) else position, keys))
        ranked.sort(key=lambda item: (item[0], item[1]))
        chosen = _breadth_first([keys for *_, keys in ranked], limit)
        actions = [_action(*found[key]) for key in chosen]  # stable: ties keep this order
        return sorted(actions, key=lambda action: action["health_points"])

    def suggest_for_alert(
        self,
        details: Mapping[str, Any],
        *,
        profile: str | None = None,
        band: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[SuggestedAction]:
        """The actions for the reasons an alert carries (its ``details``: ``reasons``, of a change
        or of the current score, ``after``, whose ``band`` is used when ``band`` is not given,
        and the account's ``profile``, used when ``profile`` is not given). A parent's alert
        carries measures without features, and gets none."""
        after = details.get("after") or {}
        band = band if band is not None else after.get("band")
        profile = profile if profile is not None else details.get("profile")
        return self.suggest(details.get("reasons") or [], profile=profile, band=band, limit=limit)

    def _matches(
        self, reason: Mapping[str, Any], direction: str, profile: str | None, band: str | None
    ) -> Iterator[tuple[PlaybookRule, str, float]]:
        """The rules a reason matches with the feature that matched, best first."""
        candidates = []
        for feature, own in _features(reason):
            if (own > 0) != (direction == "raises"):
                continue
            for order, rule in self._index.get((feature, direction), ()):
                if rule.applies_to(profile, band):
                    specific = bool(rule.profiles) + bool(rule.bands)
                    candidates.append(
                        (-rule.priority, -specific, -abs(own), order, rule, feature, own)
                    )
        candidates.sort(key=lambda c: c[:4])
        for *_, rule, feature, own in candidates:
            yield rule, feature, own


def _features(reason: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    """The reason's features with their own points: the breakdown's, and the lead feature (with
    the reason's points when the breakdown does not list it)."""
    seen = set()
    for part in reason.get("breakdown") or ():
        name, points = part.get("feature"), _number(part.get("health_points"))
        if isinstance(name, str) and points is not None and points != 0.0 and name not in seen:
            seen.add(name)
            yield name, points
    lead, points = reason.get("feature"), _number(reason.get("health_points"))
    if isinstance(lead, str) and lead not in seen and points is not None:
        yield lead, points


def _trigger(reason: Mapping[str, Any], points: float, feature: str, own: float) -> Trigger:
    rank = reason.get("rank")
    return Trigger(
        rank=rank if isinstance(rank, int) else None,
        component=reason.get("component"),
        measure=reason.get("measure"),
        feature=reason.get("feature"),
        health_points=points,
        matched_feature=feature,
        matched_points=own,
    )


def _action(rule: PlaybookRule, triggers: dict[int, Trigger]) -> SuggestedAction:
    ordered = sorted(triggers.values(), key=lambda t: t["health_points"])
    return SuggestedAction(
        id=rule.id,
        title=rule.title,
        action=rule.action,
        priority=rule.priority,
        direction=rule.direction,
        health_points=ordered[0]["health_points"],
        reasons=ordered,
    )


def _breadth_first(per_reason: list[list[str]], limit: int) -> list[str]:
    """Up to ``limit`` distinct actions: each reason's first, then each one's second, ..."""
    chosen: dict[str, None] = {}
    depth = max((len(keys) for keys in per_reason), default=0)
    for level in range(depth):
        for keys in per_reason:
            if len(chosen) >= limit:
                return list(chosen)
            if level < len(keys):
                chosen.setdefault(keys[level])
    return list(chosen)[:limit]


def _key(action: str) -> str:
    """Action texts that differ only in spacing or case are one action."""
    return " ".join(action.split()).casefold()


def _number(value: Any) -> float | None:
    """A finite number, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
