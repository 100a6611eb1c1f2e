"""The actions that reach outside, against real local servers: webhook (retries,
no retry on 4xx, timeouts), e-mail (aiosmtpd), script (environment, timeout, exit status)."""

from __future__ import annotations

import email
import time

import pytest

from paperfs.config import SmtpConfig
from paperfs.workflows.definitions import parse_workflows
from paperfs.workflows.mailer import EmailFailed, send_email
from paperfs.workflows.script import ScriptFailed, run_script, script_environment
from paperfs.workflows.webhook import WebhookFailed, send_webhook
from tests.test_workflows_filters import document
from tests.workflow_servers import MailServer, WebhookServer, free_port


def settings(action: str) -> dict:
    yml = f"W:\n  triggers: [document_added]\n  actions:\n    - {action}\n"
    return dict(parse_workflows(yml).workflows[0].actions[0].settings)


FIELDS = {"id": 7, "title": "Scan", "tags": ["a", "b"]}


def test_webhook_retries_a_failing_server():
    with WebhookServer(fail_first=2) as server:
        hook = settings(f"webhook: {{url: '{server.url}/x', retries: 3}}")
        outcome = send_webhook(hook, FIELDS, backoff=0.01)
    assert outcome == "HTTP 200 after 3 tries"
    assert len(server.requests) == 3
    assert server.json_bodies("/x")[-1] == FIELDS  # no body given: the document's fields


def test_webhook_gives_up_after_its_retries():
    with WebhookServer(fail_first=10) as server:
        hook = settings(f"webhook: {{url: '{server.url}/x', retries: 2}}")
        with pytest.raises(WebhookFailed, match=r"HTTP 500 .*\(3 tries\)"):
            send_webhook(hook, FIELDS, backoff=0.01)
    assert len(server.requests) == 3


def test_webhook_body_template_and_headers():
    with WebhookServer() as server:
        hook = settings(f"webhook: {{url: '{server.url}/t', body: 'doc {{{{ id }}}}: {{{{ title }}}}', "
                        "headers: {X-Token: secret}}")
        assert send_webhook(hook, FIELDS) == "HTTP 200"
    request, = server.requests
    assert request["body"] == "doc 7: Scan"
    assert request["headers"]["X-Token"] == "secret"
    assert request["headers"]["Content-Type"].startswith("text/plain")


def test_webhook_unreachable_and_timeouts_are_retried_then_fail():
    port = free_port()  # nothing listens there
    hook = settings(f"webhook: {{url: 'http://127.0.0.1:{port}/x', retries: 1, timeout: 0.5}}")
    pauses: list[float] = []
    with pytest.raises(WebhookFailed, match=r"\(2 tries\)"):
        send_webhook(hook, FIELDS, sleep=pauses.append, backoff=0.25)
    assert pauses == [0.25]


def test_webhook_client_errors_are_not_retried():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    hits = []

    class NotFound(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = settings(f"webhook: {{url: 'http://127.0.0.1:{server.server_address[1]}/x'}}")
        with pytest.raises(WebhookFailed, match="404.*not retried"):
            send_webhook(hook, FIELDS, backoff=0.01)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == ["/x"]


# ---------------------------------------------------------------- e-mail


def test_email_with_the_pdf_attached(tmp_path):
    pdf = tmp_path / "Scan.pdf"
    pdf.write_bytes(b"%PDF-1.4 test\n%%EOF\n")
    mail = settings("email: {to: [a@example.org, b@example.org], subject: 'New: {{ title }}', "
                    "body: 'Tags: {{ tags|join(\", \") }}', attach: true}")
    with MailServer() as server:
        smtp = SmtpConfig(host="127.0.0.1", port=server.port, sender="paperfs@example.org",
                          timeout_seconds=5)
        assert send_email(mail, FIELDS, smtp, pdf) == "sent to a@example.org, b@example.org"
    (recipients, raw), = server.messages
    assert recipients == ["a@example.org", "b@example.org"]
    message = email.message_from_bytes(raw)
    assert message["Subject"] == "New: Scan" and message["From"] == "paperfs@example.org"
    body, attachment = [p for p in message.walk() if not p.is_multipart()]
    assert body.get_payload(decode=True).decode().strip() == "Tags: a, b"
    assert attachment.get_filename() == "Scan.pdf"
    assert attachment.get_payload(decode=True) == pdf.read_bytes()


def test_email_without_a_server_says_what_to_set(tmp_path):
    mail = settings("email: {to: a@example.org, subject: x}")
    with pytest.raises(EmailFailed, match="smtp.host is not set"):
        send_email(mail, FIELDS, SmtpConfig(), None)
    refused = SmtpConfig(host="127.0.0.1", port=free_port(), timeout_seconds=2)
    with pytest.raises(EmailFailed, match="failed"):
        send_email(mail, FIELDS, refused, None)


# ---------------------------------------------------------------- script


def test_script_gets_the_document_in_its_environment(tmp_path):
    out = tmp_path / "env.txt"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\nenv | grep -E '^(DOCUMENT|PAPERFS)_' | sort > {out}\n")
    script.chmod(0o755)
    doc = document()
    env = script_environment(doc, "ACME/2025/Scan", tmp_path, "W", "document_added")
    assert run_script({"path": str(script), "timeout": 10}, env, tmp_path) == "hook.sh exited 0"
    seen = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert seen["DOCUMENT_ID"] == "7"
    assert seen["DOCUMENT_ARCHIVE_PATH"] == str(tmp_path / "archive/ACME/2025/Scan.pdf")
    assert seen["DOCUMENT_SOURCE_PATH"] == str(tmp_path / "originals/0000/0000007.pdf")
    assert seen["DOCUMENT_FILE_NAME"] == "Scan.pdf"
    assert seen["DOCUMENT_TAGS"] == "inbox,Paid"
    assert seen["DOCUMENT_CORRESPONDENT"] == "ACME"
    assert seen["DOCUMENT_CREATED"] == "2025-02-14"
    assert seen["PAPERFS_WORKFLOW"] == "W" and seen["PAPERFS_TRIGGER"] == "document_added"


@pytest.mark.parametrize("body, problem", [
    ("echo broken >&2\nexit 3\n", "exited with status 3: broken"),
    ("sleep 5\n", "did not finish within 0.5 s"),
])
def test_script_failures_are_reported(tmp_path, body, problem):
    script = tmp_path / "hook.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(ScriptFailed, match=problem):
        run_script({"path": "hook.sh", "timeout": 0.5}, {}, tmp_path)  # relative: to the data root
    assert time.monotonic() - started < 4


def test_script_that_is_not_executable(tmp_path):
    (tmp_path / "hook.sh").write_text("#!/bin/sh\n")
    with pytest.raises(ScriptFailed, match="not an executable file"):
        run_script({"path": "hook.sh", "timeout": 1}, {}, tmp_path)
