"""The hand-off of a mail to the intake: one folder per mail under .paperfs/mail/handoff/.

``handoff/<digest of the record key>/`` holds ``settings.yml`` (the job's
settings and the record key) and the raw message, first as ``NAME.eml.part``
(invisible to the consumer), then — once the record is written — renamed to
``NAME.eml``: that rename is the hand-off. The folder itself is made under a
hidden name and renamed into place whole. The consumer claims the ``.eml``
on its own thread (``claim_all``) like an inbox file with folder-rule
settings, then removes the folder.

After a crash (``recover``): a ``.part`` whose record was written is handed
off (the rename is done now); one without a record is dropped — nothing was
recorded or done on the server, so the next poll takes the mail again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from paperfs.archive.atomic import atomic_write_text, fsync_dir
from paperfs.archive.layout import DataRoot
from paperfs.archive.naming import clean_component

log = logging.getLogger(__name__)

SETTINGS = "settings.yml"
PART = ".part"
#: the prefix of a mail's folder while it is made
TMP = ".building-"
#: the source of every job a mail becomes (workflows filter on source kind "mail")
MAIL_SOURCE = "mail"


def handoff_dir(root: DataRoot) -> Path:
    return root.state / "mail" / "handoff"


def eml_name(subject: str, uid: str) -> str:
    """A readable file name for the mail: its subject, else its UID."""
    base = clean_component(" ".join(subject.split())[:80], 120) if subject.strip() else ""
    return (base or f"mail-{uid}") + ".eml"


@dataclass(frozen=True)
class Handed:
    """A mail ready for the consumer to claim."""

    folder: Path
    eml: Path
    key: str
    settings: dict[str, Any]


class Handoff:
    def __init__(self, root: DataRoot) -> None:
        self.root = root
        self.dir = handoff_dir(root)
        self.dir.mkdir(parents=True, exist_ok=True)

    def folder_of(self, key: str) -> Path:
        return self.dir / hashlib.sha256(key.encode()).hexdigest()[:24]

    def _build(self, key: str, name: str, settings: dict[str, Any],
               fill: Callable[[Path], None]) -> None:
        """The mail's folder, made under a hidden name and renamed into place whole:
        the consumer never sees a folder without its settings and its file."""
        final = self.folder_of(key)
        building = self.dir / (TMP + final.name)
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        fill(building / (name + PART))
        atomic_write_text(building / SETTINGS, yaml.safe_dump(
            {"record": key, "name": name, "settings": settings}, allow_unicode=True))
        fsync_dir(building)
        shutil.rmtree(final, ignore_errors=True)  # an unrecorded attempt of the same mail
        os.rename(building, final)
        fsync_dir(self.dir)

    def prepare(self, key: str, name: str, raw: bytes, settings: dict[str, Any]) -> None:
        """Write the mail and its settings, not yet visible to the consumer."""
        def fill(target: Path) -> None:
            with open(target, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())

        self._build(key, name, settings, fill)

    def prepare_from(self, key: str, name: str, source: Path, settings: dict[str, Any]) -> None:
        """As prepare, with a copy of *source* (a retry from failed/; the caller removes
        it once the copy is in place, so a crash loses neither)."""
        def fill(target: Path) -> None:
            shutil.copyfile(source, target)
            with open(target, "rb") as f:
                os.fsync(f.fileno())

        self._build(key, name, settings, fill)

    def release(self, key: str) -> None:
        """The hand-off: the .part becomes the .eml the consumer takes."""
        folder = self.folder_of(key)
        for part in folder.glob("*" + PART):
            os.rename(part, folder / part.name[:-len(PART)])
        fsync_dir(folder)

    def recover(self, recorded: Callable[[str], bool]) -> None:
        """After a crash: finish hand-offs that were recorded, drop the others."""
        for building in self.dir.glob(TMP + "*"):  # never shown, never recorded
            shutil.rmtree(building, ignore_errors=True)
        for folder in self._folders():
            key = self._key_of(folder)
            parts = list(folder.glob("*" + PART))
            if key is not None and parts and recorded(key):
                log.info("mail: completing the hand-off of %s", key)
                self.release(key)
            elif parts or key is None:
                shutil.rmtree(folder, ignore_errors=True)

    def pending_keys(self) -> set[str]:
        """Record keys of every mail in the hand-off folder (not claimed yet)."""
        return {key for folder in self._folders() if (key := self._key_of(folder))}

    def ready(self) -> Iterator[Handed]:
        for folder in self._folders():
            emls = [p for p in folder.glob("*.eml") if p.is_file()]
            if not emls:
                if not any(folder.glob("*" + PART)):  # claimed before a crash: only settings left
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            data = self._data(folder)
            if data is None:
                continue
            yield Handed(folder=folder, eml=emls[0], key=data["record"],
                         settings=data["settings"])

    def claim_all(self, claim: Callable[[Path, dict[str, Any]], bool]) -> int:
        """Give every ready mail to *claim* (the consumer's); its folder goes once taken."""
        count = 0
        for handed in self.ready():
            if claim(handed.eml, handed.settings):
                shutil.rmtree(handed.folder, ignore_errors=True)
                count += 1
        return count

    def _folders(self) -> list[Path]:
        try:
            return sorted(p for p in self.dir.iterdir()
                          if p.is_dir() and not p.name.startswith(TMP))
        except FileNotFoundError:
            return []

    def _data(self, folder: Path) -> dict[str, Any] | None:
        try:
            data = yaml.load((folder / SETTINGS).read_text("utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, yaml.YAMLError):
            return None
        return data if isinstance(data, dict) and "record" in data else None

    def _key_of(self, folder: Path) -> str | None:
        data = self._data(folder)
        return data["record"] if data else None
