"""What a configuration value may be beyond its type: choices and value rules.

config.py converts YAML into its dataclasses; this module says, per dotted
key ("dav.port", "archive.paths.path"), which values are allowed. A rule
returns what is wrong with one converted value, or None.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Callable

from paperfs.errors import PaperfsError

_CHOICES: dict[str, tuple[str, ...]] = {
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "ocr.mode": ("auto", "always", "never", "redo"),
    "consume.date_order": ("DMY", "MDY", "YMD"),
    "index.backend": ("sqlite", "solr"),
    "dav.auth": ("basic", "digest", "both"),
    "smtp.security": ("none", "starttls", "tls"),
    "mail.accounts.security": ("none", "starttls", "tls"),
    # zxing-cpp's symbologies by the names paperfs.yml gives them (consume/barcodes.py)
    "barcodes.formats": ("aztec", "codabar", "code39", "code93", "code128", "databar",
                         "datamatrix", "ean8", "ean13", "itf", "maxicode", "microqr", "pdf417",
                         "qr", "upca", "upce"),
}

# ---------------------------------------------------------------- value rules
# A rule returns what is wrong with one (converted) value, or None.
Rule = Callable[[Any], "str | None"]
_YEAR_SECONDS = 365 * 24 * 3600
_MAX_BYTES = 2 ** 63 - 1  # the largest file size any filesystem reports


def _within(low: float, high: float, what: str, *, above: bool = False) -> Rule:
    """low <= value <= high (low < value with *above*); NaN and infinity never are."""
    def rule(value: float) -> str | None:
        low_ok = value > low if above else value >= low
        if math.isfinite(value) and low_ok and value <= high:
            return None
        return f"{value!r} is not {what}"
    return rule


_SECONDS = _within(0, _YEAR_SECONDS, "a number of seconds greater than 0 and at most "
                   f"{_YEAR_SECONDS} (a year)", above=True)


def _bytes(low: int) -> Rule:
    return _within(low, _MAX_BYTES, f"a size in bytes ({low} or more)")


def _text(what: str) -> Rule:
    def rule(value: str) -> str | None:
        return None if value.strip() else f"{what} must not be empty"
    return rule


def port_problem(value: int) -> str | None:
    return _within(1, 65535, "a port (1–65535)")(value)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def host_problem(value: str) -> str | None:
    """An IP address (v4 or v6, without brackets) or a DNS host name."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    labels = value.removesuffix(".").split(".")
    if (len(value) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not all(label.isdigit() for label in labels)):
        return None
    return f"{value!r} is not an IP address or host name"


def _languages(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", value):
        return None
    return f"{value!r} is not a tesseract language list like eng+deu"


def _date_language(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
        return None
    return f"{value!r} is not a language code like en, de or deu"


# Data root folders an inbox must not be (or be inside): it would consume them.
_NOT_INBOXES = ("archive", "originals", "failed", "trash", ".paperfs")


def _inbox_folder(value: str) -> str | None:
    parts = Path(os.path.normpath(value)).parts
    if not value.strip():
        return "an inbox folder must not be empty"
    if not parts:  # "." or "inbox/.."
        return f"{value!r} is the data root itself; name a folder in it, such as inbox"
    if parts[0] in _NOT_INBOXES:
        return f"{value!r} is inside the data root's {parts[0]}/ folder; use a folder of its own"
    return None


def _url(value: str) -> str | None:
    if not value:
        return None
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http(s) URL like http://127.0.0.1:8983/solr"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and port_problem(port):
        return f"{value!r}: the port is not 1–65535"
    return host_problem(parts.hostname)


_ZK_HOST = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>\d{1,5}))?")


def _queue_url(value: str) -> str | None:
    if not value:
        return None  # all in one process
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "redis+socket", "unix") or not (parts.hostname or parts.path):
        return f"{value!r} is not a Redis URL such as redis://127.0.0.1:6379/0"
    return host_problem(parts.hostname) if parts.hostname else None


def _tenant(value: str) -> str | None:
    if not value or re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", value):
        return None
    return (f"{value!r} is not a tenant name: 1–40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit")


def _zk_hosts(value: str) -> str | None:
    """'zk1:2181,zk2:2181/solr': hosts with optional ports, then an optional chroot."""
    if not value:
        return None
    for item in value.split("/", 1)[0].split(","):
        match = _ZK_HOST.fullmatch(item.strip())
        if (match is None or host_problem(match["v6"] or match["name"])
                or (match["port"] and port_problem(int(match["port"])))):
            return (f"{item.strip()!r} in {value!r} is not HOST or HOST:PORT "
                    "(ZooKeeper hosts like zk1:2181,zk2:2181/solr)")
    return None


def _collection(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]*", value):
        return None
    return f"{value!r} is not a Solr collection name (letters, digits, '.', '_', '-')"


def _saved_name(value: str) -> str | None:
    from paperfs.search.saved import check_saved_name
    return _problem_of(check_saved_name, value)


def _saved_query(value: str) -> str | None:
    from paperfs.search.saved import check_query
    return _problem_of(check_query, value)


def _regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"{value!r} is not a regular expression: {exc}"
    return None


def _folder_name(value: str) -> str | None:
    if value.strip() and "/" not in value and value not in (".", ".."):
        return None
    return f"{value!r} is not a folder name (one name, no '/')"


def _problem_of(check: Callable[[str], Any], value: str) -> str | None:
    try:
        check(value)
    except PaperfsError as exc:
        return str(exc)
    return None


_RULES: dict[str, Rule] = {
    "inbox.folders": _inbox_folder,
    "inbox.ignore": _text("a pattern"),
    "inbox.stable_seconds": _SECONDS,
    "inbox.incomplete_seconds": _SECONDS,
    "inbox.poll_seconds": _SECONDS,
    "ocr.languages": _languages,
    "ocr.image_dpi": _within(10, 2400, "a resolution in dpi (10–2400)"),
    "ocr.min_text_chars": _within(0, 1_000_000, "a number of characters (0–1000000)"),
    "ocr.tesseract_timeout": _SECONDS,
    "ocr.office_timeout_seconds": _SECONDS,
    "ocr.mail_attachment_max_mb": _within(0, 1_000_000, "a size in MB (0–1000000)", above=True),
    "consume.workers": _within(0, 1024, "a number of workers: 0 (one per CPU core) to 1024"),
    "consume.timeout_seconds": _SECONDS,
    "consume.worker_idle_seconds": _SECONDS,
    "consume.date_languages": _date_language,
    "consume.min_year": _within(1, 9999, "a year (1–9999)"),
    "archive.unknown_correspondent": _text("the name for empty fields"),
    "archive.max_name_bytes": _within(32, 255, "a name length in bytes (32–255)"),
    "index.url": _url,
    "index.zk_hosts": _zk_hosts,
    "index.collection": _collection,
    "index.timeout_seconds": _SECONDS,
    "index.commit_within_ms": _within(1, 2 ** 31 - 1,
                                      "a number of milliseconds (1–2147483647)"),
    "dav.host": host_problem,
    "dav.port": port_problem,
    "dav.threads": _within(1, 1024, "a number of threads (1–1024)"),
    "dav.inbox_idle_seconds": _SECONDS,
    "dav.trash_days": _within(0, 36500, "a number of days greater than 0 and at most 36500",
                              above=True),
    "dav.max_body_bytes": _bytes(1),
    "dav.max_xml_bytes": _bytes(1024),
    "dav.max_header_bytes": _bytes(1024),
    "dav.throttle_failures": _within(1, 1_000_000, "a number of failed logins (1–1000000)"),
    "dav.throttle_window_seconds": _SECONDS,
    "dav.throttle_block_seconds": _SECONDS,
    "dav.share_max_days": _within(0, 36500, "a number of days greater than 0 and at most 36500",
                                  above=True),
    "dav.public_url": _url,
    "queue": _queue_url,
    "tenant": _tenant,
    "cluster.max_deliveries": _within(1, 100, "a number of deliveries (1–100)"),
    "cluster.leader_lease_seconds": _within(2, 60, "a number of seconds (2–60): the takeover bound"),
    "cluster.heartbeat_seconds": _SECONDS,
    "cluster.visibility_timeout_seconds": _SECONDS,
    "cluster.metrics_port": lambda port: None if port == 0 else port_problem(port),
    "cluster.metrics_host": host_problem,
    "classify.threshold": _within(0, 1, "a probability (0–1)"),
    "classify.retrain_check_seconds": _SECONDS,
    "classify.regex_timeout_seconds": _SECONDS,
    "classify.workflow_check_seconds": _SECONDS,
    "smtp.port": port_problem,
    "smtp.timeout_seconds": _SECONDS,
    "barcodes.separator": _text("the separator barcode's text"),
    "barcodes.asn_prefix": _text("the ASN prefix"),
    "barcodes.tags.pattern": _regex,
    "barcodes.tags.tag": _text("a tag"),
    "barcodes.max_pages": _within(0, 100_000, "a number of pages (0: all, up to 100000)"),
    "barcodes.dpi": _within(50, 1200, "a resolution in dpi (50–1200)"),
    "double_sided.folder": _folder_name,
    "double_sided.window_seconds": _SECONDS,
    "dav.saved.name": _saved_name,
    "mail.accounts.name": _text("an account's name"),
    "mail.accounts.host": host_problem,
    "mail.accounts.user": _text("the user"),
    "mail.accounts.port": lambda port: None if port == 0 else port_problem(port),
    "mail.accounts.password": lambda value: None if not value else (
        "a password is never written in paperfs.yml: put it in a file readable only by "
        "paperfs and name it with password_file, or name an environment variable with "
        "password_env"),
    "mail.accounts.timeout_seconds": _SECONDS,
    "mail.poll_seconds": _SECONDS,
    "mail.retries": _within(0, 100, "a number of retries (0–100)"),
    "mail.retry_seconds": _SECONDS,
    "dav.saved.query": _saved_query,
}


def value_problem(key: str, value: Any) -> str | None:
    """What is wrong with one converted value of *key* (choices, then _RULES)."""
    generic = generic_key(key)
    choices = _CHOICES.get(generic)
    if choices and value not in choices:
        return f"{value!r} is not one of {', '.join(choices)}"
    rule = _RULES.get(generic)
    return rule(value) if rule else None


def generic_key(key: str) -> str:
    """'archive.paths[2].path' -> 'archive.paths.path'."""
    out = []
    for part in key.split("."):
        out.append(part.split("[", 1)[0])
    return ".".join(out)


