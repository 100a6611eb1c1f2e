"""The links between a mail document and its attachment documents.

The documents of one job are linked before they have ids: the worker
numbers them by their place among the job's proposals (``settle``), and the
writer, which decides every part's id before it writes the first sidecar
(Archive.commit), turns the numbers into ids (``resolve``). So each sidecar
is written once, with its links, and a restart after a crash resolves to
the same ids (they are recorded in job.yml). The sidecar field ``mail``:

- the mail document: ``{role: mail, record, message_id, attachments: [ids],
  skipped: [{name, reason}]}``
- an attachment document: ``{role: attachment, record, of: the mail's id, name}``

Light on purpose: the writer imports it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from paperfs.archive.document import Document
    from paperfs.consume.messages import ProposedDocument, WorkItem

log = logging.getLogger(__name__)

FIELD = "mail"


def settle(items: Sequence[WorkItem], failed: Sequence[tuple[WorkItem, str]]
           ) -> tuple[list[WorkItem], list[Mapping[str, Any] | None]]:
    """The items to propose, and each one's link (by part number) for the writer.

    *failed* are attachment items a stage failed, with the reason: noted in
    their mail document. A mail document made only as a keeper
    (``fallback``: consume attachments) is proposed only when a part failed,
    so that the failed part's bytes stay in the archive (in the .eml)."""
    late: dict[str, list[dict[str, str]]] = {}
    for item, reason in failed:
        log.warning("job %s: %s not filed: %s", item.task.job_id, item.filename, reason)
        late.setdefault(item.mail.get("of", ""), []).append(
            {"name": item.filename, "reason": reason})
    kept = [item for item in _once(items)
            if not (item.mail and item.mail.get("fallback") and not late.get(item.mail["key"]))]
    mails = {item.mail["key"]: number for number, item in enumerate(kept)
             if item.mail and item.mail.get("role") == "mail"}
    links: list[Mapping[str, Any] | None] = []
    for number, item in enumerate(kept):
        link = dict(item.mail or {})
        if not link:
            links.append(None)
            continue
        if link.get("role") == "mail":
            link["attachment_parts"] = [n for n, other in enumerate(kept)
                                        if other.mail and other.mail.get("of") == link["key"]]
            link["skipped"] = list(link.get("skipped", ())) + late.get(link["key"], [])
        else:
            link["mail_part"] = mails.get(link.get("of", ""))
        links.append(link)
    return kept, links


def _once(items: Sequence[WorkItem]) -> list[WorkItem]:
    """The items without a mail's second copy of one attachment (the same bytes under
    two names, as some mailers send): the writer would refuse it as a duplicate."""
    from paperfs.archive.document import sha256_file

    seen: set[str] = set()
    out = []
    for item in items:
        if item.mail and item.mail.get("role") == "attachment":
            digest = sha256_file(item.original)
            if digest in seen:
                log.info("job %s: %s is the same file as an attachment before it; filed once",
                         item.task.job_id, item.filename)
                continue
            seen.add(digest)
        out.append(item)
    return out


def short_reason(message: str, filename: str) -> str:
    """A part's error as its mail lists it: without its name in front or the list
    of supported types at the end."""
    message = message.removeprefix(f"{filename}: ")
    return message.split("; supported types:", 1)[0]


def resolve(link: Mapping[str, Any] | None, ids: Sequence[int | None]) -> dict[str, Any] | None:
    """The sidecar's ``mail`` field of a link, part numbers turned into document ids."""
    if not link:
        return None
    out: dict[str, Any] = {"role": link.get("role")}
    if link.get("record") is not None:
        out["record"] = link["record"]
    if link.get("role") == "mail":
        if link.get("message_id"):
            out["message_id"] = link["message_id"]
        out["attachments"] = [ids[n] for n in link.get("attachment_parts", ()) if ids[n]]
        if link.get("skipped"):
            out["skipped"] = [dict(s) for s in link["skipped"]]
    else:
        number = link.get("mail_part")
        if number is not None and ids[number] is not None:
            out["of"] = ids[number]
        out["name"] = link.get("name")
    return out


def known_attachments(proposals: Sequence[ProposedDocument],
                      find_checksum: Callable[[str], Any], ours: set[int | None]
                      ) -> dict[int, int]:
    """Part number -> id, for the attachments the archive already holds (another
    mail brought the same file): the mail links to that document instead of
    failing as a duplicate. Also the mail document itself when a mail rule
    handed over a mail the archive holds (a second rule that took the same
    mail: its new attachments are linked to the first one's mail document);
    an .eml dropped in twice still fails as a duplicate, as any file does. A
    document this job filed itself is not one of them (a restart decides the
    same)."""
    known = {}
    for number, proposal in enumerate(proposals):
        role = (proposal.mail or {}).get("role")
        if role != "attachment" and not (role == "mail" and proposal.mail.get("record")):
            continue
        existing = find_checksum(proposal.original_sha256)
        if existing is not None and existing.id not in ours:
            log.info("%s: already in the archive as document %d; linked, not filed again",
                     proposal.original_filename, existing.id)
            known[number] = existing.id
    return known


def ids_by_number(count: int, known: Mapping[int, int], filed: Sequence[int | None]
                  ) -> list[int | None]:
    """The id of each of the job's *count* proposals: a known one's, else the next filed."""
    rest = iter(filed)
    return [known[n] if n in known else next(rest, None) for n in range(count)]


def with_mail_links(doc: Document, proposal: ProposedDocument,
                    ids: Sequence[int | None]) -> Document:
    """*doc* as filed: with its ``mail`` field when it is part of a mail (the writer)."""
    field = resolve(proposal.mail, ids)
    return doc if field is None else doc.replace(extra={**doc.extra, FIELD: field})


def of_document(extra: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A filed document's mail link (its sidecar's ``mail`` field), or None."""
    value = extra.get(FIELD)
    return value if isinstance(value, Mapping) else None
