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
