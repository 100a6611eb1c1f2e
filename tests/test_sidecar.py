from __future__ import annotations

import datetime as dt

import pytest
import yaml

from paperfs.archive.document import (ArchiveInfo, Document, OriginalInfo, dumps, loads,
                              read_sidecar, write_sidecar)
from paperfs.errors import SidecarError

UTC = dt.timezone.utc


def sample(**changes) -> Document:
    doc = Document(
        id=42, title="Invoice März", created=dt.date(2024, 3, 15),
        added=dt.datetime(2024, 3, 20, 10, 0, tzinfo=UTC),
        modified=dt.datetime(2024, 3, 20, 10, 0, tzinfo=UTC),
        original=OriginalInfo("scan 1.pdf", "application/pdf", "a" * 64, "originals/0000/0000042.pdf"),
        archive=ArchiveInfo("b" * 64, 2, pdfa=True, ocr=True),
        correspondent="ACME", tags=("tax", "paid"),
        content="Line one\fPage two\twith tab  \r\nend",
    )
    return doc.replace(**changes)


def test_round_trip(tmp_path):
    doc = sample()
    path = tmp_path / "x.yml"
    write_sidecar(path, doc)
    back = read_sidecar(path)
    assert back.replace(content="") == doc.replace(content="")
    assert "Page two" in back.content and "\f" not in back.content


def test_layout_is_human_friendly():
    text = dumps(sample())
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys[0] == "schema_version"
    assert keys[-1] == "content"
    assert "content: |" in text  # a readable block, not an escaped string
    assert "März" in text  # not \xE4-escaped


def test_one_timestamp_in_two_fields_is_written_twice_not_aliased():
    stamp = dt.datetime(2024, 3, 20, 10, 0, tzinfo=UTC)
    text = dumps(sample(added=stamp, modified=stamp))
    assert "&id" not in text and "*id" not in text
    assert "added: 2024-03-20 10:00:00+00:00" in text
    assert "modified: 2024-03-20 10:00:00+00:00" in text


def test_unknown_keys_survive():
    data = yaml.safe_load(dumps(sample()))
    data["x_custom"] = {"a": 1}
    doc = loads(yaml.safe_dump(data), "t.yml")
    assert yaml.safe_load(dumps(doc))["x_custom"] == {"a": 1}


def test_lenient_where_people_type():
    data = yaml.safe_load(dumps(sample()))
    data["tags"] = "a, b ,a"
    data["created"] = "2023-01-02"
    data["correspondent"] = ""
    doc = loads(yaml.safe_dump(data), "t.yml")
    assert doc.tags == ("a", "b")
    assert doc.created == dt.date(2023, 1, 2)
    assert doc.correspondent is None


@pytest.mark.parametrize("key, value, message", [
    ("title", "", "title: must not be empty"),
    ("id", "seven", "id: expected a positive"),
    ("created", "15.03.2024", "created: expected a date"),
    ("asn", -1, "asn: expected a whole number"),
    ("tags", {"a": 1}, "tags: expected a list"),
    ("schema_version", 99, "schema_version"),
    ("permissions", {"view": {"people": []}}, "permissions.view"),
])
def test_invalid_edits_are_explained(key, value, message):
    data = yaml.safe_load(dumps(sample()))
    data[key] = value
    with pytest.raises(SidecarError) as info:
        loads(yaml.safe_dump(data), "archive/x.yml")
    assert message in str(info.value)
    assert "archive/x.yml" in str(info.value)


def test_broken_yaml_names_line():
    with pytest.raises(SidecarError, match=r"x.yml: line \d+, column \d+: not valid YAML"):
        loads("id: 1\ntags: [a\n", "x.yml")
