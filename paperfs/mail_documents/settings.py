"""What a job says about its mail: ``Job.settings["mail"]`` (the IMAP rules set
it; an .eml dropped into the inbox has none and gets the defaults), and which
parts it takes.

Keys: ``consume`` (attachments | mail | both, default both), ``inline``
(bool, default false), ``include``/``exclude`` (file-name globs, any case;
default all, none), ``title_from`` (subject | filename, default filename:
the title of attachment documents), ``record`` (the mail rule's record key of the
mail, copied into every document of the job).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Mapping

from paperfs.errors import ConsumeError

CONSUME = ("attachments", "mail", "both")
TITLE_FROM = ("subject", "filename")


@dataclass(frozen=True)
class MailSettings:
    consume: str = "both"
    inline: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    title_from: str = "filename"
    record: str | None = None

    @property
    def mail_document(self) -> bool:
        return self.consume in ("mail", "both")

    @property
    def attachment_documents(self) -> bool:
        return self.consume in ("attachments", "both")

    def wants(self, filename: str) -> bool:
        """Whether the include/exclude globs take an attachment of this name."""
        name = filename.lower()
        if self.include and not any(fnmatch.fnmatchcase(name, g.lower()) for g in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, g.lower()) for g in self.exclude)

    def offers(self, filename: str, inline: bool) -> bool:
        """Whether an attachment is tried as a document of its own (its size and bytes
        are looked at next), as the mail stage (stages/mail.py _choose) decides it; for
        the dry run."""
        return (self.inline or not inline) and self.attachment_documents \
            and self.wants(filename)

    @classmethod
    def of(cls, data: Mapping[str, Any] | None, name: str) -> "MailSettings":
        """The settings of the job of the mail *name*; a value no rule could have
        written is refused."""
        data = dict(data or {})
        problems = []
        if data.get("consume", "both") not in CONSUME:
            problems.append(f"consume must be one of {', '.join(CONSUME)}")
        if data.get("title_from", "filename") not in TITLE_FROM:
            problems.append(f"title_from must be one of {', '.join(TITLE_FROM)}")
        if not isinstance(data.get("inline", False), bool):
            problems.append("inline must be true or false")
        for key in ("include", "exclude"):
            globs = data.get(key) or []
            if not isinstance(globs, (list, tuple)) or not all(isinstance(g, str) for g in globs):
                problems.append(f"{key} must be a list of file-name patterns")
        if problems:
            raise ConsumeError(f"{name}: the mail rule's settings are invalid: "
                               f"{'; '.join(problems)}; fix the rule, then paperfs retry")
        record = data.get("record")
        return cls(consume=data.get("consume", "both"), inline=data.get("inline", False),
                   include=tuple(data.get("include") or ()),
                   exclude=tuple(data.get("exclude") or ()),
                   title_from=data.get("title_from", "filename"),
                   record=None if record is None else str(record))
