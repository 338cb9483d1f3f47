"""The CourseStore contract, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
import typing
from datetime import UTC, datetime
from typing import Any

import pytest

from cmvrx.errors import DuplicateCourseError, InputError, UnknownCourseError
from cmvrx.model.course import EVENT_ADAPTER, Course, Event
from cmvrx.model.patient import Case
from cmvrx.store import CourseStore, open_store


def _all_kinds() -> set[str]:
    union = typing.get_args(Event)[0]
    return {member.model_fields["kind"].default for member in typing.get_args(union)}


def test_round_trip_of_every_event_kind(
    store: CourseStore, baseline: Case, every_kind: list[dict[str, Any]]
) -> None:
    assert {e["kind"] for e in every_kind} == _all_kinds()
    seqs = store.create_course("c-1", baseline, events=every_kind[:4])
    seqs += store.add_events("c-1", every_kind[4:])
    assert seqs == list(range(1, len(every_kind) + 1))

    course = store.get_course("c-1")

    expected = Course(
        course_id="c-1",
        baseline=baseline,
        events=[EVENT_ADAPTER.validate_python(e) for e in every_kind],
    )
    assert course == expected
    assert course.baseline.model_dump() == baseline.model_dump()
    assert [EVENT_ADAPTER.dump_python(e) for e in course.events] == [
        EVENT_ADAPTER.dump_python(e) for e in expected.events
    ]


def test_out_of_order_events_come_back_in_clinical_order(
    store: CourseStore, baseline: Case, every_kind: list[dict[str, Any]]
) -> None:
    store.create_course("late", baseline)
    for item in every_kind:  # one call each, in arrival (not clinical) order
        store.add_events("late", [item])
    tie = {"kind": "note", "at": "2026-11-24T10:00:00Z", "text": "recorded after the plan"}
    store.add_events("late", [tie])

    course = store.get_course("late")

    assert [e.at for e in course.events[:-1]] == [
        EVENT_ADAPTER.validate_python(e).at for e in every_kind
    ]  # stored in recording order …
    timeline = course.timeline()
    assert [e.at for e in timeline] == sorted(e.at for e in course.events)  # … read in time order
    at_ten = [e for e in timeline if e.at == datetime(2026, 11, 24, 10, tzinfo=UTC)]
    assert [e.kind for e in at_ten] == ["plan_started", "note"]  # ties keep recording order


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"kind": "dose_given", "at": "2026-11-25T08:00Z", "drug": "ganciclovir", "dose_mg": -5},
         "events[2].dose_mg"),
        ({"kind": "transfusion", "at": "2026-11-25T08:00Z"}, "events[2].kind"),
        ({"at": "2026-11-25T08:00Z", "text": "no kind"}, "events[2].kind"),
        ({"kind": "cmv_pcr", "at": "2026-11-25T08:00Z", "result": "detected"},
         "events[2].lower_limit"),
        ({"kind": "note", "at": "2026-11-25T08:00:00", "text": "no time zone"}, "events[2].at"),
        ({"kind": "note", "at": "2026-11-25T08:00Z", "text": "x", "mood": "good"},
         "events[2].mood"),
        ("not a mapping", "events[2]"),
    ],
)  # fmt: skip
def test_a_malformed_event_rejects_the_whole_batch(
    store: CourseStore, baseline: Case, bad: Any, field: str
) -> None:
    store.create_course("c-2", baseline, events=[{"kind": "note", "at": "2026-11-24T08:00Z",
                                                  "text": "first"}])  # fmt: skip
    before = store.get_course("c-2")
    batch = [
        {"kind": "note", "at": "2026-11-25T08:00Z", "text": "good one"},
        {"kind": "weight", "at": "2026-11-25T08:00Z", "value": 63, "unit": "kg"},
        bad,
        {"kind": "note", "at": "2026-11-26T08:00Z", "text": "good too"},
    ]

    with pytest.raises(InputError) as caught:
        store.add_events("c-2", batch)

    assert caught.value.field == field
    assert field in str(caught.value)
    assert store.get_course("c-2") == before
    assert store.add_events("c-2", batch[:2]) == [2, 3]  # nothing was consumed


def test_a_malformed_event_in_a_new_course_creates_nothing(
    store: CourseStore, baseline: Case
) -> None:
    with pytest.raises(InputError, match=r"events\[1\]\.value"):
        store.create_course("c-3", baseline, events=[
            {"kind": "note", "at": "2026-11-24T08:00Z", "text": "ok"},
            {"kind": "weight", "at": "2026-11-24T08:00Z", "value": 0, "unit": "kg"},
        ])  # fmt: skip
    with pytest.raises(UnknownCourseError):
        store.get_course("c-3")
    assert store.list_courses() == []


def test_a_duplicate_course_id_is_refused_and_the_first_kept(
    store: CourseStore, baseline: Case
) -> None:
    store.create_course("dup", baseline, events=[{"kind": "note", "at": "2026-11-24T08:00Z",
                                                  "text": "original"}])  # fmt: skip
    other = baseline.model_copy(update={"case_id": "someone-else"})

    with pytest.raises(DuplicateCourseError, match="'dup' already exists") as caught:
        store.create_course("dup", other)

    assert isinstance(caught.value, InputError)
    assert caught.value.field == "course_id"
    kept = store.get_course("dup")
    assert kept.baseline.case_id == baseline.case_id
    assert len(kept.events) == 1


@pytest.mark.parametrize("bad_id", ["", "   ", " padded", "tab\tinside", "x" * 201])
def test_an_unusable_course_id_is_refused(store: CourseStore, baseline: Case, bad_id: str) -> None:
    with pytest.raises(InputError) as caught:
        store.create_course(bad_id, baseline)
    assert caught.value.field == "course_id"


def test_a_case_id_wider_than_its_column_is_refused_on_both_backends(
    store: CourseStore, baseline: Case
) -> None:
    with pytest.raises(InputError) as caught:
        store.create_course("wide", baseline.model_copy(update={"case_id": "c" * 201}))
    assert caught.value.field == "baseline.case_id"
    assert store.list_courses() == []


def test_an_unknown_course_is_a_clear_error(store: CourseStore) -> None:
    note = {"kind": "note", "at": "2026-11-24T08:00Z", "text": "x"}
    calls = [
        lambda: store.get_course("nobody"),
        lambda: store.add_events("nobody", [note]),
        lambda: store.add_events("nobody", []),
        lambda: store.list_assessments("nobody"),
        lambda: store.record_assessment("nobody", datetime(2026, 11, 25, tzinfo=UTC), "1", "h",
                                        "{}"),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(UnknownCourseError, match="no course 'nobody'") as caught:
            call()
        assert isinstance(caught.value, LookupError)
        assert isinstance(caught.value, InputError)


def test_assessments_are_recorded_with_their_knowledge_version(
    store: CourseStore, baseline: Case, every_kind: list[dict[str, Any]]
) -> None:
    store.create_course("a-1", baseline, events=every_kind)
    first = store.record_assessment(
        "a-1", datetime(2026, 11, 28, 8, tzinfo=UTC), "2026.11.1", "sha256:abc",
        '{"phase": "induction", "day": 5}', events_seen=len(every_kind),
    )  # fmt: skip
    second = store.record_assessment(
        "a-1", datetime(2026, 12, 2, 8, 30, tzinfo=UTC), "2026.12.0", "sha256:def", '{"day": 9}'
    )

    stored = store.list_assessments("a-1")

    assert [s.assessment_id for s in stored] == [first, second]
    assert [(s.knowledge_version, s.knowledge_hash) for s in stored] == [
        ("2026.11.1", "sha256:abc"), ("2026.12.0", "sha256:def"),
    ]  # fmt: skip
    assert stored[0].as_of == datetime(2026, 11, 28, 8, tzinfo=UTC)
    assert stored[0].as_of.tzinfo is not None
    assert stored[0].assessment_json == '{"phase": "induction", "day": 5}'
    assert (stored[0].events_seen, stored[1].events_seen) == (len(every_kind), None)
    assert all(s.course_id == "a-1" and s.recorded_at.tzinfo is not None for s in stored)


_AWARE = datetime(2026, 11, 28, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("as_of", "version", "text", "field"),
    [
        (datetime(2026, 11, 28, 8), "1", "{}", "as_of"),
        (_AWARE, "1", "not json", "assessment_json"),
        (_AWARE, "1", "[1, 2]", "assessment_json"),
        (_AWARE, "", "{}", "knowledge_version"),
        (_AWARE, "v" * 101, "{}", "knowledge_version"),  # wider than the column, both backends
    ],
)
def test_a_malformed_assessment_is_refused(
    store: CourseStore, baseline: Case, as_of: datetime, version: str, text: str, field: str
) -> None:
    store.create_course("a-2", baseline)
    with pytest.raises(InputError) as caught:
        store.record_assessment("a-2", as_of, version, "h", text)
    assert caught.value.field == field
    assert store.list_assessments("a-2") == []


def test_list_courses_summarises_each_course(
    store: CourseStore, baseline: Case, every_kind: list[dict[str, Any]]
) -> None:
    store.create_course("b", baseline, events=every_kind)
    store.create_course("a", baseline)

    listed = store.list_courses()

    assert [(c.course_id, c.case_id, c.event_count) for c in listed] == [
        ("a", "store-test-cns", 0), ("b", "store-test-cns", len(every_kind)),
    ]  # fmt: skip
    assert listed[0].first_event_at is None
    assert listed[1].first_event_at == datetime(2026, 11, 24, 6, tzinfo=UTC)
    assert listed[1].last_event_at == datetime(2026, 12, 1, 6, tzinfo=UTC)


def test_sequence_numbers_are_per_course_and_dense(store: CourseStore, baseline: Case) -> None:
    note = {"kind": "note", "at": "2026-11-24T08:00Z", "text": "x"}
    store.create_course("x", baseline)
    store.create_course("y", baseline, events=[note])
    assert store.add_events("x", [note, note]) == [1, 2]
    assert store.add_events("y", [note]) == [2]
    assert store.add_events("x", []) == []
    assert store.add_events("x", [note]) == [3]


def test_everything_survives_closing_and_reopening(
    store_url: str, baseline: Case, every_kind: list[dict[str, Any]]
) -> None:
    with_events = open_store(store_url)
    with_events.create_course("r", baseline, events=every_kind)
    with_events.record_assessment("r", datetime(2026, 11, 30, tzinfo=UTC), "1", "h", "{}")
    before = with_events.get_course("r")
    with_events.close()

    reopened = open_store(store_url)  # migrations already at head: nothing to do
    try:
        assert reopened.get_course("r") == before
        assert len(reopened.list_assessments("r")) == 1
    finally:
        reopened.close()


def test_concurrent_writers_keep_sequence_numbers_dense(store_url: str, baseline: Case) -> None:
    first = open_store(store_url)
    second = open_store(store_url)
    first.create_course("busy", baseline)
    acknowledged: list[int] = []
    lock = threading.Lock()

    def write(target: CourseStore, name: str) -> None:
        for i in range(15):
            seqs = target.add_events("busy", [
                {"kind": "note", "at": f"2026-11-24T08:{i:02d}Z", "text": f"{name} {i}"},
            ])  # fmt: skip
            with lock:
                acknowledged.extend(seqs)

    threads = [
        threading.Thread(target=write, args=(s, n)) for s, n in [(first, "a"), (second, "b")]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(acknowledged) == list(range(1, 31))
        assert len(first.get_course("busy").events) == 30
    finally:
        first.close()
        second.close()
