"""`paperfs classify --explain ID|FILE`: every rule that fired, every prediction with its
probability, what was applied and why, and the problems."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperfs.archive.layout import DataRoot
from paperfs.classify.learned import Example, save_model, train
from paperfs.cli import cli
from paperfs.runtime import Runtime
from tests.dav_support import add_doc, tiny_pdf
from tests.helpers import config_for, init_root
from tests.samples import make_scan, make_text_pdf

LABELS = """\
tags:
  Finance: {match: invoice}
  Taxes: {parent: Finance, match: '"tax return"'}
  New: {inbox: true}
correspondents:
  ACME GmbH: {match: ACME GmbH, algorithm: exact}
  ACME Holding: {match: ACME, priority: 1}
document_types:
  Invoice: {match: 'Invoice\\s+No\\.?\\s*\\d+', algorithm: regex}
  slow: {algorithm: regex, match: '(a|aa)+$'}
"""


def make_root(tmp_path: Path, labels: str = LABELS, extra: str = "") -> DataRoot:
    root = init_root(tmp_path, "classify:\n  regex_timeout_seconds: 0.05\n" + extra)
    (root.root / "labels.yml").write_text(labels)
    return root


def explain(root: DataRoot, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--root", str(root.root), "classify", "--explain", *args])


def test_a_filed_document_by_id(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    runtime = Runtime(config_for(root))
    archive = runtime.open_archive()
    try:
        add_doc(archive, 7, "Bill", dt.date(2024, 3, 1), correspondent="Someone",
                content="ACME GmbH\nInvoice No. 42\nyour tax return")
    finally:
        runtime.close_archive(archive)
    out = explain(root, "7")
    assert out.exit_code == 0, out.output
    text = out.output
    assert "document 7: Bill (archive/Someone/" in text
    assert "now: correspondent Someone, type -, tags -" in text
    # both correspondents fired; the one it has stays, and why the others are not applied
    assert ("correspondent 'ACME Holding': rule any 'ACME': not applied (the document "
            "already has one)") in text
    assert "correspondent 'ACME GmbH': rule exact 'ACME GmbH': not applied" in text
    assert "document type 'Invoice': rule regex" in text and ": applied" in text
    assert "tag 'Taxes': rule any '\"tax return\"': applied" in text
    assert "tag 'Finance': rule any 'invoice': applied" in text
    assert "correspondent: Someone" in text and "document type: Invoice" in text

    # as if it were new: the priority decides between the two correspondents
    data = json.loads(explain(root, "7", "--as-new", "--json").output)
    assert data["result"] == {"correspondent": "ACME Holding", "document_type": "Invoice",
                              "tags": ["Finance", "Taxes", "New"]}
    gmbh = next(r for r in data["reasons"] if r["name"] == "ACME GmbH")
    assert gmbh["source"] == "rule" and gmbh["applied"] is False
    assert "'ACME Holding' comes first" in gmbh["why"]
    assert data["problems"] == [] and data["document"]["id"] == 7


def test_files_text_and_born_digital_pdf(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    letter = tmp_path / "letter.txt"
    letter.write_text("ACME GmbH\nInvoice No. 4711\n")
    pdf = make_text_pdf(tmp_path / "letter.pdf", ["ACME GmbH", "Invoice No. 4711"])
    for path, kind in ((letter, "text/plain"), (pdf, "application/pdf")):
        out = explain(root, str(path))
        assert out.exit_code == 0, out.output
        assert f"file {path}: {kind}, 1 page(s)" in out.output
        assert "correspondent: ACME Holding" in out.output
        assert "tag 'New': inbox tag of every new document: applied" in out.output
    assert list(root.archive.iterdir()) == [], "explaining files nothing"


def test_a_scan_without_text_says_it_needs_ocr(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(tiny_pdf(1))  # a page without text
    data = json.loads(explain(root, str(scan), "--json").output)
    assert data["notes"] == ["no text: a scan or an image needs OCR (run again with --ocr)"]
    assert data["result"]["correspondent"] is None and data["characters"] == 0


def test_a_regex_that_times_out_is_a_problem(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    slow = tmp_path / "slow.txt"
    slow.write_text("a" * 3000 + "!\n")
    out = explain(root, str(slow))
    assert out.exit_code == 0, out.output
    assert "problem: label 'slow': regex '(a|aa)+$': timed out after 0.05 s" in out.output


def test_an_invalid_labels_file_is_named(tmp_path: Path) -> None:
    root = make_root(tmp_path, "tags:\n  A: {algorithm: regex, match: '(x'}\n")
    letter = tmp_path / "letter.txt"
    letter.write_text("x\n")
    out = explain(root, str(letter))
    assert out.exit_code == 2
    assert "labels.yml: line 2: tag 'A': match is not a valid regular expression" in out.output
    out = explain(root, "nothing-here.pdf")
    assert out.exit_code == 2  # the labels file is checked first


def test_missing_targets(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    Runtime(config_for(root)).open_catalog(readonly=False).close()
    assert explain(root, "99").exit_code == 3
    out = explain(root, str(tmp_path / "nope.pdf"))
    assert out.exit_code == 3 and "neither a document id nor a file" in out.output


def test_predictions_are_shown_with_their_probability(tmp_path: Path) -> None:
    labels = ("correspondents:\n  Power Co: {algorithm: auto}\n  Water Works: {algorithm: auto}\n"
              "document_types:\n  Bill: {match: bill}\n")
    root = make_root(tmp_path, labels)
    rng = random.Random(4)
    words = {"Power Co": "electricity kilowatt meter grid tariff volt",
             "Water Works": "water cubic metres pipe sewage hydrant"}
    examples = [Example(f"{' '.join(rng.choices(words[c].split(), k=30))} bill {i}", c, None, ())
                for i in range(40) for c in words]
    examples += [Example(f"holiday postcard beach sun sea {i}", None, None, ()) for i in range(20)]
    model = train(examples, {"correspondents": frozenset(words)})
    save_model(model, root.classifier_model)
    letter = tmp_path / "letter.txt"
    letter.write_text("your electricity bill: kilowatt tariff and meter reading\n")
    data = json.loads(explain(root, str(letter), "--json").output)
    assert data["model"].startswith("trained")
    power = [r for r in data["reasons"] if r["name"] == "Power Co"]
    assert power and power[0]["source"] == "prediction" and power[0]["applied"] is True
    probability = float(power[0]["detail"].removeprefix("p="))
    assert 0.7 <= probability <= 1.0
    assert data["result"]["correspondent"] == "Power Co"
    assert "correspondent 'Power Co': prediction p=" in explain(root, str(letter)).output
    # an unknown sender: shown, below the threshold, not applied
    postcard = tmp_path / "postcard.txt"
    postcard.write_text("greetings from the mountains, snow and skiing\n")
    data = json.loads(explain(root, str(postcard), "--json").output)
    assert data["result"]["correspondent"] is None
    predictions = [r for r in data["reasons"] if r["source"] == "prediction"]
    assert {r["name"] for r in predictions} == {"Power Co", "Water Works"}
    assert all(not r["applied"] and "below the threshold 0.7" in r["why"] for r in predictions)


@pytest.mark.slow
def test_a_scan_with_ocr(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    scan = make_scan(tmp_path / "scan.png", ["ACME GmbH", "Invoice No. 4711"])
    out = explain(root, str(scan))
    assert "needs OCR (run again with --ocr)" in out.output and "correspondent: -" in out.output
    out = explain(root, str(scan), "--ocr")
    assert out.exit_code == 0, out.output
    assert ", OCRed" in out.output
    assert "correspondent: ACME Holding" in out.output
    assert "document type: Invoice" in out.output
