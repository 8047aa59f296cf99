"""Golden record: survivorship rules in order, with provenance."""

from __future__ import annotations

from datetime import UTC, datetime

from identity.model import SourceRecord, StoredRecord
from identity.rules import SurvivorshipRules
from identity.survivorship import golden_record

RULES = SurvivorshipRules(
    default=("source_priority", "most_recent", "most_frequent"),
    attributes={"city": ("most_recent", "source_priority", "most_frequent")},
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def stored(source: str, key: str, when: datetime | None, **attributes: object) -> StoredRecord:
    return StoredRecord(
        record_id=hash((source, key)) & 0xFFFF,
        record=SourceRecord(source=source, key=key, attributes=dict(attributes), timestamp=when),
        profile_id="p",
        ingested_at=T0,
        updated_at=T0,
    )


def chosen(
    records: list[StoredRecord], priorities: dict[str, int]
) -> dict[str, tuple[object, str, str]]:
    return {
        a.name: (a.value, a.provenance.record_key, a.rule)
        for a in golden_record(records, priorities, RULES)
    }


def test_source_priority_wins_over_recency() -> None:
    records = [
        stored("crm", "1", datetime(2020, 1, 1, tzinfo=UTC), first_name="Robert"),
        stored("shop", "a", datetime(2024, 1, 1, tzinfo=UTC), first_name="Bob"),
    ]
    assert chosen(records, {"crm": 90, "shop": 50})["first_name"] == (
        "Robert",
        "1",
        "source_priority",
    )


def test_among_equal_priorities_the_most_recent_wins() -> None:
    records = [
        stored("shop", "a", datetime(2020, 1, 1, tzinfo=UTC), last_name="Smith"),
        stored("shop", "b", datetime(2024, 1, 1, tzinfo=UTC), last_name="Jones"),
    ]
    assert chosen(records, {})["last_name"] == ("Jones", "b", "most_recent")


def test_among_equal_priority_and_time_the_most_frequent_wins() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    records = [
        stored("shop", "a", when, city="Leeds"),
        stored("shop", "b", when, city="York"),
        stored("shop", "c", when, city="york "),
    ]
    value, _, rule = chosen(records, {})["city"]
    assert (str(value).strip().lower(), rule) == ("york", "most_frequent")


def test_a_per_attribute_rule_order_overrides_the_default() -> None:
    records = [
        stored("crm", "1", datetime(2019, 1, 1, tzinfo=UTC), city="Leeds"),
        stored("shop", "a", datetime(2024, 1, 1, tzinfo=UTC), city="Bristol"),
    ]
    assert chosen(records, {"crm": 90, "shop": 50})["city"] == ("Bristol", "a", "most_recent")


def test_empty_values_are_never_chosen() -> None:
    records = [
        stored("crm", "1", T0, phone_note=""),
        stored("shop", "a", T0, phone_note="call after 6"),
    ]
    assert chosen(records, {"crm": 90})["phone_note"][0] == "call after 6"


def test_a_full_tie_is_broken_by_source_and_key_not_by_input_order() -> None:
    records = [stored("shop", "b", T0, colour="red"), stored("shop", "a", T0, colour="blue")]
    forward = chosen(records, {})
    backward = chosen(list(reversed(records)), {})
    assert forward == backward
    assert forward["colour"] == ("blue", "a", "tie_break")
