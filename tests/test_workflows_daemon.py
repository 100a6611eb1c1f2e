"""Workflows end to end on the real daemon: each trigger and each action, the
webhook against a real HTTP server (500 twice, then 200), the e-mail against a
real SMTP server (aiosmtpd), a script, and a scheduled workflow across a restart."""

from __future__ import annotations

import email
import json
import time
from pathlib import Path

import pytest

from paperfs.archive.document import read_sidecar
from paperfs.errors import PaperfsError
from tests.daemon import Daemon
from tests.helpers import archive_state, drop, init_root
from tests.samples import make_text_pdf
from tests.workflow_servers import MailServer, WebhookServer

pytestmark = pytest.mark.slow


def _daemon(tmp_path: Path, mail_port: int = 25) -> Daemon:
    root = init_root(tmp_path, extra=(
        f"smtp:\n  host: 127.0.0.1\n  port: {mail_port}\n  sender: paperfs@example.org\n"
        "classify:\n  workflow_check_seconds: 0.3\n"))
    return Daemon(root, tmp_path / "daemon.log")


def _runs(daemon: Daemon) -> list[dict]:
    path = daemon.root.state / "workflow-runs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _only_doc(daemon: Daemon):
    docs = archive_state(daemon.root)
    assert len(docs) == 1, docs
    return next(iter(docs.values()))


def _tags_now(daemon: Daemon) -> tuple[str, ...]:
    """The document's tags while the daemon may be writing (no consistency check)."""
    try:
        return read_sidecar(_sidecar(daemon)).tags
    except (OSError, ValueError, PaperfsError):
        return ()


def _sidecar(daemon: Daemon) -> Path:
    (sidecar,) = daemon.root.archive.rglob("*.yml")
    return sidecar


def test_consumption_added_and_updated_with_every_action(tmp_path):
    script = tmp_path / "hook.sh"
    script.write_text("#!/bin/sh\nenv | grep -E '^(DOCUMENT|PAPERFS)_' > \"$PAPERFS_DATA_ROOT/../script-env.txt\"\n"
                      "echo script ran\n")
    script.chmod(0o755)
    with WebhookServer(fail_first=2) as hooks, MailServer() as mail:
        daemon = _daemon(tmp_path, mail.port)
        (daemon.root.root / "workflows.yml").write_text(f"""
From the scanner:
  triggers: [consumption_started]
  filters: {{source: inbox, path: "scanner/*", filename: "*.pdf"}}
  actions:
    - owner: alice
    - tags: [scanned]
    - document_type: Letter
Invoices:
  triggers: [document_added]
  filters:
    content: {{algorithm: all, match: "invoice ACME"}}
    tags: {{any: [scanned]}}
  actions:
    - correspondent: ACME
    - title: "{{{{ correspondent }}}} invoice {{{{ created }}}}"
    - custom_fields: {{amount: 120}}
    - permissions: {{view: {{users: [bob]}}}}
    - webhook:
        url: {hooks.url}/added
        json: {{id: "{{{{ id }}}}", title: "{{{{ title }}}}", tags: "{{{{ tags|join(',') }}}}"}}
        retries: 3
    - email: {{to: [bookkeeping@example.org], subject: "New: {{{{ title }}}}", body: "Owner {{{{ owner }}}}", attach: true}}
    - script: {{path: {script}, timeout: 20}}
Big amounts:
  triggers: [document_updated]
  filters:
    correspondent: [ACME]
    custom_fields: [{{field: amount, op: ">=", value: 100}}]
  actions:
    - tags: [checked]
    - remove: {{tags: [scanned]}}
""")
        daemon.start()
        try:
            make_text_pdf(tmp_path / "inv.pdf", ["Invoice from ACME Ltd", "Total 120 EUR"])
            drop(tmp_path / "inv.pdf", daemon.root.inbox / "scanner")
            daemon.wait_settled()
            daemon.wait_for(lambda: any(r["outcome"] == "script done" for r in _runs(daemon))
                            and len(mail.messages) == 1 and len(hooks.requests) == 3, 30,
                            "the webhook, the e-mail and the script")
            doc = _only_doc(daemon)
            # consumption_started: its assignments were filed with the document
            assert doc.owner == "alice" and doc.document_type == "Letter"
            # document_added: assignments in order, the title from its template
            assert doc.correspondent == "ACME"
            assert doc.title == f"ACME invoice {doc.created.isoformat()}"
            assert doc.tags == ("scanned",)
            assert doc.custom_fields == {"amount": 120}
            assert doc.permissions.view.users == ("bob",)
            # the webhook: two 500s, then 200 (retried), with the document as it was then
            assert [r["path"] for r in hooks.requests] == ["/added"] * 3
            body = hooks.json_bodies("/added")[-1]
            assert body == {"id": str(doc.id), "title": doc.title, "tags": "scanned"}
            # the e-mail, with the archived PDF attached
            (recipients, raw), = mail.messages
            assert recipients == ["bookkeeping@example.org"]
            message = email.message_from_bytes(raw)
            assert message["Subject"] == f"New: {doc.title}"
            parts = {part.get_content_type(): part for part in message.walk()}
            assert parts["application/pdf"].get_payload(decode=True) == \
                _sidecar(daemon).with_suffix(".pdf").read_bytes()
            # the script, with the document in its environment
            env = dict(line.split("=", 1) for line in
                       (tmp_path / "script-env.txt").read_text().splitlines())
            assert env["DOCUMENT_ID"] == str(doc.id)
            assert env["DOCUMENT_CORRESPONDENT"] == "ACME"
            assert Path(env["DOCUMENT_ARCHIVE_PATH"]) == _sidecar(daemon).with_suffix(".pdf")
            assert Path(env["DOCUMENT_SOURCE_PATH"]).read_bytes() == (tmp_path / "inv.pdf").read_bytes()
            assert env["PAPERFS_TRIGGER"] == "document_added"
            # document_added's own changes did not trigger document_updated
            assert "checked" not in doc.tags
            assert not [r for r in _runs(daemon) if r["trigger"] == "document_updated"]

            # document_updated: a hand edit of the sidecar; the workflow runs once
            sidecar = _sidecar(daemon)
            sidecar.write_text(sidecar.read_text().replace("amount: 120", "amount: 150"))
            daemon.wait_for(lambda: "checked" in _tags_now(daemon), 30, "document_updated")
            time.sleep(1.5)
            updated = [r for r in _runs(daemon) if r["trigger"] == "document_updated"]
            assert len(updated) == 1, updated
            assert _only_doc(daemon).custom_fields == {"amount": 150}
            assert _only_doc(daemon).tags == ("checked",)  # the remove action
        finally:
            assert daemon.stop() == 0


def test_scheduled_workflow_runs_once_across_a_restart_and_trash(tmp_path):
    with WebhookServer() as hooks:
        daemon = _daemon(tmp_path)
        (daemon.root.root / "workflows.yml").write_text(f"""
Reminder:
  triggers:
    - scheduled: {{from: added, offset: 0d}}
  filters: {{filename: "keep*"}}
  actions:
    - tags: [reminded]
    - webhook: {{url: {hooks.url}/scheduled}}
Throw away:
  triggers: [document_added]
  filters: {{filename: "junk*"}}
  actions:
    - trash
""")
        daemon.start()
        try:
            make_text_pdf(tmp_path / "keep.pdf", ["A contract to keep"])
            make_text_pdf(tmp_path / "junk.pdf", ["Advertising"])
            drop(tmp_path / "keep.pdf", daemon.root.inbox)
            drop(tmp_path / "junk.pdf", daemon.root.inbox)
            daemon.wait_settled()
            daemon.wait_for(lambda: len(hooks.requests) == 1, 30, "the scheduled run")
            doc = _only_doc(daemon)  # junk went to the trash
            assert doc.original.filename == "keep.pdf"
            assert doc.tags == ("reminded",)
            assert "Reminder" in doc.extra["workflow_runs"]
            assert list((daemon.root.trash).glob("*/*.pdf")), "the junk document is in the trash"
        finally:
            assert daemon.stop() == 0
        daemon.start()
        try:
            time.sleep(3)  # ten scheduled passes
        finally:
            assert daemon.stop() == 0
        assert len(hooks.requests) == 1, hooks.requests
        scheduled = [r for r in _runs(daemon) if r["trigger"] == "scheduled"
                     and r["outcome"] == "done"]
        assert len(scheduled) == 1, scheduled
