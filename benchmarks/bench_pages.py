"""Page edits benchmark: rotate and delete on a long scanned document.

    .venv/bin/python -m benchmarks pages [--pages 100] [--dpi 300]

Makes an image-only scan of ``--pages`` pages (a few lines each), then:

* the reference: the text stage OCRs the whole document, as filing does
  (``ocr.produce_archive``, one worker, one tesseract thread);
* files that OCRed PDF into a new data root (born-digital now: no OCR);
* ``rotate 1 180`` (one page OCRed again, its text put back into the document)
  and ``delete 2-3`` (no OCR: the remaining pages keep their text), each as
  ``paperfs pages`` does it with no daemon running: the request, the text in a
  worker process, the writer's journaled switch and the index update.

Prints the seconds of each, the pages OCRed, and each edit's time as a ratio of
the whole-document OCR; and checks that the unchanged pages' text stayed
byte-identical.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from paperfs.archive import pages as ops
from paperfs.archive import versions
from paperfs.archive.document import read_sidecar
from paperfs.consume.stages import ocr
from paperfs.daemon.consumer import Consumer
from paperfs.daemon.page_edits import PageEdits
from paperfs.runtime import Runtime
from tests.helpers import config_for, init_root

WORDS = ["invoice", "receipt", "contract", "reminder", "insurance", "statement"]


def make_scan(path: Path, count: int, dpi: int) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", dpi // 5)
    images = []
    for number in range(count):
        image = Image.new("L", (int(8.27 * dpi), int(11.69 * dpi)), 255)
        draw = ImageDraw.Draw(image)
        for line in range(4):
            draw.text((dpi, dpi + line * dpi // 2), f"{WORDS[(number + line) % 6]} sheet "
                      f"{number + 1} line {line + 1}", font=font, fill=0)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    path.write_bytes(buffer.getvalue())
    return path


def edit(runtime: Runtime, writer, doc_id: int, operation: str, make) -> tuple[float, int]:
    """One page edit as `paperfs pages` does it; returns (seconds, pages OCRed)."""
    started = time.perf_counter()
    doc = writer.archive.load(doc_id)[0]
    pdf = writer.archive.pdf_path(writer.archive.load(doc_id)[1])
    folder = versions.new_request_folder(runtime.root)
    redo = make(pdf, folder / "new.pdf")
    request = versions.submit(versions.EditRequest(
        folder, doc_id, doc.archive.sha256, operation, "bench",
        (versions.Output("new.pdf", tuple(redo)),)))
    edits = PageEdits(runtime.config, writer)
    done: list = []
    edits.on_done = lambda name, outcome: done.append(outcome)
    while not done:
        edits.run_pass(timeout=0.2)
    edits.close()
    if isinstance(done[0], Exception):
        raise done[0]
    return time.perf_counter() - started, len(request.outputs[0].redo or ())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--dpi", type=int, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        scan = make_scan(tmp / "scan.pdf", args.pages, args.dpi)
        started = time.perf_counter()
        result = ocr.produce_archive(scan, tmp / "ocr", config_for(init_root(tmp / "ref")).ocr)
        full = time.perf_counter() - started
        print(f"reference: OCR of the whole {args.pages}-page document: {full:.1f} s "
              f"({full / args.pages * 1000:.0f} ms per page)")
        root = init_root(tmp)
        consumer = Consumer(config_for(root), serial=True)
        consumer.open()
        consumer.claim_files([result.archive_pdf])
        [filed] = consumer.consume_now()
        consumer.close()
        runtime = Runtime(config_for(root))
        writer = runtime.open_writer()
        before = ocr.extract_text(writer.archive.pdf_path(writer.archive.load(filed.doc.id)[1]))

        seconds, ocred = edit(runtime, writer, filed.doc.id, "rotate 1 180",
                              lambda pdf, out: ops.rotate(pdf, out, [0], 180))
        after = ocr.extract_text(writer.archive.pdf_path(writer.archive.load(filed.doc.id)[1]))
        same = after[1:] == before[1:]
        print(f"rotate 1 180: {seconds:.2f} s, {ocred} page(s) OCRed, "
              f"{seconds / full:.3f} x the whole-document OCR; "
              f"the other {args.pages - 1} pages' text byte-identical: {same}")
        seconds, ocred = edit(runtime, writer, filed.doc.id, "delete 2-3",
                              lambda pdf, out: ops.delete(pdf, out, [1, 2]))
        rel = writer.archive.load(filed.doc.id)[1]
        after_delete = ocr.extract_text(writer.archive.pdf_path(rel))
        kept = after_delete == [after[0], *after[3:]]
        doc = read_sidecar(writer.archive.sidecar_path(rel))
        print(f"delete 2-3: {seconds:.2f} s, {ocred} page(s) OCRed, "
              f"{seconds / full:.3f} x the whole-document OCR; "
              f"{doc.archive.pages} pages left, their text byte-identical: {kept}")
        runtime.close()
        return 0 if same and kept else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
