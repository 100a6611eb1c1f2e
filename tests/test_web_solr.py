"""The web page with the Solr backend (a real Solr: tests/solr_server.py): search with
highlighted snippets, facets, suggestions and more-like-this come from Solr, and a
second user sees nothing of the first's there either."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from tests.dav_support import running
from tests.solr_server import SolrServer, solr_base, solr_standalone  # noqa: F401 (fixtures)
from tests.test_index_solr import new_collection
from tests.web_support import Browser, two_users_docs


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.1)


def test_the_page_on_solr_shows_each_user_only_his_own(solr_standalone: SolrServer,  # noqa: F811
                                                        tmp_path: Path) -> None:
    from paperfs.index.mirrored import MirroredIndex

    collection = new_collection(solr_standalone)
    collection.close()
    extra = ("index:\n  backend: solr\n"
             f"  url: {solr_standalone.url}\n"
             f"  collection: {collection.collection}\n"
             "  timeout_seconds: 5\n  commit_within_ms: 200\n")

    def docs(archive) -> None:  # type: ignore[no-untyped-def]
        two_users_docs(archive)
        assert archive.index.flush(timeout=30)

    with running(tmp_path, docs, extra=extra) as dav:
        assert isinstance(dav.archive.index, MirroredIndex)
        alice, bob = Browser(dav.port), Browser(dav.port)
        assert alice.login("alice").status == 303 and bob.login("bob").status == 303
        _eventually(lambda: "4 documents" in alice.get("/").body.decode())  # commitWithin

        page = alice.get("/_/search?q=electricity").body.decode()
        assert "<mark>electricity</mark>" in page and "Invoice ACME March" in page
        assert 'href="/_/search?q=electricity%20tag%3Aunpaid"' in page  # a facet
        assert '"electricity"' in alice.get("/_/suggest?q=elec").body.decode()

        everything = bob.get("/").body.decode()
        assert "3 documents" in everything
        assert "Tax return" not in everything and "alicesecret" not in everything  # facets
        assert "0 documents" in bob.get("/_/search?q=alicesecretword").body.decode()
        assert bob.get("/_/suggest?q=alicesec").body == b"[]"
        assert bob.get("/_/suggest?q=tag:alice").body == b"[]"
        similar = bob.get("/_/doc/2").body.decode()  # more like this: not alice's March
        assert "Invoice ACME April" in similar and "Invoice ACME March" not in similar
        for url in ("/_/doc/1", "/_/pdf/1", "/_/thumb/1.webp"):
            assert bob.get(url).status == 404, url
