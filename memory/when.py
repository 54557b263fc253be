"""Days that a question names: "yesterday", "last Tuesday", "Thursday the week before", "3 days
ago", "on March 3", "on 16 February", "in May", "2025-03-05", "last week", "this month".

Search uses them to boost what was written on those days. The words stay in the query: leaving
them out of the word search measured no better, and "open on Sunday" is about Sundays. A phrase
that can be read two ways ("last Tuesday": this week's, or the week before's) gives both days, the
likelier with the higher weight.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}

_MONTH = r"(?P<month>" + "|".join(m[:3] + f"(?:{m[3:]})?" if len(m) > 3 else m for m in MONTHS) + r"|sept)\.?"
_WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
_COUNT = r"(?P<count>\d{1,3}|" + "|".join(NUMBERS) + r")"


@dataclass(frozen=True)
class Span:
    """From the start of `first` to the end of `last` (local days), with how sure the reading is."""

    first: date
    last: date
    weight: float = 1.0


def _month(name: str) -> int:
    return next(n for n, month in enumerate(MONTHS, start=1) if month.startswith(name.lower()[:3]))


def _count(text: str) -> int:
    return int(text) if text.isdigit() else NUMBERS[text.lower()]


def _past(today: date, month: int, day: int, year: str | None) -> date | None:
    """The date with that month and day: in `year`, or the latest one not after today."""
    try:
        found = date(int(year) if year else today.year, month, day)
        if not year and found > today:
            found = found.replace(year=today.year - 1)
    except ValueError:  # 31 April, 29 February in a common year
        return None
    return found


def _weekday_before(today: date, weekday: str, at_least: int) -> date:
    """The latest such weekday at least `at_least` days before today."""
    back = (today.weekday() - WEEKDAYS.index(weekday)) % 7
    while back < at_least:
        back += 7
    return today - timedelta(days=back)


def _month_span(year: int, month: int) -> Span:
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return Span(start, end)


def _previous_month(today: date, months: int = 1) -> tuple[int, int]:
    index = today.year * 12 + today.month - 1 - months
    return index // 12, index % 12 + 1


def _readings(today: date) -> list[tuple[str, object]]:
    """(pattern, match -> spans), the more specific first: a match's words are not read again."""
    monday = today - timedelta(days=today.weekday())

    def weekday_last_week(m):
        weekday = m["weekday"].lower()
        # "Tuesday last week": seven to thirteen days back, or in the calendar week before this one
        spans = [Span(day, day) for day in {_weekday_before(today, weekday, 7),
                                            monday - timedelta(days=7 - WEEKDAYS.index(weekday))}]
        return sorted(spans, key=lambda s: s.first, reverse=True)

    def latest_weekday(at_least: int):
        """"last Tuesday" (a day back at least), "on Tuesday" (today or back): that day, or a week before."""
        def read(m):
            near = _weekday_before(today, m["weekday"].lower(), at_least)
            return [Span(near, near), Span(near - timedelta(days=7), near - timedelta(days=7), 0.5)]
        return read

    def dated(m):
        found = _past(today, _month(m["month"]), int(m["day"]), m["year"])
        return [Span(found, found)] if found else []

    def days_ago(m):
        day = today - timedelta(days=_count(m["count"]))
        return [Span(day, day), Span(day - timedelta(days=1), day + timedelta(days=1), 0.5)]

    def weeks_ago(m):
        middle = today - timedelta(days=7 * _count(m["count"]))
        return [Span(middle - timedelta(days=3), min(today, middle + timedelta(days=3)))]

    def months_ago(m):
        return [_month_span(*_previous_month(today, _count(m["count"])))]

    def in_month(m):
        month, year = _month(m["month"]), m["year"]
        if year:
            return [_month_span(int(year), month)]
        return [_month_span(today.year if month <= today.month else today.year - 1, month)]

    def iso(m):
        try:
            found = date(int(m["year"]), int(m["month"]), int(m["day"]))
        except ValueError:
            return []
        return [Span(found, found)]

    return [
        (r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]?\d)-(?P<day>[0-3]?\d)\b", iso),
        (rf"\b(?:on\s+)?(?:{_WEEKDAY},?\s+)?{_MONTH}\s+{_DAY}\b{_YEAR}", dated),
        (rf"\b(?:on\s+)?(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b{_YEAR}", dated),
        (rf"\b(?:on\s+)?{_WEEKDAY}\s+(?:of\s+)?(?:last\s+week|the\s+week\s+before)\b", weekday_last_week),
        (rf"\b(?:on\s+)?the\s+{_WEEKDAY}\s+before\s+last\b", weekday_last_week),
        (rf"\b(?:on\s+)?(?:last|past|previous)\s+{_WEEKDAY}\b", latest_weekday(1)),
        (rf"\b(?:on\s+)?(?:this\s+)?{_WEEKDAY}\b", latest_weekday(0)),
        (r"\bthe\s+day\s+before\s+yesterday\b", lambda m: [Span(today - timedelta(days=2), today - timedelta(days=2))]),
        (r"\byesterday\b", lambda m: [Span(today - timedelta(days=1), today - timedelta(days=1))]),
        (r"\b(?:earlier\s+)?today\b|\bthis\s+(?:morning|afternoon|evening)\b|\btonight\b",
         lambda m: [Span(today, today)]),
        (rf"\b{_COUNT}\s+days?\s+ago\b", days_ago),
        (rf"\b{_COUNT}\s+weeks?\s+ago\b", weeks_ago),
        (rf"\b{_COUNT}\s+months?\s+ago\b", months_ago),
        (r"\b(?:last|past|previous)\s+week(?:end)?\b", lambda m: [Span(min(monday - timedelta(days=7), today - timedelta(days=13)),
                                                                     max(monday - timedelta(days=1), today - timedelta(days=7)))]),
        (r"\bthis\s+week\b", lambda m: [Span(monday, today)]),
        (r"\b(?:last|past|previous)\s+month\b", lambda m: [_month_span(*_previous_month(today))]),
        (r"\bthis\s+month\b", lambda m: [Span(today.replace(day=1), today)]),
        (r"\blast\s+year\b", lambda m: [Span(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))]),
        (rf"\b(?:in|during|since|from)\s+(?:early\s+|late\s+|mid-?)?{_MONTH}\b{_YEAR}", in_month),
    ]


def days_named(query: str, now: datetime) -> list[Span]:
    """The days `query` names, read at `now` (an aware datetime in the zone the person lives in),
    likeliest first. A phrase is read once, by the most specific reading that fits it."""
    today = now.date()
    spans: list[Span] = []
    for pattern, read in _readings(today):
        def take(match: re.Match) -> str:
            spans.extend(span for span in read(match) if span.first <= today)
            return " "

        query = re.sub(pattern, take, query, flags=re.IGNORECASE)
    return sorted(spans, key=lambda span: -span.weight)
