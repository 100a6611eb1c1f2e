"""paperfs workflow check|list|runs, and an invalid workflows.yml in status and check."""

from __future__ import annotations

from click.testing import CliRunner

from paperfs.cli import cli
from paperfs.workflows.runs import RunLog
from tests.helpers import init_root

VALID = """\
Tag invoices:
  triggers:
    - document_added
    - scheduled: {from: created, offset: 30d, recurring: 90d}
  actions: [{tags: [invoice]}, {webhook: {url: "http://127.0.0.1:9/x"}}]
"""
INVALID = "Tag invoices:\n  triggers: [document_added]\n  actions:\n    - tagz: [x]\n"


def run(root, *args):
    return CliRunner().invoke(cli, ["--root", str(root.root), *args], catch_exceptions=False)


def test_check_valid_and_invalid(tmp_path):
    root = init_root(tmp_path)
    (root.root / "workflows.yml").write_text(VALID)
    out = run(root, "workflow", "check")
    assert out.exit_code == 0 and "1 workflow(s), valid" in out.output
    (root.root / "workflows.yml").write_text(INVALID)
    out = run(root, "workflow", "check")
    assert out.exit_code == 2
    assert "workflows.yml: line 4: workflow 'Tag invoices': unknown action 'tagz'" in out.output


def test_list_and_runs(tmp_path):
    root = init_root(tmp_path)
    (root.root / "workflows.yml").write_text(VALID)
    out = run(root, "workflow", "list")
    assert "Tag invoices" in out.output
    assert "document_added; scheduled +30d from created, every 90d" in out.output
    assert "does:    tags, webhook" in out.output and "never run" in out.output
    log = RunLog(root.workflow_log)
    log.record("Tag invoices", "document_added", 3, "done")
    log.record("Tag invoices", "document_added", 3, "webhook failed", "HTTP 500 (4 tries)")
    out = run(root, "workflow", "list")
    assert "(document_added, document 3): webhook failed" in out.output
    out = run(root, "workflow", "runs", "Tag invoices")
    lines = out.output.splitlines()
    assert len(lines) == 2 and lines[1].endswith("webhook failed (HTTP 500 (4 tries))")
    assert run(root, "workflow", "runs", "Other").output.strip() == "no runs recorded"


def test_status_and_check_report_an_invalid_file(tmp_path):
    root = init_root(tmp_path)
    out = run(root, "status")
    assert "workflows:   0" in out.output
    (root.root / "workflows.yml").write_text(INVALID)
    out = run(root, "status")
    assert "workflows:   " in out.output and "unknown action 'tagz'" in out.output
    out = run(root, "check", "--quick")
    assert out.exit_code == 1
    assert "error: " in out.output and "unknown action 'tagz'" in out.output


def test_one_shot_consume_and_edit_without_a_daemon_run_workflows(tmp_path):
    from paperfs.archive.document import read_sidecar
    from tests.samples import make_text_pdf

    root = init_root(tmp_path)
    (root.root / "workflows.yml").write_text(
        "From the command line:\n  triggers: [document_added]\n  filters: {source: cli}\n"
        "  actions: [{tags: [cli]}]\n"
        "ACME edits:\n  triggers: [document_updated]\n  filters: {correspondent: [ACME]}\n"
        "  actions: [{tags: [checked]}]\n")
    pdf = make_text_pdf(tmp_path / "letter.pdf", ["A letter"])
    out = run(root, "consume", str(pdf))
    assert out.exit_code == 0, out.output
    (sidecar,) = root.archive.rglob("*.yml")
    doc = read_sidecar(sidecar)
    assert doc.source["kind"] == "cli" and doc.tags == ("cli",)
    out = run(root, "edit", str(doc.id), "--correspondent", "ACME")
    assert out.exit_code == 0, out.output
    (sidecar,) = root.archive.rglob("*.yml")
    assert read_sidecar(sidecar).tags == ("cli", "checked")
    runs = [(e["workflow"], e["trigger"]) for e in RunLog(root.workflow_log).entries()]
    assert runs == [("From the command line", "document_added"), ("ACME edits", "document_updated")]


def test_check_names_each_invalid_user_file_with_its_line(tmp_path):
    root = init_root(tmp_path)
    (root.root / "labels.yml").write_text("tags:\n  a: {algorithm: nope}\n")
    (root.root / "fields.yml").write_text("amount: {type: money}\n")
    (root.root / "workflows.yml").write_text(INVALID)
    out = run(root, "check", "--quick")
    assert out.exit_code == 1
    lines = out.output.splitlines()
    assert any(l.startswith("error: labels.yml: ") and "line 2" in l for l in lines)
    assert any(l.startswith("error: fields.yml: ") and "line 1" in l for l in lines)
    assert any(l.startswith("error: workflows.yml: ") and "unknown action 'tagz'" in l
               for l in lines)
    status = run(root, "status").output
    assert "fields:      " in status and "fields.yml: line 1" in status
