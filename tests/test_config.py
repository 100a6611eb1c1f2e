from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperfs.config import Config, config_keys, load_config
from paperfs.errors import ConfigError

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
    ("inbox:\n  stable_seconds: 0\n", "inbox.stable_seconds", "greater than 0"),
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
