"""Generate a synthetic paperfs archive: sidecars + tiny PDFs, no OCR.

Used by the search benchmark (100,000 documents) and by the index contract
tests (a few thousand). Deterministic for a seed. Fast: sidecars are written
from a template (no YAML dumper), every PDF is a ~400-byte valid PDF unique to
its document (so checksums in the sidecars are real and ``paperfs check``
passes), text is drawn from a pool of pre-generated lines.

    python -m benchmarks.gen_archive DIR --count 100000

Realism: 50 correspondents and 12 document types with skewed (Zipf-like)
frequencies, 200 tags (0-5 per document), 10 years of created dates, 1-5 KB
of text per document made of words with a Zipf distribution (so some words
occur in most documents, most in few), plus per-document numbers and a rare
word or two.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from paperfs.archive.document import (ArchiveInfo, Document, Grants, OriginalInfo, Permissions)

#: how many different rare words documents draw from (two per document)
RARE_WORDS = 200_000

CORRESPONDENT_STEMS = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
    "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Gringotts", "Monarch", "Oceanic",
    "Nakatomi", "Massive Dynamic", "Aperture", "Black Mesa", "Pied Piper", "Dunder Mifflin",
    "Prestige", "Sterling Cooper", "Los Pollos", "Bluth", "Krusty", "Duff", "Sirius",
    "Virtucon", "Zorg", "Müller", "Schäfer", "Lüdenscheid", "Øresund", "Café Crème",
]
CORRESPONDENT_KINDS = ["Corp", "GmbH", "Bank", "Insurance", "Energy", "Telecom", "AG", "Ltd",
                       "Health", "Housing"]
TYPES = ["Invoice", "Receipt", "Contract", "Letter", "Statement", "Tax Assessment",
         "Insurance Policy", "Payslip", "Warranty", "Manual", "Certificate", "Reminder"]
TAG_WORDS = ["tax", "paid", "unpaid", "car", "house", "health", "insurance", "bank", "work",
             "school", "kids", "pension", "energy", "phone", "internet", "rent", "travel",
             "warranty", "büro", "important", "todo", "archive", "family", "garden",
             "pets", "legal", "medical", "utilities", "donation", "subscription"]
REAL_WORDS = """invoice total amount payment due date account number customer reference
period balance transfer contract insurance policy premium coverage tax return refund
statement interest rate fee charge service delivery order item quantity price net gross
vat discount subscription monthly annual renewal notice reminder overdue please pay within
days bank iban bic address street city postal code phone email website thank you for your
business regards sincerely dear sir madam kind information regarding attached document
copy original signed agreement terms conditions valid until cancel termination deadline
electricity gas water heating meter reading consumption estimate energy supplier tariff
salary employer employee gross net deduction social security health pension holiday
vehicle registration repair garage inspection warranty manual product serial model
certificate school report grade doctor appointment prescription hospital patient claim""".split()


def _syllable_words(rng: random.Random, n: int, min_syl: int, max_syl: int) -> list[str]:
    cons = "bcdfghjklmnprstvwz"
    vows = "aeiou"
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        word = "".join(rng.choice(cons) + rng.choice(vows)
                       for _ in range(rng.randint(min_syl, max_syl)))
        if rng.random() < 0.4:
            word += rng.choice(cons)
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def _zipf_weights(n: int, s: float = 1.0) -> list[float]:
    """Cumulative Zipf weights (for random.choices(cum_weights=...))."""
    return list(itertools.accumulate(1.0 / (i + 1) ** s for i in range(n)))


_CONS = "bcdfghjklmnprstvwz"
_VOWS = "aeiou"


def rare_word(i: int) -> str:
    """The i-th made-up rare word: at least four syllables, one per base-90 digit."""
    i += 90 ** 3  # four syllables or more
    out = []
    while i:
        i, digit = divmod(i, 90)
        out.append(_CONS[digit // 5] + _VOWS[digit % 5])
    return "".join(out) + "x"


def tiny_pdf(doc_id: int) -> bytes:
    """A valid one-page PDF (~400 bytes), unique per id."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    out = b"%PDF-1.4\n% paperfs synthetic document " + str(doc_id).encode() + b"\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


@dataclass(frozen=True)
class Spec:
    count: int
    seed: int = 42
    correspondents: int = 50
    tags: int = 200
    years: int = 10
    first_year: int = 2015
    min_bytes: int = 1000
    max_bytes: int = 5000
    #: owners to spread documents over (a third stays without owner); empty: no owners
    owners: tuple[str, ...] = ()
    #: groups granted view permission on some owned documents
    groups: tuple[str, ...] = ()
    #: first document id
    first_id: int = 1


@dataclass
class Generated:
    root: Path
    spec: Spec
    count: int
    seconds: float
    correspondents: list[str]
    tags: list[str]
    types: list[str]
    docs: list[Document] = field(default_factory=list)
    #: archive-relative path (no suffix) per id
    paths: dict[int, str] = field(default_factory=dict)


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML string


def _yaml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_yaml_str(v) for v in values) + "]"


def sidecar_text(doc: Document) -> str:
    """The sidecar as paperfs's reader reads it (schema v1), written by template."""
    p = doc.permissions
    content = doc.content
    block = "".join("  " + line + "\n" if line else "\n" for line in content.split("\n"))
    return (
        "# paperfs sidecar: edit the fields above 'content' by hand; paperfs applies valid"
        " edits.\n"
        f"schema_version: 1\nid: {doc.id}\ntitle: {_yaml_str(doc.title)}\n"
        f"created: {doc.created.isoformat()}\nadded: {doc.added.isoformat()}\n"
        f"modified: {doc.modified.isoformat()}\n"
        f"correspondent: {_yaml_str(doc.correspondent) if doc.correspondent else 'null'}\n"
        f"document_type: {_yaml_str(doc.document_type) if doc.document_type else 'null'}\n"
        f"tags: {_yaml_list(doc.tags)}\n"
        f"asn: {doc.asn if doc.asn is not None else 'null'}\n"
        f"owner: {_yaml_str(doc.owner) if doc.owner else 'null'}\n"
        "permissions:\n"
        f"  view:\n    users: {_yaml_list(p.view.users)}\n    groups: {_yaml_list(p.view.groups)}\n"
        f"  change:\n    users: {_yaml_list(p.change.users)}\n"
        f"    groups: {_yaml_list(p.change.groups)}\n"
        "custom_fields: {}\n"
        f"notes: {_yaml_list(tuple(note.text for note in doc.notes))}\n"
        f"language: {_yaml_str(doc.language) if doc.language else 'null'}\n"
        f"source: {{kind: generated, path: {_yaml_str(doc.source.get('path', ''))}}}\n"
        "original:\n"
        f"  filename: {_yaml_str(doc.original.filename)}\n"
        f"  mime_type: {doc.original.mime_type}\n"
        f"  sha256: {doc.original.sha256}\n  path: {_yaml_str(doc.original.path)}\n"
        "archive:\n"
        f"  sha256: {doc.archive.sha256}\n  pages: {doc.archive.pages}\n"
        f"  pdfa: false\n  ocr: false\n"
        + ("content: |-\n" + block if content else "content: ''\n")
    )


class Generator:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        rng = self.rng = random.Random(spec.seed)
        names = [f"{s} {k}" for s in CORRESPONDENT_STEMS for k in CORRESPONDENT_KINDS]
        rng.shuffle(names)
        self.correspondents = names[:spec.correspondents]
        tags = list(TAG_WORDS) + ["tax 2024", "Steuer 2023"]
        extra = _syllable_words(rng, spec.tags, 2, 3)
        tags += [w for w in extra if w not in tags]
        self.tags = tags[:spec.tags]
        self.types = TYPES
        vocab = REAL_WORDS + _syllable_words(rng, 20_000, 1, 4)
        # unique, shuffled once so real and made-up words mix in every frequency band
        vocab = list(dict.fromkeys(vocab))
        rng.shuffle(vocab)
        self.vocab = vocab
        weights = _zipf_weights(len(vocab), 1.05)
        self.lines = []
        for _ in range(6000):
            words = rng.choices(vocab, cum_weights=weights, k=rng.randint(7, 14))
            line = " ".join(words)
            self.lines.append(line[0].upper() + line[1:] + ".")
        self.corr_weights = _zipf_weights(len(self.correspondents), 0.8)
        self.tag_weights = _zipf_weights(len(self.tags), 0.9)
        self.type_weights = _zipf_weights(len(self.types), 0.7)

    def document(self, doc_id: int) -> tuple[Document, str, bytes]:
        rng, spec = self.rng, self.spec
        first = dt.date(spec.first_year, 1, 1)
        days = (dt.date(spec.first_year + spec.years, 1, 1) - first).days
        created = first + dt.timedelta(days=rng.randrange(days))
        added = dt.datetime.combine(created + dt.timedelta(days=rng.randint(0, 30)),
                                    dt.time(rng.randint(7, 20), rng.randint(0, 59)),
                                    tzinfo=dt.timezone.utc)
        correspondent = (rng.choices(self.correspondents, cum_weights=self.corr_weights)[0]
                         if rng.random() > 0.08 else None)
        doc_type = rng.choices(self.types, cum_weights=self.type_weights)[0] \
            if rng.random() > 0.05 else None
        ntags = rng.choices((0, 1, 2, 3, 4, 5), weights=(10, 30, 30, 15, 10, 5))[0]
        tags: list[str] = []
        while len(tags) < ntags:
            tag = rng.choices(self.tags, cum_weights=self.tag_weights)[0]
            if tag not in tags:
                tags.append(tag)
        rare = [rare_word(rng.randrange(RARE_WORDS)) for _ in range(2)]
        title_word = rng.choice(self.vocab[:3000])
        title = " ".join(x for x in (doc_type or "Document", correspondent or "",
                                     created.strftime("%B %Y"), title_word) if x)
        target = rng.randint(spec.min_bytes, spec.max_bytes)
        parts = [f"{correspondent or 'Private'}", f"{doc_type or 'Document'} {doc_id}",
                 f"Date {created.strftime('%d.%m.%Y')}",
                 f"Reference {rare[0]} number {rng.randint(10000, 99999)}"]
        size = sum(len(p) + 1 for p in parts)
        while size < target:
            line = rng.choice(self.lines)
            parts.append(line)
            size += len(line) + 1
        parts.append(f"Total {rng.randint(1, 5000)}.{rng.randint(0, 99):02d} EUR {rare[1]}")
        content = "\n".join(parts)
        owner = None
        view_users: tuple[str, ...] = ()
        view_groups: tuple[str, ...] = ()
        if spec.owners:
            slot = rng.randrange(len(spec.owners) + 1)
            if slot < len(spec.owners):
                owner = spec.owners[slot]
                if spec.groups and rng.random() < 0.3:
                    view_groups = (rng.choice(spec.groups),)
                elif rng.random() < 0.2:
                    others = [o for o in spec.owners if o != owner]
                    if others:
                        view_users = (rng.choice(others),)
        pdf = tiny_pdf(doc_id)
        sha = hashlib.sha256(pdf).hexdigest()
        original = f"originals/{doc_id // 1000:04d}/{doc_id:07d}.pdf"
        doc = Document(
            id=doc_id, title=title, created=created, added=added, modified=added,
            original=OriginalInfo(filename=f"scan_{doc_id}.pdf", mime_type="application/pdf",
                                  sha256=sha, path=original),
            archive=ArchiveInfo(sha256=sha, pages=1),
            correspondent=correspondent, document_type=doc_type, tags=tuple(tags),
            asn=doc_id if rng.random() < 0.3 else None, owner=owner,
            permissions=Permissions(view=Grants(users=view_users, groups=view_groups)),
            notes=("checked by the accountant",) if rng.random() < 0.02 else (),
            source={"kind": "generated", "path": f"scan_{doc_id}.pdf"},
            language="eng", content=content)
        folder = correspondent or "Unknown"
        rel = f"{folder}/{created.year}/{created.isoformat()} {title} [{doc_id}]"
        return doc, rel, pdf


def write_config(root: Path) -> None:
    for sub in ("inbox", "archive", "originals", "failed", "trash", ".paperfs/work",
                ".paperfs/journal"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    config = root / "paperfs.yml"
    if not config.exists():
        config.write_text("data_root: .\n", encoding="utf-8")


def generate(root: Path, spec: Spec, *, keep_docs: bool = False,
             progress: bool = False) -> Generated:
    """Write ``spec.count`` documents into the data root ``root`` (created if needed)."""
    start = time.perf_counter()
    write_config(root)
    gen = Generator(spec)
    out = Generated(root=root, spec=spec, count=0, seconds=0.0,
                    correspondents=gen.correspondents, tags=gen.tags, types=gen.types)
    made_dirs: set[Path] = set()
    for doc_id in range(spec.first_id, spec.first_id + spec.count):
        doc, rel, pdf = gen.document(doc_id)
        sidecar = root / "archive" / (rel + ".yml")
        folder = sidecar.parent
        if folder not in made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            made_dirs.add(folder)
        original = root / doc.original.path
        if original.parent not in made_dirs:
            original.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(original.parent)
        original.write_bytes(pdf)
        (root / "archive" / (rel + ".pdf")).write_bytes(pdf)
        sidecar.write_text(sidecar_text(doc), encoding="utf-8")
        out.count += 1
        out.paths[doc_id] = rel
        if keep_docs:
            out.docs.append(doc)
        if progress and out.count % 10_000 == 0:
            print(f"  generated {out.count:,} documents", file=sys.stderr)
    (root / ".paperfs" / "next_id").write_text(f"{spec.first_id + spec.count}\n")
    out.seconds = time.perf_counter() - start
    return out


def iter_docs(spec: Spec) -> Iterator[tuple[Document, str]]:
    """The documents ``generate`` would write, without writing anything."""
    gen = Generator(spec)
    for doc_id in range(spec.first_id, spec.first_id + spec.count):
        doc, rel, _ = gen.document(doc_id)
        yield doc, rel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    result = generate(args.directory, Spec(count=args.count, seed=args.seed), progress=True)
    print(f"{result.count:,} documents in {result.seconds:.1f} s "
          f"({result.count / result.seconds:,.0f}/s) in {args.directory}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
