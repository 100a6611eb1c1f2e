"""Find the date a document was written ("created") in its text.

paperless-ngx style: scan the text once with a regular expression for date
candidates, in reading order, and return the first that is a real calendar
date, not in the future and not before *min_year*.

Recognised forms:

* numeric with the same separator twice (``.``, ``/``, ``-``; ``15. 03. 2024``
  with spaces too): ``15.03.2024``, ``03/15/2024``, ``15-03-24``; day and
  month in the order of *date_order* (``DMY``: 15.03.2024, ``MDY``:
  03/15/2024). When that order gives an impossible date but the other one
  does not (``12/25/2023`` with DMY), the other one is taken: a day above 12
  is unambiguous. Two-digit years are read as 20yy up to the current year,
  else 19yy;
* ISO-like, year first: ``2024-03-15`` (also ``2024-03-15T10:00``),
  ``2024/03/15``, ``2024.03.15``;
* written: ``15 March 2024``, ``15. März 2024``, ``1st of May 2024``,
  ``15-Mar-2024``, ``March 15, 2024``, ``Mar. 15th 2024``.

Letters or digits glued to a numeric date make it something else (an
order number, a version, an IP address); an underscore does not
(``scan_2024-03-15_001``).

A month with a year but no day (``März 2024``) is not a date here: it is
usually a billing period, not the day the letter was written.

Month names come from dateparser's locale data for the configured
languages (``en``/``eng``, ``de``/``deu``, … — ISO 639-1 or tesseract's
639-2 codes), plus spellings OCR and keyboards produce: ``Marz``/``Maerz``
for ``März``, ``fevrier`` for ``février``. dateparser's ``parse`` itself is
not used: once a candidate has matched, its day, month and year are known,
and dateparser costs ~1.5 ms per snippet where this whole scan of 5 KB takes
well under a millisecond.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperfs.consume.messages import WorkItem

log = logging.getLogger(__name__)

DEFAULT_LANGUAGES = ("en", "de", "fr")
_MONTH_KEYS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
# tesseract (ISO 639-2) codes for languages people commonly configure.
_ISO639_2 = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es",
    "ita": "it", "nld": "nl", "dut": "nl", "por": "pt", "pol": "pl", "swe": "sv",
    "dan": "da", "nor": "nb", "nob": "nb", "fin": "fi", "ces": "cs", "cze": "cs",
    "slk": "sk", "hun": "hu", "ron": "ro", "hrv": "hr", "slv": "sl", "tur": "tr",
    "rus": "ru", "ukr": "uk", "ell": "el", "cat": "ca", "est": "et", "lav": "lv",
    "lit": "lt",
}
_VALID_ORDERS = {"DMY", "MDY", "YMD", "YDM", "DYM", "MYD"}

_SEP_NUMERIC = r"(?P<sep>[./-])"
_NUMERIC = (
    # day/month first, year last: 15.03.2024, 03/15/24, 15. 03. 2024
    r"(?<![^\W_])(?<![.,/-])"
    r"(?P<a>\d{1,2})" + _SEP_NUMERIC + r" ?(?P<b>\d{1,2})(?P=sep) ?(?P<y>\d{4}|\d{2})"
    r"(?![^\W_]|[.,/-]\d)"
)
_ISO = (
    r"(?<![^\W_])(?<![.,/-])"
    r"(?P<iy>\d{4})(?P<isep>[./-])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})"
    r"(?!(?!T\d)[^\W_]|[.,/-]\d)"  # 2024-03-15T10:00 is fine
)


@functools.lru_cache(maxsize=32)
def _month_table(languages: tuple[str, ...]) -> dict[str, int]:
    """casefolded month name/abbreviation -> month number, for *languages*."""
    from dateparser.languages.loader import default_loader

    table: dict[str, int] = {}
    for lang in languages:
        code = _ISO639_2.get(lang.lower(), lang.lower())
        try:
            info = default_loader.get_locale(code).info
        except Exception as e:  # unknown language: dateparser raises ValueError
            log.warning("dates: no month names for language %r (%s); ignored", lang, e)
            continue
        for number, key in enumerate(_MONTH_KEYS, start=1):
            for name in info.get(key, []):
                name = name.casefold().rstrip(".")
                if not re.fullmatch(r"[^\W\d_]{3,}", name):
                    continue  # skip 1–2 letter abbreviations and odd entries
                for variant in _variants(name):
                    table.setdefault(variant, number)
    return table


def _variants(name: str) -> Iterable[str]:
    """A name plus its OCR/keyboard spellings without diacritics."""
    yield name
    translit = name.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    if translit != name:
        yield translit
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
    )
    if stripped != name:
        yield stripped


@functools.lru_cache(maxsize=32)
def _pattern(languages: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, int]]:
    table = _month_table(languages)
    names = "|".join(re.escape(n) for n in sorted(table, key=len, reverse=True))
    month = rf"(?P<{{g}}>{names})\.?"
    ordinal = r"(?:st|nd|rd|th|er|e|\.)?"
    # 15 March 2024 / 15. März 2024 / 1st of May 2024 / 15-Mar-2024
    day_month = (
        r"(?<![\w.])(?P<dd>\d{1,2})" + ordinal + r"(?:[ \t]*(?:of[ \t]+)?|[-/.])"
        + month.format(g="dm") + r"(?:[ \t]*,?[ \t]*|[-/])(?P<dy>\d{4})(?!\w)"
    )
    # March 15, 2024 / Mar. 15th 2024
    month_day = (
        r"(?<!\w)" + month.format(g="md") + r"[ \t]*(?P<mdd>\d{1,2})" + ordinal
        + r"(?:[ \t]*,[ \t]*|[ \t]+)(?P<mdy>\d{4})(?!\w)"
    )
    regex = "|".join(f"(?:{p})" for p in (_ISO, _NUMERIC, day_month, month_day))
    return re.compile(regex, re.IGNORECASE), table


def run(item: WorkItem) -> WorkItem:
    """The dates stage: the created date from the text, else the file's mtime."""
    if item.created is not None:
        return item  # a stage before knew it (a mail's Date)
    dates = item.task.dates
    created = find_created_date(item.text or "", date_order=dates.date_order,
                                languages=list(dates.date_languages), min_year=dates.min_year)
    if created is None:
        return item.but(created=dt.datetime.fromtimestamp(item.task.file_mtime).date(),
                        created_from_content=False)
    return item.but(created=created, created_from_content=True)


def find_created_date(
    text: str,
    *,
    date_order: str = "DMY",
    languages: list[str] | None = None,
    today: date | None = None,
    min_year: int = 1900,
) -> date | None:
    """The first plausible date in *text*, or None.

    *date_order* (``DMY``, ``MDY``, ``YMD``…) orders day and month in
    numeric dates; *languages* (ISO 639-1 or tesseract codes; default
    English, German, French) supply month names; dates after *today*
    (default: the current date) or before *min_year* are skipped.
    """
    order = date_order.upper()
    if order not in _VALID_ORDERS:
        raise ValueError(f"date_order {date_order!r} must be one of {sorted(_VALID_ORDERS)}")
    today = today or date.today()
    day_first = order.index("D") < order.index("M")
    pattern, months = _pattern(tuple(languages) if languages else DEFAULT_LANGUAGES)
    for m in pattern.finditer(text):
        g = m.groupdict()
        if g["iy"]:
            candidates = [(int(g["iy"]), int(g["im"]), int(g["id"]))]
        elif g["a"]:
            if len(g["y"]) == 2 and len(g["a"]) == 1 and len(g["b"]) == 1:
                continue  # "1.2.10" is a version number far more often than a date
            year = _full_year(g["y"], today)
            a, b = int(g["a"]), int(g["b"])
            first = (year, b, a) if day_first else (year, a, b)
            candidates = [first]
            if first[1] > 12:  # impossible month: the other order is unambiguous
                candidates.append((year, first[2], first[1]))
        elif g["dd"]:
            candidates = [(int(g["dy"]), months[g["dm"].casefold()], int(g["dd"]))]
        else:
            candidates = [(int(g["mdy"]), months[g["md"].casefold()], int(g["mdd"]))]
        for year, month, day in candidates:
            found = _valid(year, month, day, today, min_year)
            if found is not None:
                return found
    return None


def _full_year(digits: str, today: date) -> int:
    if len(digits) == 4:
        return int(digits)
    yy = int(digits)
    return 2000 + yy if yy <= today.year % 100 else 1900 + yy


def _valid(year: int, month: int, day: int, today: date, min_year: int) -> date | None:
    if year < min_year:
        return None
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if found <= today else None
