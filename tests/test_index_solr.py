"""The Solr backend against a real Solr: the shared contract on standalone Solr and on
SolrCloud, plus what is Solr's own: the update journal, the mirrored index the
daemon uses (outages, a node going down), ``paperfs solr init/status``, bad
configuration, and the consumer end to end.

The servers (tests/solr_server.py) start once per session; every test that
changes the set of documents works in a core/collection of its own.
"""

from __future__ import annotations

import json
import random
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from paperfs.cli import cli
from paperfs.config import load_config
from paperfs.errors import UsageError
from paperfs.index.base import IndexEntry
from paperfs.index.factory import index_status, journal_dir, open_index
from paperfs.index.journal import Journal
from paperfs.index.mirrored import MirroredIndex
from paperfs.index.model import LOCAL_ADMIN, User
from paperfs.index.solr import (SCHEMA_NAME, SolrAdmin, SolrIndex, SolrIndexError,
                                SolrSetupError, SolrUnavailableError)
from paperfs.index.solr_query import compile_query, escape_term, quoted
from paperfs.archive.layout import DataRoot
from paperfs.archive.reindex import rebuild_into
from paperfs.search.parser import parse
from paperfs.search.syntax_error import QuerySyntaxError
from tests.index_contract import (NOW, SIGNATURE_QUERIES, Corpus,
                                  IndexContract, _hand, build_corpus, search_signature)
from tests.solr_server import (SolrServer, TcpProxy, configset, free_port,  # noqa: F401
                               solr_base, solr_cloud, solr_standalone)

MODES = ["standalone", "cloud"]


def solr_index(server: SolrServer, collection: str | None = None, **kw: object) -> SolrIndex:
    kw.setdefault("timeout", 15.0)
    kw.setdefault("commit_within_ms", None)  # visible when upsert returns (the contract)
    if server.mode == "cloud":
        return SolrIndex(zk_hosts=server.zk_hosts, collection=collection or server.collection,
                         **kw)  # type: ignore[arg-type]
    return SolrIndex(url=server.url, collection=collection or server.collection,
                     **kw)  # type: ignore[arg-type]


def new_collection(server: SolrServer, name: str | None = None, **kw: object) -> SolrIndex:
    """A new empty core/collection made with ``SolrAdmin.init`` (what ``solr init`` does)."""
    name = name or f"t_{uuid.uuid4().hex[:8]}"
    index = solr_index(server, name, check_schema=False, **kw)
    result = SolrAdmin(index).init(configset(), shards=1,
                                   replicas=2 if server.mode == "cloud" else 1)
    assert result["action"] == "created" and result["schema"] == SCHEMA_NAME
    return index


def server_for(request: pytest.FixtureRequest, mode: str) -> SolrServer:
    return request.getfixturevalue(f"solr_{mode}")


# ---------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def contract_tree(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("solr-contract") / "data"
    return build_corpus(root)


@pytest.fixture(scope="module", params=MODES)
def solr_corpus(request: pytest.FixtureRequest, contract_tree: Corpus) -> Iterator[Corpus]:
    server = server_for(request, request.param)
    index = solr_index(server)
    index.clear()
    with index.rebuilding() as target:  # the bulk path: batches, one commit at the end
        report = rebuild_into(target, DataRoot(contract_tree.root))
    assert report.problems == [] and report.indexed == len(contract_tree.docs)
    # the same documents, paths and oracle (extra) for both modes
    yield Corpus(root=contract_tree.root, docs=contract_tree.docs, paths=contract_tree.paths,
                 index=index, extra=contract_tree.extra)
    index.close()


class TestSolrContract(IndexContract):
    @pytest.fixture
    def corpus(self, solr_corpus: Corpus) -> Corpus:
        return solr_corpus


def test_random_hostile_queries_never_reach_solr_as_syntax(solr_corpus: Corpus) -> None:
    rng = random.Random(11)
    index = solr_corpus.index
    parts = list('"\'*^:(){}[]-+?\\%_;,/!~&| \x00\t') + [
        "NEAR", "AND", "OR", "NOT", "TO", "title:", "tag:", "{!lucene}", "{!func}", "*:*",
        "_query_:", "é", "ß", "日本", "quokka", "zebra", "&&", "||", "^=0", "~2", " "]
    tried = 0
    for _ in range(300):
        query = "".join(rng.choice(parts) for _ in range(rng.randint(1, 10)))
        try:
            index.search(query, user=LOCAL_ADMIN, limit=3, now=NOW)
            index.facets(query, user=User("mallory"), now=NOW)
            tried += 1
        except QuerySyntaxError:
            pass
        except SolrIndexError as exc:  # pragma: no cover - the failure we guard against
            pytest.fail(f"{query!r} reached Solr as syntax: {exc}")
    assert tried > 50


def test_same_results_after_a_rebuild(solr_corpus: Corpus) -> None:
    index = solr_corpus.index
    # Lucene scores count replaced and deleted documents until their segments merge
    # (other contract tests replaced some): compare with a clean state.
    index.commit(expunge_deletes=True)
    before = search_signature(index, SIGNATURE_QUERIES)
    with index.rebuilding() as target:
        rebuild_into(target, DataRoot(solr_corpus.root), workers=0)
    assert search_signature(index, SIGNATURE_QUERIES) == before
    assert index.count() == len(solr_corpus.docs)


# ---------------------------------------------------------------- the compiler (no Solr)


def test_user_text_is_always_quoted_or_escaped() -> None:
    assert quoted('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert escape_term("a-b:c*d?") == "a\\-b\\:c\\*d\\?"
    assert escape_term("a-b*c?", wildcards=True) == "a\\-b*c?"
    assert escape_term("x\x00y") == "xy"
    sq = compile_query(parse('title:"{!func}x" tag:"a:b" owner:b* produ*nam? -"x)"'))
    assert sq.q.startswith('+(title:"{!func}x") +(')  # inside quotes: text, not syntax
    assert "{!" not in sq.q.replace('"{!func}x"', "")
    assert 'tags_fold_lc:"a:b"' in sq.fq and "owner_fold_lc:b*" in sq.fq
    assert compile_query(parse('"*:*"')).never  # no word in it: matches nothing


def test_compiler_puts_filters_into_fq_and_words_into_q() -> None:
    sq = compile_query(parse("invoice tag:paid created:2020 -draft", now=NOW))
    assert sq.ranked and "invoice" in sq.q and "paid" not in sq.q
    assert any(f.startswith("tags_fold_lc:") for f in sq.fq)
    assert any(f.startswith("created:[2020-01-01T00:00:00Z TO 2021-01-01T00:00:00Z}")
               for f in sq.fq)
    assert sq.hl_q == '(content:"invoice")'
    only = compile_query(parse("tag:paid"))
    assert only.q == "*:*" and not only.ranked and only.hl_q is None
    mixed = compile_query(parse("invoice OR tag:paid"))
    assert mixed.ranked and '(tags_fold_lc:"paid")^=0' in mixed.q
    assert compile_query(parse('"..." invoice')).never
    long = compile_query(parse(" OR ".join(f"w{i}" for i in range(400))))
    assert long.q.count("text:") == 400 and "title:" not in long.q


# ---------------------------------------------------------------- the journal (no Solr)


def _adds(*ids: int) -> list[tuple[str, object]]:
    return [("add", {"id": str(i), "title": f"doc {i}"}) for i in ids]


def test_journal_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    j = Journal(folder)
    assert j.append(_adds(1, 2)) == 2
    assert j.append([("delete", 1), ("clear", None)]) == 4
    assert [(r.seq, r.op) for r in j.pending()] == [(1, "add"), (2, "add"), (3, "delete"),
                                                     (4, "clear")]
    j.ack(2)
    assert j.backlog() == 2
    j.close()
    again = Journal(folder)
    assert [r.as_op() for r in again.pending()] == [("delete", 1), ("clear", None)]
    assert Journal(folder, readonly=True).backlog() == 2
    again.ack(4)
    assert again.backlog() == 0
    assert again.append(_adds(5)) == 5  # numbering goes on, never reused
    again.close()


def test_journal_drops_a_torn_tail_and_refuses_damage(tmp_path: Path) -> None:
    from paperfs.errors import DataRootError

    folder = tmp_path / "journal"
    j = Journal(folder)
    j.append(_adds(1, 2, 3))
    j.close()
    [segment] = sorted(folder.glob("*.log"))
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # a crash in the middle of the last append
    j = Journal(folder)
    assert [r.seq for r in j.pending()] == [1, 2]
    assert j.append(_adds(4)) == 3  # the torn record was never acknowledged: no gap
    j.close()
    lines = segment.read_bytes().split(b"\n")
    lines[0] = lines[0][:20] + b"X" + lines[0][21:]
    segment.write_bytes(b"\n".join(lines))
    with pytest.raises(DataRootError, match="paperfs reindex"):
        Journal(folder)


def test_journal_segments_rotate_and_go_once_applied(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    j = Journal(folder, segment_bytes=400)
    for i in range(1, 41):
        j.append(_adds(i))
    segments = sorted(folder.glob("*.log"))
    assert len(segments) > 3
    j.ack(20)
    assert len(sorted(folder.glob("*.log"))) < len(segments)
    assert [r.seq for r in j.pending(5)] == [21, 22, 23, 24, 25]
    j.ack(40)
    j.append(_adds(41))
    j.ack(41)
    assert j.backlog() == 0 and len(list(folder.glob("*.log"))) <= 1
    j.close()
    assert Journal(folder).last_seq == 41


def test_back_on_sqlite_the_solr_journal_is_dropped(tmp_path: Path) -> None:
    from tests.helpers import init_root

    root = init_root(tmp_path)
    journal = Journal(journal_dir(root))
    journal.append(_adds(1))
    journal.close()
    config = _config(root)
    assert config.index.backend == "sqlite"
    open_index(config, root, readonly=True).close()
    assert journal_dir(root).exists()  # readers change nothing
    index = open_index(config, root)
    index.close()
    assert not journal_dir(root).exists()
    assert index_status(config, root) == {"backend": "sqlite"}


# ---------------------------------------------------------------- Solr's own behaviour


def _entries(*ids: int, word: str = "numbat") -> list[IndexEntry]:
    return [IndexEntry(doc=_hand(i, f"Doc {i} {word}", f"{word} number{i}"), path=f"p/{i}",
                       mtime_ns=i, size=i) for i in ids]


@pytest.mark.parametrize("mode", MODES)
def test_rebuild_sends_everything_and_drops_the_rest(request: pytest.FixtureRequest,
                                                     mode: str) -> None:
    index = new_collection(server_for(request, mode))
    try:
        index.upsert(_entries(1, 2, 3, 4, 5))
        with pytest.raises(RuntimeError):
            with index.rebuilding() as target:
                target.upsert(_entries(1, 2))
                raise RuntimeError("interrupted")
        # an interrupted rebuild removes nothing (what it sent is the tree's state anyway)
        assert index.count() == 5
        with index.rebuilding() as target:
            target.upsert(_entries(2, 3, word="bilby"))
        assert index.count() == 2
        assert index.search("bilby", user=LOCAL_ADMIN).ids() == [2, 3]
        assert index.search("numbat", user=LOCAL_ADMIN).total == 0
    finally:
        index.close()


@pytest.mark.parametrize("mode", MODES)
def test_live_updates_use_commit_within(request: pytest.FixtureRequest, mode: str) -> None:
    server = server_for(request, mode)
    index = new_collection(server, commit_within_ms=300)
    try:
        started = time.monotonic()
        index.upsert(_entries(7, word="potoroo"))
        assert index.ref(7) is not None  # real-time get: at once
        while index.search("potoroo", user=LOCAL_ADMIN).total == 0:
            assert time.monotonic() - started < 2.0, "not visible within 2 s"
            time.sleep(0.05)
    finally:
        index.close()


# ---------------------------------------------------------------- bad configuration


@pytest.mark.parametrize("mode", MODES)
def test_listing_pages_by_created_and_id_with_a_cursor(request: pytest.FixtureRequest,
                                                       mode: str) -> None:
    import datetime as dt

    index = new_collection(server_for(request, mode))
    try:
        days = {1: dt.date(2024, 3, 1), 2: dt.date(2023, 1, 1), 3: dt.date(2024, 3, 1),
                4: dt.date(2022, 5, 5), 5: dt.date(2023, 1, 1)}
        index.upsert([IndexEntry(doc=_hand(i, f"Doc {i}", "potoroo", created=day,
                                           owner="bob" if i == 3 else None),
                                 path=f"p/{i}", mtime_ns=i, size=i) for i, day in days.items()])
        pages = list(index.listing_pages("potoroo", user=LOCAL_ADMIN, page=2))
        assert [[h.id for h in page] for page in pages] == [[4, 2], [5, 1], [3]]
        assert all(h.score == 0.0 and h.snippet == "" for page in pages for h in page)
        # the permission filter of a search
        assert [h.id for page in index.listing_pages("potoroo", user=User("alice"))
                for h in page] == [4, 2, 5, 1]
        assert list(index.listing_pages('"..."', user=LOCAL_ADMIN)) == []
    finally:
        index.close()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("mode", MODES)
def test_missing_collection_is_one_clear_error(request: pytest.FixtureRequest,
                                               mode: str) -> None:
    index = solr_index(server_for(request, mode), "no_such_collection")
    with pytest.raises(SolrSetupError) as err:
        index.search("x", user=LOCAL_ADMIN)
    text = _one_line(err.value)
    assert "no_such_collection" in text and "paperfs solr init" in text
    index.close()


def test_wrong_url_is_one_clear_error(solr_standalone: SolrServer) -> None:
    port = free_port()
    index = SolrIndex(url=f"http://127.0.0.1:{port}/solr", timeout=2)
    with pytest.raises(SolrUnavailableError) as err:
        index.search("x", user=LOCAL_ADMIN)
    text = _one_line(err.value)
    assert f"127.0.0.1:{port}" in text and "unreachable" in text
    base = solr_standalone.url.rsplit("/solr", 1)[0]  # forgot the /solr
    index = SolrIndex(url=base, timeout=2)
    with pytest.raises(SolrSetupError) as err:
        index.count()
    assert "ending in /solr" in _one_line(err.value)
    index = SolrIndex(zk_hosts=f"127.0.0.1:{port}/solr", timeout=2)
    with pytest.raises(SolrUnavailableError) as err:
        index.count()
    assert "ZooKeeper" in _one_line(err.value)
    with pytest.raises(SolrSetupError, match="index.url"):
        SolrIndex()


def _old_configset(tmp_path: Path) -> Path:
    old = tmp_path / "paperfs-old"
    shutil.copytree(configset(), old)
    schema = old / "conf" / "schema.xml"
    schema.write_text(schema.read_text("utf-8").replace('name="paperfs-1"', 'name="paperfs-0"'),
                      "utf-8")
    return old


def test_schema_too_old_standalone_then_solr_init_fixes_it(
        solr_standalone: SolrServer, tmp_path: Path) -> None:
    import requests

    old = _old_configset(tmp_path)
    shutil.copytree(old, solr_standalone.home / "configsets" / "paperfs_old")
    name = f"old_{uuid.uuid4().hex[:6]}"
    requests.get(f"{solr_standalone.url}/admin/cores", params={
        "action": "CREATE", "name": name, "configSet": "paperfs_old"}, timeout=60
    ).raise_for_status()
    index = solr_index(solr_standalone, name)
    with pytest.raises(SolrSetupError) as err:
        index.search("x", user=LOCAL_ADMIN)
    assert "schema too old, run paperfs solr init" in _one_line(err.value)
    index.close()
    root = _cli_root(tmp_path, url=solr_standalone.url, collection=name)
    result = CliRunner().invoke(cli, ["--root", str(root), "solr", "init", "--solr-home",
                                      str(solr_standalone.home), "--configset",
                                      str(configset())])
    assert result.exit_code == 0, result.output
    assert "reloaded" in result.output and SCHEMA_NAME in result.output
    index = solr_index(solr_standalone, name)
    assert index.count() == 0
    index.close()


def test_schema_too_old_cloud_then_solr_init_fixes_it(solr_cloud: SolrServer,
                                                      tmp_path: Path) -> None:
    from kazoo.client import KazooClient

    from paperfs.index.solr_admin import upload_conf

    old = _old_configset(tmp_path)
    zk = KazooClient(hosts=solr_cloud.zk_hosts)
    zk.start(timeout=10)
    try:
        upload_conf(zk, old / "conf", "/configs/paperfs_old")
    finally:
        zk.stop()
        zk.close()
    name = f"old_{uuid.uuid4().hex[:6]}"
    import requests
    requests.get(f"{solr_cloud.url}/admin/collections", params={
        "action": "CREATE", "name": name, "collection.configName": "paperfs_old",
        "numShards": 1, "replicationFactor": 1, "waitForFinalState": "true"}, timeout=120
    ).raise_for_status()
    index = solr_index(solr_cloud, name)
    with pytest.raises(SolrSetupError) as err:
        index.search("x", user=LOCAL_ADMIN)
    assert "schema too old, run paperfs solr init" in _one_line(err.value)
    index.close()
    root = _cli_root(tmp_path, zk_hosts=solr_cloud.zk_hosts, collection=name)
    result = CliRunner().invoke(cli, ["--root", str(root), "solr", "init", "--json",
                                      "--configset", str(configset())])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["action"] == "reloaded" and info["configset"] == "paperfs_old"
    assert info["schema"] == SCHEMA_NAME
    result = CliRunner().invoke(cli, ["--root", str(root), "solr", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["schema"] == SCHEMA_NAME


# ---------------------------------------------------------------- paperfs solr init / status


def _cli_root(tmp_path: Path, **index: object) -> Path:
    root = tmp_path / f"root-{uuid.uuid4().hex[:6]}"
    DataRoot(root).create()
    lines = ["data_root: .", "index:", "  backend: solr"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in index.items()]
    (root / "paperfs.yml").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("mode", MODES)
def test_solr_init_creates_then_updates(request: pytest.FixtureRequest, mode: str,
                                        tmp_path: Path) -> None:
    server = server_for(request, mode)
    name = f"tenant_{uuid.uuid4().hex[:6]}"
    where = ({"zk_hosts": server.zk_hosts} if mode == "cloud" else {"url": server.url})
    root = _cli_root(tmp_path, collection=name, **where)
    runner = CliRunner()
    args = ["--root", str(root), "solr", "init", "--configset", str(configset())]
    if mode == "cloud":
        args += ["--shards", "2", "--replicas", "1"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "created" in first.output and "paperfs reindex" in first.output
    second = runner.invoke(cli, ["--root", str(root), "solr", "init", "--configset",
                                 str(configset())])
    assert second.exit_code == 0 and "reloaded" in second.output, second.output
    status = runner.invoke(cli, ["--root", str(root), "solr", "status"])
    assert status.exit_code == 0, status.output
    assert "reachable, schema paperfs-1, 0 documents" in status.output
    assert "backlog:    0" in status.output


def test_solr_status_says_what_is_wrong(tmp_path: Path) -> None:
    root = _cli_root(tmp_path, url=f"http://127.0.0.1:{free_port()}/solr",
                     timeout_seconds=2)
    result = CliRunner().invoke(cli, ["--root", str(root), "solr", "status"])
    assert result.exit_code == 1
    assert "NOT usable" in result.output and "unreachable" in result.output
    bare = tmp_path / "bare"
    DataRoot(bare).create()
    (bare / "paperfs.yml").write_text("data_root: .\n")
    result = CliRunner().invoke(cli, ["--root", str(bare), "solr", "status"])
    assert result.exit_code == UsageError.exit_code and "index.url" in result.output


def test_status_shows_the_solr_backlog(tmp_path: Path) -> None:
    """``paperfs status`` (no network): where the index is and how many updates wait."""
    root = _cli_root(tmp_path, url=f"http://127.0.0.1:{free_port()}/solr",
                     collection="tenant_x", fallback=True)
    journal = Journal(journal_dir(DataRoot(root)))
    journal.append(_adds(1, 2) + [("delete", 3)])
    journal.close()
    result = CliRunner().invoke(cli, ["--root", str(root), "status"])
    assert result.exit_code == 0, result.output
    assert "index:       Solr core 'tenant_x' at http://127.0.0.1:" in result.output
    assert "(fallback: embedded index)" in result.output
    assert "backlog:     3 index update(s) waiting to be sent to Solr" in result.output
    data = json.loads(CliRunner().invoke(cli, ["--root", str(root), "status", "--json"]).output)
    assert data["index"]["backlog"] == 3 and data["index"]["backend"] == "solr"


# ---------------------------------------------------------------- the daemon's index: end to end


def _config(root: DataRoot, **env: str):  # type: ignore[no-untyped-def]
    return load_config(root.root / "paperfs.yml",
                       environ={f"PAPERFS_{k.upper()}": v for k, v in env.items()})


def _solr_root(tmp_path: Path, server: SolrServer, collection: str, *, url: str | None = None,
               fallback: bool = False, timeout: float = 3.0) -> DataRoot:
    from tests.helpers import init_root

    where = (f"  zk_hosts: {server.zk_hosts}\n" if server.mode == "cloud" and url is None
             else f"  url: {url or server.url}\n")
    return init_root(tmp_path, extra=(
        "index:\n  backend: solr\n" + where + f"  collection: {collection}\n"
        f"  timeout_seconds: {timeout}\n  commit_within_ms: 200\n"
        f"  fallback: {'true' if fallback else 'false'}\n"))


def _pdfs(tmp_path: Path, n: int, word: str) -> list[Path]:
    from tests.samples import make_text_pdf

    folder = tmp_path / f"in-{word}"
    folder.mkdir()
    return [make_text_pdf(folder / f"{word}_{i}.pdf",
                          [f"{word} letter number {i}", f"Date: {i + 1:02d}.03.2023",
                           f"unique{word}{i}"]) for i in range(n)]


def _consume(config, files, on_result=None):  # type: ignore[no-untyped-def]
    from paperfs.daemon.consumer import Consumer

    consumer = Consumer(config, serial=True, on_result=on_result)
    consumer.open()
    try:
        consumer.claim_files(files)
        results = consumer.consume_now()
        return consumer, results
    except BaseException:
        consumer.close()
        raise


def _solr_state(server: SolrServer, collection: str, word: str) -> list[int]:
    index = solr_index(server, collection)
    try:
        index.commit()
        return index.search(word, user=LOCAL_ADMIN, limit=1000).ids()
    finally:
        index.close()


@pytest.mark.parametrize("mode", MODES)
def test_consumer_files_into_solr_end_to_end(request: pytest.FixtureRequest, mode: str,
                                             tmp_path: Path) -> None:
    server = server_for(request, mode)
    collection = new_collection(server)
    collection.close()
    root = _solr_root(tmp_path, server, collection.collection)
    config = _config(root)
    files = _pdfs(tmp_path, 4, "wombat")
    consumer, results = _consume(config, files)
    try:
        assert all(r.error is None for r in results), [r.error for r in results]
        filed = sorted(r.doc.id for r in results)
        index = consumer.index
        assert isinstance(index, MirroredIndex)
        started = time.monotonic()
        # SolrCloud replicas open their searchers independently: wait until both
        # queries are answered in full, whichever replica serves them.
        while True:
            total = index.search("wombat", user=LOCAL_ADMIN).total
            hits = index.search("uniquewombat2", user=LOCAL_ADMIN).hits
            facets = index.facets("wombat", user=LOCAL_ADMIN).total
            if total == 4 and hits and facets == 4:
                break
            assert time.monotonic() - started < 2.0, "filed documents not searchable in 2 s"
            time.sleep(0.05)
        assert "\x02uniquewombat2\x03" in hits[0].snippet
        duplicate = consumer.claim_files([files[0]])
        assert duplicate == 1
        again = consumer.consume_now()[-1]
        assert again.error is not None and again.error.reason == "duplicate"
    finally:
        consumer.close()
    assert index_status(config, root)["backlog"] == 0
    ids = _solr_state(server, collection.collection, "wombat")
    assert sorted(ids) == filed
    reader = open_index(config, root, readonly=True)
    try:
        assert reader.search("wombat", user=LOCAL_ADMIN).total == 4
        with pytest.raises(UsageError):
            reader.upsert(_entries(999))
    finally:
        reader.close()


def test_outage_standalone_nothing_lost_nothing_twice(
        solr_standalone: SolrServer, tmp_path: Path) -> None:
    collection = new_collection(solr_standalone)
    collection.close()
    host, port = solr_standalone.url.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(host, int(port))
    try:
        root = _solr_root(tmp_path, solr_standalone, collection.collection,
                          url=proxy.url_for(solr_standalone.url), timeout=2)
        config = _config(root)
        files = _pdfs(tmp_path, 6, "dingo")
        filed: list[int] = []

        def on_result(result) -> None:  # type: ignore[no-untyped-def]
            filed.append(result.doc.id)
            if len(filed) == 2:
                proxy.cut()  # Solr goes away in the middle of the batch

        consumer, results = _consume(config, files, on_result)
        try:
            assert all(r.error is None for r in results) and len(filed) == 6
            index = consumer.index
            assert index.backlog() > 0
            with pytest.raises(SolrUnavailableError) as err:
                index.search("dingo", user=LOCAL_ADMIN)
            assert "index.fallback" in _one_line(err.value)
        finally:
            consumer.close()  # the daemon stops while Solr is still down
        assert index_status(config, root)["backlog"] > 0, "the backlog waits on disk"
        # with fallback, searches are answered by the embedded index meanwhile
        fallback = open_index(_config(root, index__fallback="true"), root, readonly=True)
        try:
            assert fallback.search("dingo", user=LOCAL_ADMIN).total == 6
        finally:
            fallback.close()
        proxy.restore()
        writer = open_index(config, root)  # the daemon starts again
        try:
            assert isinstance(writer, MirroredIndex)
            assert writer.flush(timeout=30), "backlog not sent after Solr came back"
            assert writer.backlog() == 0
        finally:
            writer.close()
    finally:
        proxy.close()
    ids = _solr_state(solr_standalone, collection.collection, "dingo")
    assert len(ids) == len(set(ids)) == 6 and set(ids) == set(filed)
    assert not list(journal_dir(root).glob("*.log")) or index_status(config, root)[
        "backlog"] == 0


def test_outage_cloud_all_nodes_down_then_back(solr_cloud: SolrServer, tmp_path: Path) -> None:
    collection = new_collection(solr_cloud)
    collection.close()
    root = _solr_root(tmp_path, solr_cloud, collection.collection, timeout=2)
    config = _config(root)
    files = _pdfs(tmp_path, 5, "quoll")
    filed: list[int] = []

    def on_result(result) -> None:  # type: ignore[no-untyped-def]
        filed.append(result.doc.id)
        if len(filed) == 2:
            solr_cloud.command("stop-node 0")
            solr_cloud.command("stop-node 1")

    try:
        consumer, results = _consume(config, files, on_result)
        try:
            assert all(r.error is None for r in results)
            assert consumer.index.backlog() > 0
            with pytest.raises(SolrUnavailableError):
                consumer.index.search("quoll", user=LOCAL_ADMIN)
        finally:
            solr_cloud.command("start-node 0")
            solr_cloud.command("start-node 1")
        wait_all_active(solr_cloud, collection.collection)
        assert consumer.index.flush(timeout=60), "backlog not sent after the nodes came back"
        consumer.close()
    finally:
        running = solr_cloud.command("status")["running"]
        for n, up in enumerate(running):
            if not up:
                solr_cloud.command(f"start-node {n}")
    assert index_status(config, root)["backlog"] == 0
    ids = _solr_state(solr_cloud, collection.collection, "quoll")
    assert len(ids) == len(set(ids)) == 5 and set(ids) == set(filed)


def wait_all_active(server: SolrServer, collection: str, timeout: float = 60.0) -> None:
    """Every replica of ``collection`` active (a restarted node recovers first; the
    launcher's start-node waits for its own collection only)."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        state = requests.get(f"{server.url}/admin/collections", params={
            "action": "CLUSTERSTATUS", "collection": collection, "wt": "json"}, timeout=10
        ).json()["cluster"]["collections"][collection]
        replicas = [r for shard in state["shards"].values()
                    for r in shard["replicas"].values()]
        if all(r["state"] == "active" for r in replicas):
            return
        assert time.monotonic() < deadline, f"replicas not active: {replicas}"
        time.sleep(0.2)


def test_one_cloud_node_down_searches_and_updates_go_on(solr_cloud: SolrServer) -> None:
    index = new_collection(solr_cloud)  # 1 shard x 2 replicas, one on each node
    try:
        index.upsert(_entries(1, 2, word="bettong"))
        solr_cloud.command("stop-node 1")
        try:
            assert index.search("bettong", user=LOCAL_ADMIN).ids() == [1, 2]
            index.upsert(_entries(3, word="bettong"))
            index.delete([1])
            assert index.search("bettong", user=LOCAL_ADMIN).ids() == [2, 3]
        finally:
            solr_cloud.command("start-node 1")
        assert index.search("bettong", user=LOCAL_ADMIN).ids() == [2, 3]
        # the restarted replica catches up from the leader; then the other node may go
        wait_all_active(solr_cloud, index.collection)
        solr_cloud.command("stop-node 0")
        try:
            assert index.search("bettong", user=LOCAL_ADMIN).ids() == [2, 3]
            index.upsert(_entries(4, word="bettong"))
            assert index.search("bettong", user=LOCAL_ADMIN).ids() == [2, 3, 4]
        finally:
            solr_cloud.command("start-node 0")
        wait_all_active(solr_cloud, index.collection)
    finally:
        index.close()


def test_cloud_ranks_with_the_collections_term_statistics(solr_cloud: SolrServer) -> None:
    """Two equal documents on two shards score alike (the configset's ExactStatsCache),
    although their word is common on one shard and rare on the other; with each
    shard's own statistics the document on the "rare" shard would win."""
    index = solr_index(solr_cloud, f"t_{uuid.uuid4().hex[:8]}", check_schema=False)
    SolrAdmin(index).init(configset(), shards=2, replicas=1)
    try:
        index.upsert(_entries(*range(1, 41), word="filler"))
        placed = index._select({"q": "*:*", "rows": 100, "fl": "doc_id,[shard]",
                                "sort": "doc_id asc"})["response"]["docs"]
        shard_of = {int(d["doc_id"]): d["[shard]"] for d in placed}
        first, second = sorted(set(shard_of.values()), key=lambda s: min(
            i for i, v in shard_of.items() if v == s))
        a = min(i for i, s in shard_of.items() if s == first)
        b = min(i for i, s in shard_of.items() if s == second)
        assert a < b
        same = "Kowari sighting", "a kowari was seen near the creek"
        entries = [IndexEntry(doc=_hand(i, *same), path=f"p/{i}", mtime_ns=i, size=i)
                   for i in (a, b)]
        # the word is common on a's shard, and only in b on b's shard
        entries += [IndexEntry(doc=_hand(i, f"Doc {i}", f"kowari filler number{i}"),
                               path=f"p/{i}", mtime_ns=i, size=i)
                    for i, s in shard_of.items() if s == first and i != a]
        index.upsert(entries)
        hits = {h.id: h for h in index.search("kowari", user=LOCAL_ADMIN, limit=100).hits}
        assert hits[a].score == pytest.approx(hits[b].score, rel=1e-6)
        ranked = [i for i in index.search("kowari", user=LOCAL_ADMIN, limit=100).ids()
                  if i in (a, b)]
        assert ranked == [a, b]  # equal scores: by id
        # still so after a commit opened new searchers on both shards (the result
        # cache is not autowarmed: that would re-run the query with each shard's own
        # statistics and keep those scores)
        index.upsert(entries[2:3]  # a filler on a's shard, and one on b's
                     + _entries(max(i for i, s in shard_of.items() if s == second),
                                word="filler"))
        hits = {h.id: h for h in index.search("kowari", user=LOCAL_ADMIN, limit=100).hits}
        assert hits[a].score == pytest.approx(hits[b].score, rel=1e-6)
        # the same query with each shard's own statistics ranks b first (the fq only
        # keeps the shards' result caches, filled with the scores above, out of it)
        sq = compile_query(parse("kowari"))
        local = index._select({"q": sq.q, "fq": "doc_id:[0 TO *]", "rows": 100,
                               "fl": "doc_id,score", "sort": "score desc,doc_id asc",
                               "distrib.statsCache": "false"})["response"]["docs"]
        scores = {int(d["doc_id"]): float(d["score"]) for d in local}
        assert scores[b] > scores[a] * 1.05
    finally:
        index.close()


@pytest.mark.parametrize("mode", MODES)
def test_reindex_into_solr_through_the_mirror(request: pytest.FixtureRequest, mode: str,
                                              tmp_path: Path) -> None:
    from benchmarks.gen_archive import Spec, generate

    server = server_for(request, mode)
    collection = new_collection(server)
    collection.close()
    root = _solr_root(tmp_path, server, collection.collection)
    generate(root.root, Spec(count=300, seed=5))
    config = _config(root)
    index = open_index(config, root)
    try:
        assert isinstance(index, MirroredIndex)
        index.upsert(_entries(10**6, word="stale"))  # journaled, superseded by the rebuild
        with index.rebuilding() as target:
            report = rebuild_into(target, root)
        assert report.indexed == 300
        assert index.backlog() == 0
        assert index.count() == 300  # the catalog
        assert index.remote.count() == 300
        assert index.search("stale", user=LOCAL_ADMIN).total == 0
        with index.rebuilding() as target:  # again: the catalog is in step now
            rebuild_into(target, root)
        assert target.written == 0 and index.remote.count() == 300  # type: ignore[attr-defined]
        for query in ("invoice", "tag:paid created:[2018 to 2020]", "*", "produ*"):
            solr = index.search(query, user=LOCAL_ADMIN, sort="id", limit=1000)
            embedded = index.catalog.search(query, user=LOCAL_ADMIN, sort="id", limit=1000)
            assert solr.total == embedded.total and solr.ids() == embedded.ids(), query
    finally:
        index.close()


@pytest.mark.parametrize("mode", MODES)
def test_cli_reindex_search_status_with_solr(request: pytest.FixtureRequest, mode: str,
                                             tmp_path: Path) -> None:
    """Moving an archive to Solr as docs/deployment.md says: solr init, reindex, search.

    Needs paperfs/archive/reindex.py, cli_index.py (search) and status.py to open the index
    with ``paperfs.index.factory.open_index``."""
    from benchmarks.gen_archive import Spec, generate

    server = server_for(request, mode)
    name = f"move_{uuid.uuid4().hex[:6]}"
    where = ({"zk_hosts": server.zk_hosts} if mode == "cloud" else {"url": server.url})
    root = _cli_root(tmp_path, collection=name, **where)
    generate(root, Spec(count=120, seed=3))
    runner = CliRunner()
    base = ["--root", str(root)]
    init = runner.invoke(cli, base + ["solr", "init", "--configset", str(configset())])
    assert init.exit_code == 0, init.output
    reindex = runner.invoke(cli, base + ["reindex"])
    assert reindex.exit_code == 0, reindex.output
    remote = solr_index(server, name)
    try:
        assert remote.count() == 120, "paperfs reindex did not send the archive to Solr"
    finally:
        remote.close()
    found = runner.invoke(cli, base + ["search", "--json", "--limit", "1000", "*"])
    assert found.exit_code == 0, found.output
    assert len(json.loads(found.output)["hits"]) == 120
    status = runner.invoke(cli, base + ["status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["index"]["backlog"] == 0
    solr_status = runner.invoke(cli, base + ["solr", "status"])
    assert solr_status.exit_code == 0 and "120 documents" in solr_status.output, \
        solr_status.output


# ---------------------------------------------------------------- WebDAV with Solr: end to end


def _eventually(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.05)


def test_webdav_virtual_folders_list_from_solr(solr_standalone: SolrServer,
                                                tmp_path: Path) -> None:
    """With index.backend: solr, folder listings are Solr's answer (a change made in
    Solr alone shows, the catalog's differing state does not); one name resolves
    through the catalog at once; Solr down: 503 with one line, or with
    index.fallback the catalog's listing."""
    import datetime as dt

    from paperfs.dav.server import DavServer
    from tests.dav_support import Dav, add_doc, running

    collection = new_collection(solr_standalone)
    collection.close()
    host, port = solr_standalone.url.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(host, int(port))
    extra = ("index:\n  backend: solr\n"
             f"  url: {proxy.url_for(solr_standalone.url)}\n"
             f"  collection: {collection.collection}\n"
             "  timeout_seconds: 2\n  commit_within_ms: 200\n")
    kowari, bilby, quoll = ("2023-01-05 Kowari invoice.pdf", "2023-02-06 Bilby receipt.pdf",
                            "2023-03-07 Quoll letter.pdf")

    def docs(archive) -> None:  # type: ignore[no-untyped-def]
        add_doc(archive, 1, "Kowari invoice", dt.date(2023, 1, 5), tags=("paid",))
        add_doc(archive, 2, "Bilby receipt", dt.date(2023, 2, 6), tags=("paid",))
        add_doc(archive, 3, "Quoll letter", dt.date(2023, 3, 7))
        assert archive.index.flush(timeout=30)

    direct = solr_index(solr_standalone, collection.collection)  # Solr itself, no proxy
    try:
        with running(tmp_path, docs, extra=extra) as dav:
            writer = dav.archive.index
            assert isinstance(writer, MirroredIndex)
            _eventually(lambda: direct.count() == 3)  # commitWithin
            assert dav.names("/tags/paid/") == [kowari, bilby]
            assert "paid" in dav.names("/tags/")

            # Solr alone changes: quoll tagged, bilby gone. Every kind of folder lists
            # what Solr says; the catalog still has the files' truth.
            ref = writer.ref(3)
            assert ref is not None
            direct.upsert([IndexEntry(doc=dav.sidecar(3).replace(tags=("paid",)),
                                      path=ref.path, mtime_ns=ref.mtime_ns, size=ref.size)])
            direct.delete([2])
            assert dav.names("/tags/paid/") == [kowari, quoll]
            assert dav.names("/search/tag:paid/") == [kowari, quoll]
            assert dav.request("MKCOL", "/saved/tag:paid").status == 201
            assert dav.names("/saved/tag:paid/") == [kowari, quoll]
            assert dav.names("/years/2023/") == [kowari, quoll]
            assert writer.catalog.search("tag:paid", user=LOCAL_ADMIN, sort="id").ids() == [1, 2]
            # a name resolves through the catalog (exact, immediate), listed or not
            assert dav.propfind(f"/years/2023/{bilby}", depth="0").status == 207
            assert dav.request("GET", f"/tags/paid/{quoll}").status == 404
            assert dav.request("GET", f"/tags/paid/{bilby}").status == 200

            # read your writes: a moved document is found under its new path at once;
            # the listing shows it after Solr's commit (commit_within_ms)
            assert dav.request("MKCOL", "/tags/kept").status == 201
            assert dav.move(f"/tags/paid/{kowari}", f"/tags/kept/{kowari}").status in (201, 204)
            assert dav.propfind(f"/tags/kept/{kowari}", depth="0").status == 207
            _eventually(lambda: dav.names("/tags/kept/") == [kowari], 5.0)
            _eventually(lambda: dav.names("/tags/paid/") == [quoll], 5.0)

            # Solr down: one clear line with 503, no stack trace, no empty listing
            proxy.cut()
            for path in ("/tags/paid/", "/tags/", "/saved/tag:paid/", "/years/"):
                r = dav.propfind(path)
                assert r.status == 503, (path, r.status, r.body[:300])
                text = r.body.decode()
                assert "unreachable" in text and "index.fallback" in text, text
                assert "Traceback" not in text
                assert r.headers.get("retry-after") == "30"
            assert dav.request("GET", "/tags/paid/").status == 503  # the browser's listing
            assert dav.request("GET", "/by-id/2.pdf").status == 200  # single documents work

            # index.fallback: true: the same folders from the catalog meanwhile
            fallback_config = load_config(dav.root.root / "paperfs.yml",
                                          environ={"PAPERFS_INDEX__FALLBACK": "true"})
            fallback = DavServer(fallback_config, None, port=free_port())
            fallback.start()
            try:
                other = Dav(dav.root, fallback_config, fallback)
                assert other.names("/tags/paid/") == [bilby]  # the catalog's answer
                assert other.names("/tags/kept/") == [kowari]
                assert "paid" in other.names("/tags/")
            finally:
                fallback.stop()

            proxy.restore()
            assert dav.names("/tags/paid/") == [quoll]  # from Solr again
    finally:
        direct.close()
        proxy.close()
