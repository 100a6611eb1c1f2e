"""What `paperfs status` reports: works with or without a running daemon."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import yaml

from paperfs.archive.custom_fields import FieldsError, load_fields
from paperfs.archive.store import FAILED_INFO_SUFFIX
from paperfs.config import Config
from paperfs.archive.layout import DataRoot
from paperfs.archive.storage import read_only
from paperfs.classify.labels import LabelsError, load_labels
from paperfs.classify.model_file import read_model_info
from paperfs.classify.training import training_running
from paperfs.consume.collation import waiting_on_disk
from paperfs.consume.folder_rules import NOTE_FILE, RULE_FILE, stopped_folders
from paperfs.runtime import Runtime
from paperfs.workflows.definitions import workflows_status


def _read_status_file(root: DataRoot) -> dict[str, Any] | None:
    # On a full disk the daemon rewrites the file in place: a read can catch it half
    # written, the next one does not.
    for _attempt in range(5):
        try:
            return json.loads(root.status_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            time.sleep(0.05)
    return None


#: a daemon on another host (`paperfs scheduler`) whose status is older than this is gone
STALE_STATUS_SECONDS = 10.0


def _daemon(root: DataRoot) -> dict[str, Any]:
    data = _read_status_file(root)
    if data is None:
        return {"running": False}
    if data.get("running") and data.get("host", socket.gethostname()) != socket.gethostname():
        # Its pid means nothing here; it rewrites the file every second while it runs.
        try:
            age = time.time() - root.status_file.stat().st_mtime
        except OSError:
            age = STALE_STATUS_SECONDS
        data["running"] = age < STALE_STATUS_SECONDS
    elif data.get("running"):
        try:
            os.kill(int(data["pid"]), 0)
        except (OSError, ValueError, KeyError):
            data["running"] = False  # it died without saying so
    return data


def _mail(runtime: Runtime, daemon: dict[str, Any]) -> dict[str, Any] | None:
    """With mail accounts: their state, mail.yml, the failed mails (paperfs/mail/status.py)."""
    if not runtime.config.mail.accounts:
        return None
    from paperfs.mail.status import mail_status

    return mail_status(runtime, daemon)


def _cluster(config: Config) -> dict[str, Any] | None:
    """With ``queue`` set: services, the active scheduler and the queue, from Redis."""
    if not config.queue:
        return None
    from paperfs.cluster.overview import cluster_status

    return cluster_status(config)


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


def _documents(runtime: Runtime) -> int:
    if not runtime.root.index_db.exists():
        return 0  # no daemon has run yet
    index = runtime.open_catalog()  # a reader: works on a read-only root
    try:
        return index.count()
    finally:
        index.close()


def _storage(root: DataRoot, daemon: dict[str, Any]) -> str | None:
    """What keeps paperfs from writing, if anything: the daemon's last problem, or a
    data root mounted read-only."""
    if daemon.get("running") and daemon.get("storage"):
        return daemon["storage"]["message"]
    for folder in (root.root, root.state):
        if read_only(folder):
            return (f"read-only: {folder} is on a read-only filesystem; run, edit and "
                    "consume need it writable (remount it read-write)")
    return None


def _classifier(root: DataRoot) -> dict[str, Any] | None:
    """When the learned classifier was trained, on how many documents, whether a
    training runs now; None when there is no model and none is being trained."""
    info = read_model_info(root.classifier_model)
    running = training_running(root)
    if info is None and not running:
        return None
    info = info or {}
    return {"trained": info.get("trained_at"), "documents": info.get("documents"),
            "classes": {kind: len(names) for kind, names in (info.get("classes") or {}).items()},
            "training": running}


def _fields(root: DataRoot) -> dict[str, Any]:
    """fields.yml: how many custom fields are declared, or why it is invalid."""
    try:
        return {"count": len(load_fields(root.fields_file).fields), "problem": None}
    except FieldsError as exc:
        return {"count": None, "problem": str(exc)}


def _labels(runtime: Runtime, daemon: dict[str, Any]) -> dict[str, Any]:
    """labels.yml as it is now (how many labels, or why it is invalid: a running daemon
    keeps the last valid version), and the rules that failed on the daemon's recent
    documents (a regex that timed out)."""
    try:
        count, problems = len(load_labels(runtime.root.labels_file)), []
    except LabelsError as exc:
        count, problems = 0, [str(exc)]
    return {"count": count, "problems": problems,
            "rule_problems": list(daemon.get("classify_problems") or ())}


def collect_status(runtime: Runtime | Config) -> dict[str, Any]:
    runtime = Runtime.of(runtime).initialised()
    config, root = runtime.config, runtime.root
    documents = _documents(runtime)
    daemon = _daemon(root)
    inbox_files = sum(1 for inbox in config.inbox.folders
                      for _d, _s, files in os.walk(root.root / inbox)
                      for name in files if name not in (RULE_FILE, NOTE_FILE))
    return {
        "data_root": str(root.root),
        "daemon": daemon,
        "storage": _storage(root, daemon),
        "inbox_files": inbox_files,
        "work_queue": sum(1 for p in root.work.iterdir() if p.is_dir()) if root.work.exists() else 0,
        "documents": documents,
        "failed": _failed(root),
        "index": runtime.index_status(),
        "workflows": workflows_status(root.workflows_file),
        "fields": _fields(root),
        "classifier": _classifier(root),
        "double_sided_waiting": waiting_on_disk(root.work, config.double_sided),
        "stopped_folders": stopped_folders([root.root / f for f in config.inbox.folders],
                                           root.root),
        "labels": _labels(runtime, daemon),
        "cluster": _cluster(config),
        "mail": _mail(runtime, daemon),
    }
