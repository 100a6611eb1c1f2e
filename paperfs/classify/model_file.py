"""The learned classifier's file: a header, then the arrays, each a pickle.

The header holds plain values only (when and on what the model was trained,
its fingerprint, its classes), so ``paperfs status`` and the daemon's
retraining check read it without numpy, scipy or scikit-learn. The arrays are
numpy arrays and names, never pickled scikit-learn objects. The file is
written atomically: a reader sees the old model or the new one.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from paperfs.archive.atomic import atomic_write_bytes

#: the file's layout; a file of another version is not read (the model is trained anew)
FORMAT_VERSION = 1


class ModelFormatError(ValueError):
    """A model file of another format version."""


def write_model_file(path: Path, header: dict[str, Any], payload: dict[str, Any]) -> None:
    header = {**header, "format": FORMAT_VERSION}
    atomic_write_bytes(path, pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL)
                       + pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def _header(f: Any) -> dict[str, Any]:
    header = pickle.load(f)
    found = header.get("format") if isinstance(header, dict) else None
    if found != FORMAT_VERSION:
        raise ModelFormatError(f"another format ({found!r}; this paperfs reads {FORMAT_VERSION})")
    return header


def read_model_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and arrays; FileNotFoundError, ModelFormatError, or whatever a damaged
    file raises."""
    with open(path, "rb") as f:
        header = _header(f)
        return header, pickle.load(f)


def read_model_info(path: Path) -> dict[str, Any] | None:
    """The header of a model file, or None (missing, damaged, another format)."""
    try:
        with open(path, "rb") as f:
            return _header(f)
    except Exception:  # noqa: BLE001 - any unreadable file is "no model"
        return None
