"""Usage features from the customer's own vocabulary: each kept event type, product feature and
key event, counted over 7, 30 and 90 days, per active user and per seat, against the window before,
and days since it was last seen.

Each counted item has a SQL predicate on an ``events`` row; :mod:`vitals.features.queries` sums
it per account and day as ``v<i>`` and per window as ``v<i>_<window>`` (``v<i>_last``: the last
day it was seen). Feature names start with ``event_<slug>``, ``feature_<slug>`` or
``key_<slug>``; ``event_other`` / ``feature_other`` count everything not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vitals.features.catalog import ADOPTION, Vocabulary
from vitals.features.definitions import (
    RECENCY_CAP_DAYS,
    WINDOWS,
    Feature,
    ratio,
    relative_change,
    slug,
    spec,
)


@dataclass(frozen=True)
class CountedItem:
    """One thing counted per account and day.

    Attributes:
        column: its column in the daily roll-up (``v<i>``).
        prefix: the start of its feature names.
        label: plain-language name of its count ("Meeting events").
        what: what is counted, for descriptions ("events of type 'meeting'").
        predicate: SQL condition on an ``events`` row.
        higher_is_better: whether more is healthier.
    """

    column: str
    prefix: str
    label: str
    what: str
    predicate: str
    higher_is_better: bool = True


def counted_items(
    vocabulary: Vocabulary, reserved: frozenset[str] = frozenset()
) -> list[CountedItem]:
    """The items a vocabulary counts, in a fixed order, with feature-name prefixes distinct from
    each other and from the ``reserved`` names of the other features."""
    found: list[tuple[str, str, str, str, bool]] = []  # prefix, label, what, predicate, better
    for name in vocabulary.event_types:
        found.append(
            (
                f"event_{slug(name)}",
                _human(name) + " events",
                f"events of type '{name}'",
                f"event_type = {_quote(name)}",
                True,
            )
        )
    if vocabulary.other_event_types:
        kept = ", ".join(_quote(t) for t in vocabulary.event_types) or "NULL"
        found.append(
            (
                "event_other",
                "Other events",
                "events of the other types",
                f"event_type NOT IN ({kept})",
                True,
            )
        )
    for name in vocabulary.features:
        found.append(
            (
                f"feature_{slug(name)}",
                f"Use of {name}",
                f"events of product feature '{name}'",
                f"feature = {_quote(name)}",
                True,
            )
        )
    if vocabulary.other_features:
        kept = ", ".join(_quote(f) for f in vocabulary.features) or "NULL"
        found.append(
            (
                "feature_other",
                "Use of other features",
                "events of the other features",
                f"feature IS NOT NULL AND feature NOT IN ({kept})",
                True,
            )
        )
    for key in vocabulary.key_events:
        found.append(
            (
                f"key_{slug(key.name)}",
                key.name,
                f"events of key event '{key.name}'",
                _key_predicate(key.event_types, key.features),
                key.higher_is_better,
            )
        )
    items: list[CountedItem] = []
    used: set[str] = set()
    for i, (prefix, label, what, predicate, better) in enumerate(found):
        # two names with one slug ("Add contact", "add_contact"), or a product feature named
        # like a built-in feature ("breadth": feature_breadth_30d)
        while prefix in used or any(r.startswith(prefix + "_") for r in reserved):
            prefix += "_"
        used.add(prefix)
        items.append(CountedItem(f"v{i}", prefix, label, what, predicate, better))
    return items


def vocabulary_features(
    vocabulary: Vocabulary, reserved: frozenset[str] = frozenset()
) -> list[Feature]:
    """The usage features of every counted item (see the module docstring), named apart from
    the ``reserved`` names."""
    feats: list[Feature] = []
    for item in counted_items(vocabulary, reserved):
        # each event type and key event is a measure of its own; product features add up to
        # the breadth of adoption
        measure = ADOPTION if item.prefix.startswith("feature_") else item.label
        feats += [
            Feature(replace(f.spec, measure=measure), f.sql, f.table) for f in _item_features(item)
        ]
    return feats


def _item_features(item: CountedItem) -> list[Feature]:
    p, c, better = item.prefix, f"e.{item.column}", item.higher_is_better
    feats = []
    for w in WINDOWS:
        count = f"COALESCE({c}_{w}d, 0)"
        previous = f"{p}_prev_{w}d" if w == 30 else None
        feats.append(
            _feature(
                f"{p}_{w}d",
                item.label,
                f"Count of {item.what} in the last {w} days",
                "events",
                w,
                better,
                count,
                previous=previous,
            )
        )
        if previous:
            feats.append(
                _feature(
                    previous,
                    f"{item.label} (previous {w} days)",
                    f"Count of {item.what} in the {w} days before the last {w}",
                    "events",
                    w,
                    better,
                    f"COALESCE({c}_prev_{w}d, 0)",
                    previous_window=True,
                )
            )
        feats.append(
            _feature(
                f"{p}_per_user_{w}d",
                f"{item.label} per active user",
                f"Count of {item.what} per active user in the last {w} days",
                "events/user",
                w,
                better,
                ratio(count, f"u.active_users_{w}d"),
            )
        )
        feats.append(
            _feature(
                f"{p}_per_seat_{w}d",
                f"{item.label} per seat",
                f"Count of {item.what} per licensed seat in the last {w} days",
                "events/seat",
                w,
                better,
                ratio(count, "s.seats"),
            )
        )
        feats.append(
            Feature(
                spec(
                    f"{p}_change_{w}d",
                    "trend",
                    f"{item.label} trend ({w} days)",
                    f"Relative change of the count of {item.what} over the last {w} days vs "
                    f"the {w} days before that, (now - before) / (now + before), in [-1, 1]",
                    "relative change",
                    window_days=w,
                    higher_is_better=better,
                ),
                relative_change(count, f"COALESCE({c}_prev_{w}d, 0)"),
            )
        )
    feats.append(
        Feature(
            spec(
                f"{p}_days_since",
                "engagement",
                f"Days since {item.label[0].lower()}{item.label[1:]}",
                f"Days since the last of the {item.what} (capped at {RECENCY_CAP_DAYS})",
                "days",
                higher_is_better=not better,
            ),
            f"COALESCE(a.as_of_day - {c}_last, {RECENCY_CAP_DAYS})",
        )
    )
    return feats


def _feature(
    name: str,
    label: str,
    description: str,
    unit: str,
    window: int,
    better: bool,
    sql: str,
    *,
    previous: str | None = None,
    previous_window: bool = False,
) -> Feature:
    return Feature(
        spec(
            name,
            "usage",
            label,
            description,
            unit,
            window_days=window,
            higher_is_better=better,
            previous=previous,
            previous_window=previous_window,
        ),
        sql,
    )


def _key_predicate(event_types: tuple[str, ...], features: tuple[str, ...]) -> str:
    parts = []
    if event_types:
        parts.append(f"event_type IN ({', '.join(_quote(t) for t in event_types)})")
    if features:
        parts.append(f"feature IN ({', '.join(_quote(f) for f in features)})")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _human(name: str) -> str:
    words = slug(name).replace("_", " ")
    return words[:1].upper() + words[1:]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
