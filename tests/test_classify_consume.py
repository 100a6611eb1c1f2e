"""Classification while consuming: labels.yml applied by the pipeline's classify stage."""

from __future__ import annotations

import os
import time

from paperfs.daemon.consumer import Consumer
from tests.daemon import Daemon
from tests.helpers import archive_state, config_for, init_root
from tests.samples import make_text_pdf

LABELS = """\
tags:
  Finance: {match: invoice}
  Taxes: {parent: Finance, match: '"tax return"'}
  C++: {match: C++}
  New: {inbox: true}
correspondents:
  ACME GmbH: {match: ACME GmbH, algorithm: exact}
  Power Co: {match: kilowatt, algorithm: any}
document_types:
  Invoice: {match: 'Invoice\\s+No\\.?\\s*\\d+', algorithm: regex}
  Letter: {match: 'dear', priority: -1}
"""


def test_documents_are_filed_with_their_labels(tmp_path) -> None:
    root = init_root(tmp_path)
    (root.root / "labels.yml").write_text(LABELS)
    inputs = [
        make_text_pdf(tmp_path / "a.pdf", ["ACME GmbH", "Invoice No. 4711", "your tax return"]),
        make_text_pdf(tmp_path / "b.pdf", ["Dear customer,", "you used 300 kilowatt hours.",
                                           "Our C++ library is attached."]),
        make_text_pdf(tmp_path / "c.pdf", ["A letter from nobody we know"]),
    ]
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    try:
        consumer.claim_files(inputs)
        consumer.consume_now()
    finally:
        consumer.close()
    docs = {doc.original.filename: doc for doc in archive_state(root).values()}
    a, b, c = docs["a.pdf"], docs["b.pdf"], docs["c.pdf"]
    assert (a.correspondent, a.document_type) == ("ACME GmbH", "Invoice")
    assert a.tags == ("Finance", "Taxes", "New")  # Taxes implies Finance; New is the inbox tag
    assert (b.correspondent, b.document_type, b.tags) == ("Power Co", "Letter", ("C++", "New"))
    assert (c.correspondent, c.document_type, c.tags) == (None, None, ("New",))
    # the default path template files by correspondent
    assert (root.archive / "ACME GmbH").is_dir() and (root.archive / "Power Co").is_dir()


def test_the_daemon_follows_labels_yml_and_reports_an_invalid_one(tmp_path) -> None:
    root = init_root(tmp_path)
    labels = root.root / "labels.yml"
    labels.write_text("tags:\n  first: {match: alpha}\n")
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        make_text_pdf(root.inbox / "one.pdf", ["alpha beta"])
        daemon.wait_for(lambda: daemon.status().get("filed_since_start") == 1, 60, "one filed")

        labels.write_text("tags:\n  second: {match: beta}\n")
        make_text_pdf(root.inbox / "two.pdf", ["alpha beta"])
        daemon.wait_for(lambda: daemon.status().get("filed_since_start") == 2, 60, "two filed")

        labels.write_text("tags:\n  broken: {algorithm: regex, match: '(unclosed'}\n")
        os.utime(labels, ns=(time.time_ns(), time.time_ns()))
        make_text_pdf(root.inbox / "three.pdf", ["alpha beta"])
        daemon.wait_for(lambda: daemon.status().get("filed_since_start") == 3, 60, "three filed")
        [problem] = daemon.status()["labels_problems"]
        assert "labels.yml: line 2: tag 'broken': match is not a valid regular expression" in problem
    finally:
        daemon.stop()
    tags = {doc.original.filename: doc.tags for doc in archive_state(root).values()}
    # the invalid file changed nothing: the last valid one stayed in force
    assert tags == {"one.pdf": ("first",), "two.pdf": ("second",), "three.pdf": ("second",)}


def test_a_regex_that_times_out_is_reported_in_status(tmp_path) -> None:
    root = init_root(tmp_path, "classify:\n  regex_timeout_seconds: 0.05\n")
    (root.root / "labels.yml").write_text(
        "tags:\n  slow: {algorithm: regex, match: '(a|aa)+$'}\n  fine: {match: zebra}\n")
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        make_text_pdf(root.inbox / "long.pdf", ["zebra", "a" * 3000 + "!"])
        daemon.wait_for(lambda: daemon.status().get("filed_since_start") == 1, 60, "filed")
        [problem] = daemon.status()["classify_problems"]
        assert problem.startswith("long.pdf: label 'slow': regex '(a|aa)+$': timed out after 0.05 s")
    finally:
        daemon.stop()
    [doc] = archive_state(root).values()
    assert doc.tags == ("fine",)
