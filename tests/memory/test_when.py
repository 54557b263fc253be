"""The days a question names, read at a given moment (memory.when)."""

from datetime import date, datetime, timezone

import pytest

from memory.when import Span, days_named

NOW = datetime(2025, 6, 18, 18, tzinfo=timezone.utc)  # a Wednesday


def day(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize("query, first", [
    ("what did we say yesterday?", Span(day("2025-06-17"), day("2025-06-17"))),
    ("the day before yesterday, what did I tell you", Span(day("2025-06-16"), day("2025-06-16"))),
    ("earlier today I mentioned a film", Span(day("2025-06-18"), day("2025-06-18"))),
    ("What did we decide last Tuesday?", Span(day("2025-06-17"), day("2025-06-17"))),
    ("what did I pick on Monday", Span(day("2025-06-16"), day("2025-06-16"))),
    ("on Wednesday", Span(day("2025-06-18"), day("2025-06-18"))),
    ("Tuesday last week, what did I pick?", Span(day("2025-06-10"), day("2025-06-10"))),
    ("What about Thursday the week before?", Span(day("2025-06-12"), day("2025-06-12"))),
    ("3 days ago", Span(day("2025-06-15"), day("2025-06-15"))),
    ("ten days ago we spoke", Span(day("2025-06-08"), day("2025-06-08"))),
    ("What did I tell you about Marcus on April 29?", Span(day("2025-04-29"), day("2025-04-29"))),
    ("On 16 February, what did I pick?", Span(day("2025-02-16"), day("2025-02-16"))),
    ("on the 3rd of March", Span(day("2025-03-03"), day("2025-03-03"))),
    ("on Sept. 14", Span(day("2024-09-14"), day("2024-09-14"))),  # not yet this year: last year's
    ("on Saturday April 19", Span(day("2025-04-19"), day("2025-04-19"))),
    ("December 24, 2023", Span(day("2023-12-24"), day("2023-12-24"))),
    ("the log of 2025-03-05", Span(day("2025-03-05"), day("2025-03-05"))),
    ("what did we plan in May?", Span(day("2025-05-01"), day("2025-05-31"))),
    ("in August 2024", Span(day("2024-08-01"), day("2024-08-31"))),
    ("last month", Span(day("2025-05-01"), day("2025-05-31"))),
    ("this month", Span(day("2025-06-01"), day("2025-06-18"))),
    ("this week", Span(day("2025-06-16"), day("2025-06-18"))),
    ("last week", Span(day("2025-06-05"), day("2025-06-15"))),
    ("two weeks ago", Span(day("2025-06-01"), day("2025-06-07"))),
    ("a month ago", Span(day("2025-05-01"), day("2025-05-31"))),
    ("last year", Span(day("2024-01-01"), day("2024-12-31"))),
])
def test_a_phrase_names_its_days_likeliest_first(query, first):
    assert days_named(query, NOW)[0] == first


def test_an_ambiguous_phrase_gives_both_readings_the_likelier_heavier():
    spans = days_named("what did I say last Tuesday", NOW)
    assert spans == [Span(day("2025-06-17"), day("2025-06-17")), Span(day("2025-06-10"), day("2025-06-10"), 0.5)]
    # "Thursday last week": seven to thirteen days back, or the calendar week before this one
    assert {s.first for s in days_named("Thursday last week", NOW)} == {day("2025-06-05"), day("2025-06-12")}


@pytest.mark.parametrize("query", [
    "how do I reset the pump", "order ORD-48213-K", "May I ask about the boiler?", "version 2.3.1 release notes",
    "the 30 bar valve", "call me on 555-0134", "tomorrow's dentist appointment", "on February 30",
])
def test_a_question_that_names_no_day_gets_none(query):
    assert days_named(query, NOW) == []


def test_a_phrase_is_read_once_by_its_most_specific_reading():
    # "on Saturday April 19" is one day, not also "the latest Saturday"
    assert days_named("on Saturday April 19", NOW) == [Span(day("2025-04-19"), day("2025-04-19"))]
    assert set(days_named("on 5 May and on May 9", NOW)) == {Span(day("2025-05-05"), day("2025-05-05")),
                                                            Span(day("2025-05-09"), day("2025-05-09"))}


def test_a_day_after_now_is_not_named():
    assert days_named("on 2025-07-01", NOW) == []
