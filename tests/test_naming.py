from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath

import pytest

from paperfs.errors import ConfigError
from paperfs.archive.naming import PathRules, PathTemplate, clean_component, with_collision_suffix
from tests.test_sidecar import sample

DEFAULT = "{correspondent}/{created:%Y}/{created:%Y-%m-%d} {title}"


def render(template: str, **changes) -> str:
    return PathTemplate(template).render(sample(**changes), unknown="Unknown",
                                         max_bytes=180).as_posix()


def test_default_template():
    assert render(DEFAULT) == "ACME/2024/2024-03-15 Invoice März"


def test_unknown_correspondent():
    assert render(DEFAULT, correspondent=None).startswith("Unknown/")


def test_values_never_make_folders():
    assert render(DEFAULT, title="a/b\\c", correspondent="x/y") == "x-y/2024/2024-03-15 a-b-c"


@pytest.mark.parametrize("raw, clean", [
    ('what? <now> | "x": *', "what_ _now_ _ _x__ _"),
    ("trailing dots...", "trailing dots"),
    ("  lots   of\tspace ", "lots of space"),
    (".hidden", "hidden"),
    ("CON", "_CON"),
    ("com1.txt", "_com1.txt"),
    ("", "_"),
    ("..", "_"),
    ("e\u0301te\u0301", "\u00e9t\u00e9"),  # NFD from macOS becomes NFC
])
def test_clean_component(raw, clean):
    assert clean_component(raw, 100) == clean


def test_length_limit_counts_bytes_and_keeps_characters_whole():
    name = clean_component("ü" * 200, 101)
    assert len(name.encode()) <= 101
    assert name == "ü" * 50


def test_template_validation():
    with pytest.raises(ConfigError, match="unknown field {colour}"):
        PathTemplate("{colour}/{title}")
    with pytest.raises(ConfigError, match="relative path"):
        PathTemplate("/etc/{title}")
    with pytest.raises(ConfigError, match="relative path"):
        PathTemplate("../{title}")


def test_rules_first_match_wins_and_default_last():
    rules = PathRules([(lambda d: "tax" in d.tags, PathTemplate("Taxes/{created:%Y}/{title}"))],
                      unknown="Unknown", max_bytes=180)
    assert rules.destination(sample()).as_posix() == "Taxes/2024/Invoice März"
    assert rules.destination(sample(tags=())).as_posix() == "ACME/2024/2024-03-15 Invoice März"


def test_collision_suffix_is_stable():
    base = PurePosixPath("ACME/2024/x")
    assert with_collision_suffix(base, 7).as_posix() == "ACME/2024/x [7]"
    assert with_collision_suffix(base, 7) == with_collision_suffix(base, 7)


def test_other_fields():
    out = render("{document_type}/{asn}-{id} {added:%Y-%m} {tag}", document_type="Bill", asn=12)
    assert out == "Bill/12-42 2024-03 tax"
