"""paperfs.consume.stages.content_dates.find_created_date."""

from __future__ import annotations

import statistics
import time
from datetime import date

import pytest

from paperfs.consume.stages.content_dates import find_created_date

TODAY = date(2024, 6, 1)

# (text, date_order, languages, expected)
CASES: list[tuple[str, str, list[str] | None, date | None]] = [
    # numeric, day first
    ("Rechnungsdatum: 15.03.2024", "DMY", None, date(2024, 3, 15)),
    ("Invoice 15/03/2024", "DMY", None, date(2024, 3, 15)),
    ("date 15-03-2024", "DMY", None, date(2024, 3, 15)),
    ("am 5.3.2024 erhalten", "DMY", None, date(2024, 3, 5)),
    ("Datum 15. 03. 2024", "DMY", None, date(2024, 3, 15)),
    ("15.03.24", "DMY", None, date(2024, 3, 15)),
    ("01.02.99", "DMY", None, date(1999, 2, 1)),
    # DMY vs MDY on the same text
    ("03/04/2024", "DMY", None, date(2024, 4, 3)),
    ("03/04/2024", "MDY", None, date(2024, 3, 4)),
    ("03/15/2024", "MDY", None, date(2024, 3, 15)),
    ("12/25/2023", "DMY", None, date(2023, 12, 25)),  # day > 12: only one reading
    ("25.12.2023", "MDY", None, date(2023, 12, 25)),
    # ISO, year first, whatever the order
    ("Created 2024-03-15T10:00", "DMY", None, date(2024, 3, 15)),
    ("2024/03/15", "MDY", None, date(2024, 3, 15)),
    ("scan_2024-03-15_001.pdf", "DMY", None, date(2024, 3, 15)),
    ("2024.3.5", "DMY", None, date(2024, 3, 5)),
    # written, English
    ("London, 15 March 2024", "DMY", ["en"], date(2024, 3, 15)),
    ("March 15, 2024", "MDY", ["en"], date(2024, 3, 15)),
    ("Mar. 15th 2024", "DMY", ["en"], date(2024, 3, 15)),
    ("the 1st of May 2024", "DMY", ["en"], date(2024, 5, 1)),
    ("15-Mar-2024", "DMY", ["en"], date(2024, 3, 15)),
    ("SEPTEMBER 3, 2019", "MDY", ["en"], date(2019, 9, 3)),
    # written, German (also as tesseract code, and OCR/keyboard spellings)
    ("Berlin, den 15. März 2024", "DMY", ["de"], date(2024, 3, 15)),
    ("15. Maerz 2024", "DMY", ["deu"], date(2024, 3, 15)),
    ("15. Marz 2024", "DMY", ["de"], date(2024, 3, 15)),
    ("3. Dezember 2023", "DMY", ["de"], date(2023, 12, 3)),
    ("1. Mai 2024", "DMY", ["de", "en"], date(2024, 5, 1)),
    ("Wien, 7. Jänner 2024", "DMY", ["de"], date(2024, 1, 7)),
    # written, French
    ("Paris, le 1er février 2024", "DMY", ["fr"], date(2024, 2, 1)),
    ("le 14 juillet 2023", "DMY", ["fr"], date(2023, 7, 14)),
    # default languages are English, German and French
    ("15. Oktober 2023", "DMY", None, date(2023, 10, 15)),
    # future dates and too-old dates are skipped; the next plausible one wins
    ("Fällig am 15.07.2024, ausgestellt am 15.05.2024", "DMY", None, date(2024, 5, 15)),
    ("valid until December 31, 2030. Issued March 3, 2024", "MDY", ["en"], date(2024, 3, 3)),
    ("Gegründet 12.10.1850; Brief vom 02.01.2024", "DMY", None, date(2024, 1, 2)),
    ("01.07.2024", "DMY", None, None),  # tomorrow-ish: future
    # things that are not dates
    ("Version 1.2.10 and IP 192.168.1.20", "DMY", None, None),
    ("Artikel 31.13.2024 Menge 5", "DMY", None, None),  # month 13, day 31: impossible either way
    ("30.02.2024", "DMY", None, None),
    ("März 2024", "DMY", ["de"], None),  # a month is not a day
    ("Order 12345678, phone 0221-555-1234", "DMY", None, None),
    ("15 March 2024", "DMY", ["fr"], None),  # English month names not configured
    ("", "DMY", None, None),
]


@pytest.mark.parametrize("text,order,languages,expected", CASES)
def test_find_created_date(text: str, order: str, languages: list[str] | None, expected: date | None) -> None:
    assert find_created_date(text, date_order=order, languages=languages, today=TODAY) == expected


def test_first_date_in_reading_order_wins() -> None:
    text = "Kundennummer 4711\nDatum: 02.04.2024\nLieferung vom 28. März 2024"
    assert find_created_date(text, languages=["de"], today=TODAY) == date(2024, 4, 2)


def test_min_year() -> None:
    assert find_created_date("01.01.1950", today=TODAY) == date(1950, 1, 1)
    assert find_created_date("01.01.1950", today=TODAY, min_year=2000) is None


def test_today_default_rejects_far_future() -> None:
    assert find_created_date("01.01.2999") is None


def test_bad_date_order() -> None:
    with pytest.raises(ValueError):
        find_created_date("01.01.2020", date_order="DDY")


def test_fast_on_5kb() -> None:
    filler = (
        "Sehr geehrte Damen und Herren, anbei erhalten Sie die Unterlagen zu Vorgang 4711-0815 "
        "vom Kundenkonto 12345. Menge 3 Stück à 12,50 EUR, Summe 37,50 EUR. Version 2.1.3. "
    )
    text = (filler * 40)[:5000] + "\nDatum: 15. März 2024\n"
    find_created_date(text, languages=["de", "en"], today=TODAY)  # build and cache the pattern
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        assert find_created_date(text, languages=["de", "en"], today=TODAY) == date(2024, 3, 15)
        timings.append(time.perf_counter() - start)
    # target is < 5 ms typical; allow slack for loaded CI machines
    assert statistics.median(timings) < 0.015, f"median {statistics.median(timings) * 1000:.1f} ms"
