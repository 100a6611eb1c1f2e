"""What `paperfs status` reports: works with or without a running daemon."""

from __future__ import annotations

import json
import os
from typing import Any

import yaml

from paperfs.archive import FAILED_INFO_SUFFIX
from paperfs.config import Config
from paperfs.layout import DataRoot


def _daemon(root: DataRoot) -> dict[str, Any]:
    try:
        data = json.loads(root.status_file.read_text())
    except (FileNotFoundError, ValueError):
        return {"running": False}
    if data.get("running"):
        try:
            os.kill(int(data["pid"]), 0)
        except (OSError, ValueError, KeyError):
            data["running"] = False  # it died without saying so
    return data


def _failed(root: DataRoot) -> list[dict[str, Any]]:
    out = []
    for path in sorted(root.failed.glob("*")):
        if path.name.endswith(FAILED_INFO_SUFFIX) or not path.is_file():
            continue
        info: dict[str, Any] = {"file": path.name}
        try:
            info.update(yaml.safe_load(path.with_name(path.name + FAILED_INFO_SUFFIX)
                                       .read_text("utf-8")) or {})
        except (OSError, yaml.YAMLError):
            info["reason"] = "unknown"
        out.append(info)
    return out


def collect_status(config: Config) -> dict[str, Any]:
    from paperfs.index.factory import index_status
    from paperfs.index.sqlite import SqliteIndex

    root = DataRoot(config.data_root)
    root.check_initialised()
    index = SqliteIndex(root.index_db)
    try:
        documents = index.count()
    finally:
        index.close()
    inbox_files = sum(len(files) for inbox in config.inbox.folders
                      for _d, _s, files in os.walk(root.root / inbox))
    return {
        "data_root": str(root.root),
        "daemon": _daemon(root),
        "inbox_files": inbox_files,
        "work_queue": sum(1 for p in root.work.iterdir() if p.is_dir()) if root.work.exists() else 0,
        "documents": documents,
        "failed": _failed(root),
        "index": index_status(config, root),
    }
