"""Mail and office documents: .eml → archive PDF, office file → PDF.
Run: .venv/bin/python -m benchmarks mail_documents [--mails N] [--office N]

One worker's work, in this process: the prepare recipe (consume/pipeline.py:
prepare, every stage from detect to classify) on generated inputs, after one
warm-up of each kind (imports and LibreOffice's profile are not counted;
the cold first conversion is shown on its own).

1. plain-text mails (a page of text each, consume: mail): docs/s;
2. HTML mails (styled, a table, an inline cid: image): docs/s;
3. reference: born-digital one-page PDFs of the same text through the same
   stages: docs/s, and each mail kind's ratio to it;
4. office documents (.docx and .odt made by LibreOffice from the same text):
   s/document; reference: the PDFs LibreOffice made of them through the
   same stages.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from paperfs.config import DateConfig, OcrConfig
from paperfs.consume.messages import PrepareTask
from paperfs.consume.pipeline import prepare
from tests.mail_samples import make_mail, write_mail
from tests.samples import make_scan, make_text_pdf

TEXT = [f"Line {n}: your order of 12 March, item {n}, 19.90 EUR, delivered to Berlin."
        for n in range(40)]
HTML = ("<html><head><style>body{font-family:sans-serif} td{border:1px solid #999;"
        "padding:2px}</style></head><body><h1>Your invoice</h1><p>Dear customer,</p>"
        "<table>" + "".join(f"<tr><td>{line}</td><td>19.90</td></tr>" for line in TEXT[:20])
        + "</table><p><img src='cid:logo'></p><p>Kind regards</p></body></html>")


def run_all(paths: list[Path], work: Path, mail: dict | None = None) -> float:
    """Seconds to prepare every input, one after the other."""
    start = time.perf_counter()
    for number, path in enumerate(paths):
        scratch = work / f"job-{number}"
        shutil.rmtree(scratch, ignore_errors=True)
        task = PrepareTask(job_id=str(number), input=path, scratch=scratch, filename=path.name,
                           file_mtime=0.0, ocr=OcrConfig(), dates=DateConfig(),
                           mail=mail or {})
        assert prepare(task), path
    return time.perf_counter() - start


def make_inputs(folder: Path, mails: int, office: int) -> dict[str, list[Path]]:
    logo = make_scan(folder / "logo.png", ["ACME"], dpi=30).read_bytes()
    plain = [write_mail(folder / f"plain-{n}.eml",
                        make_mail(f"Order {n}", text="\n".join(TEXT) + "\n"))
             for n in range(mails + 1)]
    html = [write_mail(folder / f"html-{n}.eml",
                       make_mail(f"Invoice {n}", html=HTML,
                                 inline=[("logo.png", logo, "image/png", "logo")]))
            for n in range(mails + 1)]
    pdfs = [make_text_pdf(folder / f"ref-{n}.pdf", TEXT[:30] + [f"Order {n}"])
            for n in range(mails + 1)]
    texts = []
    for n in range(office + 1):
        source = folder / f"office-{n}.txt"
        source.write_text(f"Office document {n}\n" + "\n".join(TEXT) + "\n")
        texts.append(source)
    made = folder / "made"
    converted = {}
    for fmt in ("docx", "odt", "pdf"):
        subprocess.run(["soffice", f"-env:UserInstallation={(folder / 'lo').as_uri()}",
                        "--headless", "--convert-to", fmt, "--outdir", str(made),
                        *map(str, texts)], check=True, capture_output=True, timeout=600)
        converted[fmt] = [made / f"{t.stem}.{fmt}" for t in texts]
    office_files = [converted["docx"][n] if n % 2 else converted["odt"][n]
                    for n in range(office + 1)]
    return {"plain": plain, "html": html, "pdf": pdfs, "office": office_files,
            "office_pdf": converted["pdf"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks mail_documents",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=40, help="mails of each kind (40)")
    parser.add_argument("--office", type=int, default=10, help="office documents (10)")
    args = parser.parse_args(argv)
    if shutil.which("soffice") is None:
        print("LibreOffice (soffice) is not installed: office part skipped")
    with tempfile.TemporaryDirectory(prefix="paperfs-bench-mail-") as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder, args.mails, args.office)
        work = folder / "work"
        results = {}
        for kind, mail in (("pdf", None), ("plain", {"consume": "mail"}),
                           ("html", {"consume": "mail"})):
            first, *rest = inputs[kind]
            run_all([first], work, mail)  # warm-up: imports, fonts
            results[kind] = run_all(rest, work, mail) / len(rest)
        reference = results["pdf"]
        print(f"born-digital PDF (reference): {1 / reference:7.1f} docs/s "
              f"({reference * 1000:.0f} ms/doc)")
        for kind in ("plain", "html"):
            print(f"{kind:>5} mail → archive PDF:   {1 / results[kind]:7.1f} docs/s "
                  f"({results[kind] * 1000:.0f} ms/doc, {results[kind] / reference:.1f}× "
                  "the reference)")
        first, *rest = inputs["office"]
        cold = run_all([first], work)
        office = run_all(rest, work) / len(rest)
        pdf_ref = run_all(inputs["office_pdf"][1:], work) / len(rest)
        print(f"office → PDF (LibreOffice):   {office:7.2f} s/document (first, cold: "
              f"{cold:.2f} s; the same as PDF: {pdf_ref:.3f} s/document, "
              f"{office / pdf_ref:.0f}×)")
    return 0
