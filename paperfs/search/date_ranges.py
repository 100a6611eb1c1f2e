"""Date expressions of the search language, resolved against an injected clock.

Every expression denotes a *span* of time ``[start, end)`` (half-open, so
consecutive days or months never overlap and never leave a gap):

==========================  ===================================================
``2024``                    the whole year: [2024-01-01, 2025-01-01)
``2024-03`` / ``202403``    the whole month
``2024-03-15`` / ``20240315``  the whole day
``2024031510`` … ``20240315103000``  hour / minute / second (compact forms)
``2024-03-15T10:30[:00[.ffffff]][Z|+01:00]``  minute / second / microsecond
``today`` ``yesterday``     the calendar day
``this week`` ``last week`` weeks start on Monday; ``last`` = ``previous`` =
``previous week``           the calendar period before the current one
``this|last|previous month|quarter|year``
``now``                     the instant ``now`` (a point, not a period)
``-1 week`` ``-7d`` ``now-3h`` ``+2 days``  an instant relative to ``now``
==========================  ===================================================

A single value (``created:2024-03``) must be a period; instants are only
accepted as range bounds (``added:[-1 week to now]``) and after ``<``/``>``.
In a range, an inclusive upper bound takes the *end* of its span
(``[2005 to 2009]`` ends at 2010-01-01) and an exclusive one its start.

Time zones: bare dates are wall-clock dates in ``now.tzinfo`` (pass an aware
``now`` with a real ``zoneinfo.ZoneInfo`` so month boundaries across a DST
change are right). Explicit offsets (``Z``, ``+01:00``) are kept as written;
with a naive ``now`` they are refused, because mixing naive and aware
datetimes would make the compilers' comparisons fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Literal

__all__ = [
    "DateError",
    "Span",
    "resolve_span",
    "resolve_value",
    "resolve_comparison",
    "range_from_spans",
    "KEYWORDS",
]

Comparison = Literal["<", "<=", ">", ">="]


class DateError(ValueError):
    """A date expression that cannot be resolved; the parser adds the position."""


@dataclass(frozen=True, slots=True)
class Span:
    """The time a date expression denotes: ``[start, end)``.

    For an instant (``now``, ``-1 week``) ``start == end`` and ``instant`` is
    True.
    """

    start: datetime
    end: datetime
    instant: bool = False


#: Period keywords, after lower-casing and collapsing whitespace.
KEYWORDS: tuple[str, ...] = (
    "today",
    "yesterday",
    "this week",
    "last week",
    "previous week",
    "this month",
    "last month",
    "previous month",
    "this quarter",
    "last quarter",
    "previous quarter",
    "this year",
    "last year",
    "previous year",
)

# The lexical check of one literal is a regex; the query *parser* is not.
_COMPACT = re.compile(r"\d{4}(?:\d{2}){1,5}")  # YYYYMM … YYYYMMDDHHMMSS
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})t(\d{2}):(\d{2})"
    r"(?::(\d{2})(\.\d{1,6})?)?"
    r"(z|[+-]\d{2}:?\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
)
_RELATIVE = re.compile(r"(?:now\s*)?([+-])\s*(\d{1,6})\s*([a-z]+)")

_UNITS: dict[str, str] = {}
for _unit, _names in {
    "seconds": ("s", "sec", "secs", "second", "seconds"),
    "minutes": ("min", "mins", "minute", "minutes"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "days": ("d", "day", "days"),
    "weeks": ("w", "wk", "wks", "week", "weeks"),
    "months": ("mo", "mon", "mons", "month", "months"),
    "years": ("y", "yr", "yrs", "year", "years"),
}.items():
    for _name in _names:
        _UNITS[_name] = _unit


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _day(d: date, tz: tzinfo | None) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _month_start(year: int, month: int, tz: tzinfo | None) -> datetime:
    return datetime(year, month, 1, tzinfo=tz)


def _keyword_span(keyword: str, now: datetime) -> Span:
    tz = now.tzinfo
    today = now.date()
    if keyword == "today":
        return Span(_day(today, tz), _day(today + timedelta(days=1), tz))
    if keyword == "yesterday":
        return Span(_day(today - timedelta(days=1), tz), _day(today, tz))
    which, unit = keyword.split(" ")
    back = 0 if which == "this" else 1
    if unit == "week":
        # Weeks start on Monday (ISO 8601), as in paperless-ngx.
        monday = today - timedelta(days=today.weekday()) - timedelta(weeks=back)
        return Span(_day(monday, tz), _day(monday + timedelta(weeks=1), tz))
    if unit == "year":
        year = today.year - back
        return Span(datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz))
    months = 1 if unit == "month" else 3
    first = today.month if unit == "month" else 3 * ((today.month - 1) // 3) + 1
    y, m = _add_months(today.year, first, -back * months)
    y2, m2 = _add_months(y, m, months)
    return Span(_month_start(y, m, tz), _month_start(y2, m2, tz))


def _shift(now: datetime, sign: int, amount: int, unit: str) -> datetime:
    if unit in ("seconds", "minutes", "hours"):
        # Elapsed time: compute in UTC so a DST change does not add an hour.
        delta = timedelta(**{unit: sign * amount})
        if now.tzinfo is None:
            return now + delta
        return (now.astimezone(timezone.utc) + delta).astimezone(now.tzinfo)
    if unit in ("days", "weeks"):
        # Calendar time: "-1 week" keeps the wall-clock time of day.
        return now + timedelta(**{unit: sign * amount})
    months = sign * amount * (12 if unit == "years" else 1)
    y, m = _add_months(now.year, now.month, months)
    # Clamp the day: one month before March 31 is the last day of February.
    next_y, next_m = _add_months(y, m, 1)
    last_day = (date(next_y, next_m, 1) - timedelta(days=1)).day
    return now.replace(year=y, month=m, day=min(now.day, last_day))


def _offset(text: str) -> tzinfo:
    if text == "z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    body = text[1:].replace(":", "")
    hours, minutes, rest = int(body[0:2]), int(body[2:4]), body[4:]
    seconds = float(rest) if rest else 0.0
    delta = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if delta >= timedelta(hours=24) or minutes >= 60:
        raise DateError(f"time zone offset '{text.upper()}' is out of range")
    return timezone(sign * delta)


def _attach_zone(value: datetime, explicit: tzinfo | None, now: datetime) -> datetime:
    if explicit is None:
        return value.replace(tzinfo=now.tzinfo)
    if now.tzinfo is None:
        raise DateError(
            "a time zone offset needs an aware clock; leave the offset out"
        )
    return value.replace(tzinfo=explicit)


def _literal_span(text: str, now: datetime) -> Span | None:
    """Absolute dates; None when ``text`` does not look like one."""
    tz = now.tzinfo
    if m := _ISO_DATETIME.fullmatch(text):
        year, month, day, hour, minute = (int(g) for g in m.group(1, 2, 3, 4, 5))
        second = int(m.group(6)) if m.group(6) else 0
        fraction = m.group(7)
        micro = int(fraction[1:].ljust(6, "0")) if fraction else 0
        explicit = _offset(m.group(8)) if m.group(8) else None
        start = _attach_zone(
            datetime(year, month, day, hour, minute, second, micro), explicit, now
        )
        # A value is as long as its last written unit.
        if fraction:
            step = timedelta(microseconds=1)
        elif m.group(6):
            step = timedelta(seconds=1)
        else:
            step = timedelta(minutes=1)
        return Span(start, start + step)
    if _COMPACT.fullmatch(text):
        # paperless-ngx / Whoosh compact forms: 202403, 20240315, 20240315103000.
        parts = [int(text[0:4])] + [int(text[i : i + 2]) for i in range(4, len(text), 2)]
        return _calendar_span(parts, tz)
    if m := _ISO_DATE.fullmatch(text):
        return _calendar_span([int(g) for g in m.groups() if g is not None], tz)
    return None


def _calendar_span(parts: list[int], tz: tzinfo | None) -> Span:
    """Year, month, day, hour, minute, second: as many as were written."""
    year = parts[0]
    if len(parts) == 1:
        return Span(datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz))
    month = parts[1]
    if len(parts) == 2:
        if not 1 <= month <= 12:
            raise ValueError("month out of range")
        y2, m2 = _add_months(year, month, 1)
        return Span(_month_start(year, month, tz), _month_start(y2, m2, tz))
    start_day = date(year, month, parts[2])
    if len(parts) == 3:
        return Span(_day(start_day, tz), _day(start_day + timedelta(days=1), tz))
    fields = parts[3:] + [0] * (6 - len(parts))
    start = datetime(year, month, parts[2], *fields, tzinfo=tz)
    step = {4: timedelta(hours=1), 5: timedelta(minutes=1), 6: timedelta(seconds=1)}[len(parts)]
    return Span(start, start + step)


def resolve_span(text: str, now: datetime) -> Span:
    """Resolve any date expression (period or instant) against ``now``.

    Raises DateError with a message for the user when it cannot.
    """
    expr = _normalise(text)
    if not expr:
        raise DateError("missing date")
    try:
        if expr == "now":
            return Span(now, now, instant=True)
        if expr in KEYWORDS:
            return _keyword_span(expr, now)
        if m := _RELATIVE.fullmatch(expr):
            sign = -1 if m.group(1) == "-" else 1
            name = m.group(3)
            if name == "m":
                raise DateError("'m' is ambiguous: write 'min' for minutes or 'mo' for months")
            unit = _UNITS.get(name)
            if unit is None:
                raise DateError(
                    f"unknown time unit '{name}' (use seconds, minutes, hours, days, "
                    "weeks, months or years)"
                )
            point = _shift(now, sign, int(m.group(2)), unit)
            return Span(point, point, instant=True)
        span = _literal_span(expr, now)
    except DateError:
        raise
    except (ValueError, OverflowError):
        # datetime() refused the numbers (month 13, February 30, year 10000).
        raise DateError(f"'{text.strip()}' is not a valid date") from None
    if span is None:
        raise DateError(
            f"'{text.strip()}' is not a date; use e.g. 2024, 2024-03, 2024-03-15, "
            "today, yesterday, \"last week\", \"this month\" or -1 week"
        )
    return span


def resolve_value(text: str, now: datetime) -> tuple[datetime, datetime]:
    """A single date value (``created:2024-03``): its span as ``(start, end)``."""
    span = resolve_span(text, now)
    if span.instant:
        raise DateError(
            f"'{text.strip()}' is a point in time, not a period; use it in a range, "
            "e.g. [-1 week to now], or after > or <"
        )
    return span.start, span.end


def resolve_comparison(
    op: Comparison, text: str, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """``>2024`` starts after 2024 ends; ``<=2024`` ends where 2024 ends."""
    span = resolve_span(text, now)
    if op == ">":
        return span.end, None
    if op == ">=":
        return span.start, None
    if op == "<":
        return None, span.start
    return None, span.end


def range_from_spans(
    lo: Span | None, hi: Span | None, lo_inclusive: bool, hi_inclusive: bool
) -> tuple[datetime | None, datetime | None]:
    """Combine resolved bounds into one half-open ``(start, end)``.

    An inclusive bound takes the whole span, an exclusive one none of it.
    Raises DateError when the range holds no time at all.
    """
    start = None if lo is None else (lo.start if lo_inclusive else lo.end)
    end = None if hi is None else (hi.end if hi_inclusive else hi.start)
    if start is not None and end is not None and start >= end:
        raise DateError("this range is empty: its start is not before its end")
    return start, end
