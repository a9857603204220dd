"""The customer's own vocabulary: discovered by volume before the first snapshot, capped, named
apart, and key events from the settings."""

from __future__ import annotations

from datetime import date

from handmade import account, event, line, write_tables

from vitals.config.settings import FeatureSettings, KeyEventSettings
from vitals.features.build import build_features, discover_vocabulary
from vitals.features.catalog import Vocabulary
from vitals.features.families import feature_set
from vitals.features.loader import load_dataset
from vitals.features.pipeline import vocabulary_options

AS_OF = date(2024, 6, 1)


def _data(tmp_path):
    events = [
        *(event("a", f"2024-05-{d:02d} 10:00", "meeting", "u1", "crm") for d in range(1, 11)),
        *(event("a", f"2024-05-{d:02d} 11:00", "add_contact", "u2", "crm") for d in range(1, 6)),
        event("a", "2024-05-20 12:00", "export", "u1", "reports"),
        event("a", "2024-06-02 12:00", "teleport", "u1", "lab"),  # after the first snapshot
    ]
    return write_tables(
        tmp_path / "vocab",
        accounts=[account("a")],
        subscriptions=[line("a", "2024-01-01", seats=4.0)],
        events=events,
    )


def test_discovery_keeps_the_most_used_before_the_first_snapshot(tmp_path) -> None:
    dataset = load_dataset(_data(tmp_path))
    found = discover_vocabulary(dataset, AS_OF, max_event_types=2, max_features=5)
    assert found.event_types == ("meeting", "add_contact") and found.other_event_types
    assert found.features == ("crm", "reports") and not found.other_features


def test_key_events_from_the_settings_become_named_features(tmp_path) -> None:
    settings = FeatureSettings(
        max_event_types=1,
        key_events=[KeyEventSettings(name="Pipeline work", event_types=["meeting", "add_contact"])],
    )
    dataset = load_dataset(_data(tmp_path))
    options = vocabulary_options(settings)
    vocabulary = discover_vocabulary(
        dataset, AS_OF, max_event_types=options["max_event_types"],
        max_features=options["max_features"], key_events=options["key_events"],
    )  # fmt: skip
    row = build_features(dataset, [AS_OF], vocabulary=vocabulary).to_pandas().iloc[0]
    # the 30-day window starts 2024-05-02: meetings 2..10 and contacts 2..5
    assert row["key_pipeline_work_30d"] == 13 and row["key_pipeline_work_per_seat_30d"] == 13 / 4
    assert row["event_meeting_30d"] == 9 and row["event_other_30d"] == 5
    assert "event_add_contact_30d" not in row and "event_teleport_30d" not in row


def test_names_stay_distinct_and_labels_read_right() -> None:
    vocabulary = Vocabulary(("Add Contact", "add_contact"), ("breadth",), other_features=True)
    specs = [f.spec for f in feature_set(set(), vocabulary, [], [])]
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    by_name = {s.name: s for s in specs}
    previous = by_name["event_add_contact_prev_30d"]
    assert "in the 30 days before the last 30" in previous.description
    assert by_name["event_add_contact_per_user_30d"].label == "Add contact events per active user"
    assert by_name["feature_other_30d"].label == "Use of other features"
    assert by_name["event_add_contact_days_since"].higher_is_better is False
