"""Workflows with WebDAV in the daemon: an upload is a document from source webdav, and a
change over WebDAV triggers document_updated (once: a workflow's own change does not)."""

from __future__ import annotations

import json
import time

from tests.dav_support import daemon_serving
from tests.samples import make_text_pdf

WORKFLOWS = """\
Uploads:
  triggers: [document_added]
  filters: {source: webdav}
  actions: [{tags: [uploaded]}]
Not from the inbox folder:
  triggers: [document_added]
  filters: {source: inbox}
  actions: [{tags: [dropped]}]
Paid:
  triggers: [document_updated]
  filters: {tags: {any: [paid]}}
  actions: [{tags: [filed-as-paid]}]
"""


def _wait(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_upload_source_and_an_edit_over_webdav(tmp_path):
    def workflows(root) -> None:
        (root.root / "workflows.yml").write_text(WORKFLOWS)

    with daemon_serving(tmp_path, "  inbox_idle_seconds: 0.3\n",
                        prepare=workflows) as (daemon, dav):
        root = dav.root
        pdf = make_text_pdf(tmp_path / "scan.pdf", ["Quokka receipt", "Date: 15.03.2023"])
        assert dav.request("PUT", "/inbox/Quokka.pdf", body=pdf.read_bytes()).status == 201
        _wait(lambda: daemon.consumer.results, "the upload to be filed")
        [result] = daemon.consumer.results
        doc = dav.sidecar(result.doc.id)
        assert doc.source["kind"] == "webdav"
        assert doc.tags == ("uploaded",)
        name = dav.names("/search/quokka/")[0]
        assert dav.request("MKCOL", "/tags/paid").status == 201
        assert dav.move(f"/search/quokka/{name}", f"/tags/paid/{name}").status in (201, 204)
        _wait(lambda: "filed-as-paid" in dav.sidecar(result.doc.id).tags, "document_updated")
        assert dav.sidecar(result.doc.id).tags == ("uploaded", "paid", "filed-as-paid")
    runs = [json.loads(line) for line in root.workflow_log.read_text().splitlines()]
    assert [(r["workflow"], r["trigger"]) for r in runs] == [
        ("Uploads", "document_added"), ("Paid", "document_updated")]
