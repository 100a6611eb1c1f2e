"""Custom fields benchmark: what typed custom fields cost the embedded index.

    .venv/bin/python -m benchmarks fields [--docs 20000] [--searches 20]

Builds ``--docs`` documents (seeded) in memory, each with a short text and, for
most of them, three custom fields (a monetary amount, a due date, a boolean;
a document link on some), and indexes them in batches of 500 into a new
SQLite index (``SqliteIndex.upsert``: the ``document_fields`` rows beside the
rest), and then the same documents without custom fields into another one:
the time and the file size of both, and their ratio. Then the median time of
``--searches`` searches (first page of 25, newest first) for typed conditions
(``amount:>100``, ``due:[now to +30d]``, ``paid:true``, ``has:due``, and one
with a word) against the same condition as a tag (``tag:settled`` is on the
documents with ``paid: true``), the reference, and a condition on a column of
``documents`` (``asn:>N``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from paperfs.archive.document import ArchiveInfo, Document, OriginalInfo
from paperfs.index.base import IndexEntry
from paperfs.index.model import LOCAL_ADMIN
from paperfs.index.sqlite import SqliteIndex
from paperfs.search.parser import parse

TYPES = {"amount": "monetary", "due": "date", "paid": "boolean", "related": "document_link"}
WORDS = ["invoice", "receipt", "contract", "letter", "reminder", "insurance", "tax", "bank"]
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def make_docs(count: int, seed: int, args_words: int = 300) -> list[Document]:
    rng = random.Random(seed)
    sha = hashlib.sha256(b"bench").hexdigest()
    stamp = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    docs = []
    for n in range(1, count + 1):
        fields: dict = {}
        if rng.random() < 0.8:
            fields = {"amount": f"EUR{rng.randint(1, 50000) / 100:.2f}",
                      "due": dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 730)),
                      "paid": rng.random() < 0.5}
            if rng.random() < 0.2:
                fields["related"] = [rng.randint(1, count) for _ in range(rng.randint(1, 3))]
        docs.append(Document(
            id=n, title=f"{rng.choice(WORDS)} {n}", created=dt.date(2015 + n % 10, 1 + n % 12, 1),
            added=stamp, modified=stamp,
            original=OriginalInfo(f"{n}.pdf", "application/pdf", sha, f"originals/{n}.pdf"),
            archive=ArchiveInfo(sha, 1), asn=n, tags=("settled",) if fields.get("paid") else (),
            content=" ".join(rng.choices(WORDS, k=args_words)), custom_fields=fields))
    return docs


def index_all(path: Path, docs: list[Document]) -> float:
    index = SqliteIndex(path)
    start = time.perf_counter()
    for i in range(0, len(docs), 500):
        index.upsert([IndexEntry(doc=d, path=f"bench/{d.id}", mtime_ns=1, size=1)
                      for d in docs[i:i + 500]])
    seconds = time.perf_counter() - start
    index.close()
    return seconds


def median_ms(index: SqliteIndex, query: str, searches: int) -> tuple[float, int]:
    node = parse(query, now=NOW, custom=TYPES)
    times, total = [], 0
    for _ in range(searches):
        start = time.perf_counter()
        total = index.search(node, user=LOCAL_ADMIN, sort="-created", limit=25).total
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, total


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fields",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--searches", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)

    docs = make_docs(args.docs, args.seed)
    plain = [d.replace(custom_fields={}) for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        typed_db, plain_db = Path(tmp) / "typed.sqlite3", Path(tmp) / "plain.sqlite3"
        typed_s = index_all(typed_db, docs)
        plain_s = index_all(plain_db, plain)
        typed_mb = typed_db.stat().st_size / 2**20
        plain_mb = plain_db.stat().st_size / 2**20
        print(f"indexing {args.docs} documents (80 % with 3-4 custom fields), batches of 500:")
        print(f"  with custom fields    {typed_s:7.2f} s  {args.docs / typed_s:8.0f} docs/s  "
              f"{typed_mb:6.1f} MiB")
        print(f"  without (reference)   {plain_s:7.2f} s  {args.docs / plain_s:8.0f} docs/s  "
              f"{plain_mb:6.1f} MiB")
        print(f"  ratio                 {typed_s / plain_s:7.2f}x time, "
              f"{typed_mb / plain_mb:.2f}x size")
        index = SqliteIndex(typed_db, create=False)
        try:
            # the tag "settled" is on the documents whose paid is true: the same condition
            # through the built-in tag table
            ref_ms, ref_total = median_ms(index, "tag:settled", args.searches)
            asn_ms, asn_total = median_ms(index, f"asn:>{args.docs // 2}", args.searches)
            print(f"search, median of {args.searches}, first page of 25 newest first:")
            print(f"  {'tag:settled (reference)':28} {ref_ms:7.2f} ms  {ref_total:6d} matches")
            print(f"  {'asn:>N (a column)':28} {asn_ms:7.2f} ms  {asn_total:6d} matches")
            for query in ("amount:>100", "amount:[50 to 200]", "due:[now to +30d]",
                          "paid:true", "has:due", "-has:due", "invoice amount:>400"):
                ms, total = median_ms(index, query, args.searches)
                print(f"  {query:28} {ms:7.2f} ms  {total:6d} matches  "
                      f"{ms / ref_ms:5.2f}x reference")
        finally:
            index.close()
    return 0
