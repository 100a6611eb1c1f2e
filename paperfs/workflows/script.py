"""The script action: run a program with the document in its environment.

Like paperless' post-consume script, the program gets the document's paths
and metadata as environment variables (``script_environment``; docs/workflows.md
lists them), runs in the data root, and is stopped after ``timeout`` seconds.
Its output goes to the log; a non-zero exit is a failed run.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger(__name__)

#: output kept for the log (each of stdout and stderr)
MAX_OUTPUT = 4000


class ScriptFailed(Exception):
    pass


def script_environment(doc: Any, rel: str, data_root: Path, workflow: str,
                       trigger: str) -> dict[str, str]:
    """The DOCUMENT_* and PAPERFS_* variables for a filed document at archive/<rel>."""
    pdf = data_root / "archive" / (rel + ".pdf")
    return {
        "DOCUMENT_ID": str(doc.id),
        "DOCUMENT_TITLE": doc.title,
        "DOCUMENT_FILE_NAME": pdf.name,
        "DOCUMENT_ARCHIVE_PATH": str(pdf),
        "DOCUMENT_SIDECAR_PATH": str(pdf.with_suffix(".yml")),
        "DOCUMENT_SOURCE_PATH": str(data_root / doc.original.path),
        "DOCUMENT_ORIGINAL_FILENAME": doc.original.filename,
        "DOCUMENT_CREATED": doc.created.isoformat(),
        "DOCUMENT_ADDED": doc.added.isoformat(),
        "DOCUMENT_MODIFIED": doc.modified.isoformat(),
        "DOCUMENT_CORRESPONDENT": doc.correspondent or "",
        "DOCUMENT_DOCUMENT_TYPE": doc.document_type or "",
        "DOCUMENT_TAGS": ",".join(doc.tags),
        "DOCUMENT_OWNER": doc.owner or "",
        "DOCUMENT_ASN": "" if doc.asn is None else str(doc.asn),
        "PAPERFS_DATA_ROOT": str(data_root),
        "PAPERFS_WORKFLOW": workflow,
        "PAPERFS_TRIGGER": trigger,
    }


def run_script(settings: Mapping[str, Any], environment: Mapping[str, str], data_root: Path) -> str:
    """Run it; returns what happened, raises ScriptFailed with the reason and output."""
    path = Path(settings["path"])
    if not path.is_absolute():
        path = data_root / path
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ScriptFailed(f"{path} is not an executable file (chmod +x it)")
    try:
        done = subprocess.run([str(path)], cwd=data_root, env={**os.environ, **environment},
                              capture_output=True, timeout=settings["timeout"],
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ScriptFailed(f"{path} did not finish within {settings['timeout']:g} s; stopped") from None
    except OSError as exc:
        raise ScriptFailed(f"{path} could not be started: {exc}") from None
    output = "".join(stream.decode("utf-8", "replace")[-MAX_OUTPUT:].strip() + "\n"
                     for stream in (done.stdout, done.stderr) if stream.strip())
    if output:
        log.info("script %s said:\n%s", path, output.rstrip())
    if done.returncode != 0:
        raise ScriptFailed(f"{path} exited with status {done.returncode}"
                           + (f": {output.strip()[-500:]}" if output else ""))
    return f"{path.name} exited 0"
