from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from paperfs.config import Config, config_keys, load_config
from paperfs.errors import ConfigError
from tests.helpers import init_root

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "paperfs.example.yml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paperfs.yml"
    path.write_text(text)
    return path


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None, environ={})
    assert config.data_root == tmp_path.resolve()
    assert config.ocr.mode == "auto"
    assert config.inbox.folders == ("inbox",)
    assert config.workers >= 1


def test_relative_data_root_is_relative_to_the_file(tmp_path):
    path = write(tmp_path, "data_root: data\nocr:\n  languages: eng+deu\n")
    config = load_config(path, environ={})
    assert config.data_root == (tmp_path / "data").resolve()
    assert config.ocr.languages == "eng+deu"


def test_env_overrides(tmp_path):
    path = write(tmp_path, "ocr:\n  mode: never\n")
    config = load_config(path, environ={
        "PAPERFS_OCR__MODE": "always", "PAPERFS_CONSUME__WORKERS": "3",
        "PAPERFS_INBOX__IGNORE": '["*.x", ".*"]', "PAPERFS_OCR__LANGUAGES": "deu",
        "PAPERFS_ROOT": "/ignored-here"})
    assert config.ocr.mode == "always"
    assert config.consume.workers == 3
    assert config.inbox.ignore == ("*.x", ".*")
    assert config.ocr.languages == "deu"


@pytest.mark.parametrize("text, key, problem", [
    ("ocr:\n  mode: sometimes\n", "ocr.mode", "not one of"),
    ("ocr:\n  modes: auto\n", "ocr.modes", "unknown key"),
    ("consume:\n  workers: many\n", "consume.workers", "whole number"),
    ("consume:\n  workers: -1\n", "consume.workers", "0 (one per CPU core)"),
    ("consume:\n  workers: 100000\n", "consume.workers", "0 (one per CPU core)"),
    ("inbox:\n  stable_seconds: 0\n", "inbox.stable_seconds", "greater than 0"),
    ("inbox:\n  stable_seconds: .nan\n", "inbox.stable_seconds", "greater than 0"),
    ("inbox:\n  poll_seconds: .inf\n", "inbox.poll_seconds", "a year"),
    ("consume:\n  timeout_seconds: 1" + "0" * 400 + "\n", "consume.timeout_seconds", "a year"),
    ("dav:\n  port: 99999\n", "dav.port", "99999 is not a port (1–65535)"),
    ("dav:\n  port: 0\n", "dav.port", "not a port"),
    ("dav:\n  port: '8080'\n", "dav.port", "whole number"),
    ("dav:\n  host: 'my nas'\n", "dav.host", "not an IP address or host name"),
    ("dav:\n  host: '[::1]'\n", "dav.host", "not an IP address or host name"),
    ("dav:\n  host: 300.1.2.3\n", "dav.host", "not an IP address or host name"),
    ("dav:\n  host: ''\n", "dav.host", "not an IP address or host name"),
    ("dav:\n  threads: 0\n", "dav.threads", "threads"),
    ("dav:\n  trash_days: -1\n", "dav.trash_days", "days"),
    ("dav:\n  trash_days: 1.0e+6\n", "dav.trash_days", "days"),
    ("dav:\n  max_body_bytes: -1\n", "dav.max_body_bytes", "size in bytes"),
    ("dav:\n  max_header_bytes: 100\n", "dav.max_header_bytes", "size in bytes"),
    ("dav:\n  max_xml_bytes: 1.5\n", "dav.max_xml_bytes", "whole number"),
    ("dav:\n  throttle_failures: 0\n", "dav.throttle_failures", "failed logins"),
    ("dav:\n  throttle_block_seconds: -5\n", "dav.throttle_block_seconds", "greater than 0"),
    ("dav:\n  tls_cert: cert.pem\n", "dav.tls_key", "set together"),
    ("dav:\n  saved:\n    - {name: 'a/b', query: x}\n", "dav.saved[0].name", "folder name"),
    ("dav:\n  saved:\n    - {name: a, query: 'tag:('}\n", "dav.saved[0].query", "valid search"),
    ("dav:\n  saved:\n    - {name: a, query: x}\n    - {name: A, query: y}\n",
     "dav.saved[1].name", "twice"),
    ("inbox:\n  folders: []\n", "inbox.folders", "at least one"),
    ("inbox:\n  folders: ['']\n", "inbox.folders[0]", "folder"),
    ("inbox:\n  folders: [inbox, .]\n", "inbox.folders[1]", "data root itself"),
    ("inbox:\n  folders: [archive/in]\n", "inbox.folders[0]", "archive"),
    ("inbox:\n  ignore: ['*.tmp', ' ']\n", "inbox.ignore[1]", "empty"),
    ("ocr:\n  image_dpi: 5\n", "ocr.image_dpi", "10–2400"),
    ("ocr:\n  min_text_chars: -1\n", "ocr.min_text_chars", "number of characters"),
    ("ocr:\n  tesseract_timeout: 0\n", "ocr.tesseract_timeout", "greater than 0"),
    ("consume:\n  min_year: 0\n", "consume.min_year", "a year"),
    ("consume:\n  date_languages: [en, english]\n", "consume.date_languages[1]", "language code"),
    ("archive:\n  max_name_bytes: 300\n", "archive.max_name_bytes", "32–255"),
    ("archive:\n  unknown_correspondent: ' '\n", "archive.unknown_correspondent", "empty"),
    ("archive:\n  paths: []\n", "archive.paths", "at least one"),
    ("archive:\n  paths:\n    - path: '{nope}/{title}'\n", "archive.paths[0].path",
     "unknown field"),
    ("archive:\n  paths:\n    - {when: 'tag:(', path: x}\n", "archive.paths[0].when", "tag:("),
    ("index:\n  backend: solr\n", "index.url", "index.zk_hosts"),
    ("index:\n  url: localhost:8983/solr\n", "index.url", "http"),
    ("index:\n  url: http://solr:99999/solr\n", "index.url", "port"),
    ("index:\n  zk_hosts: 'zk1:2181,zk2:huh/solr'\n", "index.zk_hosts", "zk2:huh"),
    ("index:\n  collection: 'my docs'\n", "index.collection", "collection name"),
    ("index:\n  commit_within_ms: 0\n", "index.commit_within_ms", "milliseconds"),
    ("index:\n  timeout_seconds: 0\n", "index.timeout_seconds", "greater than 0"),
    ("inbox: [a]\n", "inbox", "expected a mapping"),
    ("ocr:\n  deskew: yes please\n", "ocr.deskew", "true or false"),
    ("ocr:\n  languages: 'eng deu'\n", "ocr.languages", "tesseract language"),
    ("archive:\n  paths:\n    - when: 'tag:x'\n", "archive.paths[0]", "path"),
    ("consume:\n  date_order: XYZ\n", "consume.date_order", "not one of"),
    ("ocr: {mode: [auto\n", "line", "not valid YAML"),
])
def test_errors_name_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert problem in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yml", environ={})


def test_env_error_names_the_override(tmp_path):
    with pytest.raises(ConfigError, match="environment.*ocr.mode"):
        load_config(None, environ={"PAPERFS_OCR__MODE": "bogus"})


def test_every_key_is_documented():
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)*)`", DOCS.read_text()))
    missing = [key for key in config_keys() if key not in documented]
    assert not missing, f"keys missing from docs/configuration.md: {missing}"


def test_example_config_is_valid_and_complete():
    config = load_config(EXAMPLE, environ={})
    assert isinstance(config, Config)
    text = EXAMPLE.read_text()
    for key in config_keys():
        assert key.split(".")[-1] + ":" in text, f"{key} missing from {EXAMPLE.name}"


def numeric_keys() -> list[tuple[str, type]]:
    """Every int or float key (the ones a typo can make absurd)."""
    out = []
    for key in config_keys():
        cls: type = Config
        for part in key.split("."):
            hint = typing.get_type_hints(cls).get(part)
            if hint is None or not dataclasses.is_dataclass(hint):
                break
            cls = hint
        if hint in (int, float):
            out.append((key, hint))
    return out


def nested(key: str, value) -> dict:
    data: dict = {}
    node = data
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def test_every_numeric_key_has_bounds(tmp_path):
    """Negative, absurdly large and not-a-number values fail at load, for every key."""
    keys = numeric_keys()
    assert len(keys) > 20
    for key, hint in keys:
        bad = [-1, 10 ** 30] + ([float("nan"), float("inf"), 1e30] if hint is float else [])
        for value in bad:
            path = write(tmp_path, yaml.safe_dump(nested(key, value)))
            with pytest.raises(ConfigError) as info:
                load_config(path, environ={})
            assert f"{path}: {key}: " in str(info.value), (key, value, str(info.value))


@pytest.mark.parametrize("text", [
    "dav:\n  port: 1\n", "dav:\n  port: 65535\n", "dav:\n  host: '::'\n",
    "dav:\n  host: '::1'\n", "dav:\n  host: 0.0.0.0\n", "dav:\n  host: nas.example.com\n",
    "dav:\n  host: localhost\n", "dav:\n  host: fe80::1%lo\n",
    "consume:\n  workers: 0\n", "ocr:\n  min_text_chars: 0\n",
    "inbox:\n  folders: [inbox, scans/office, ../shared-scans]\n",
    "consume:\n  date_languages: [en, deu, zh-Hant]\n",
    "index:\n  backend: solr\n  zk_hosts: 'zk1:2181,zk2,[::1]:2181/solr'\n",
    "index:\n  backend: solr\n  url: https://solr.example.com:8983/solr\n  collection: paperfs_2\n",
    "dav:\n  tls_cert: c.pem\n  tls_key: k.pem\n  max_header_bytes: 1024\n",
    "archive:\n  max_name_bytes: 255\n",
])
def test_sensible_values_are_accepted(tmp_path, text):
    load_config(write(tmp_path, text), environ={})


def test_env_override_is_validated_too(tmp_path):
    path = write(tmp_path, "dav:\n  enabled: false\n")
    with pytest.raises(ConfigError, match=r"environment.*dav\.port: 70000 is not a port"):
        load_config(path, environ={"PAPERFS_DAV__PORT": "70000"})


def test_run_with_a_port_out_of_range_says_so_in_one_line(tmp_path):
    """It was an OverflowError traceback from cheroot."""
    root = init_root(tmp_path, "")
    config = root.root / "paperfs.yml"
    config.write_text(config.read_text().replace("enabled: false", "port: 99999"))
    out = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), "run"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == \
        f"paperfs: error: {config}: dav.port: 99999 is not a port (1–65535)"


@pytest.mark.parametrize("args, message", [
    (["--port", "99999"], "--port: 99999 is not a port (1–65535)"),
    (["--host", "my nas"], "--host: 'my nas' is not an IP address or host name"),
])
def test_dav_command_checks_host_and_port(tmp_path, args, message):
    root = init_root(tmp_path)
    out = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), "dav",
                          *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == f"paperfs: error: {message}"
