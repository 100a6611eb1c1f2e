"""The mail stage: an .eml becomes its documents (docs/mail-documents.md).

Following the job's mail settings (mail_documents/settings.py): the mail
document (the .eml as its original; its archive PDF rendered by
mail_documents/render.py; title = subject; created = the mail's Date) and
one item per consumable attachment, written into its own scratch folder and
detected afresh from its bytes (a lying Content-Type or name does not
matter), which then go through the stages after this one like any input.

What is not consumed is listed with the reason in the mail document's
header block and sidecar: a part above ``ocr.mail_attachment_max_mb`` (not
even decoded), one the detect stage refuses (a ZIP, an unknown format), one
the rule's include/exclude patterns leave out. A nested message becomes a
mail document of its own (its own attachments are listed in it, not
consumed). A mail with nothing to consume yields nothing: the job ends
without documents and without a failure.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from paperfs.consume.stages import detect as det
from paperfs.errors import ConsumeError
from paperfs.mail_documents import message as mail_message
from paperfs.mail_documents.links import short_reason
from paperfs.mail_documents.render import Listed, html_to_text, mail_text, render_pdf
from paperfs.mail_documents.settings import MailSettings
from paperfs.mail_documents.slim import slimmed

if TYPE_CHECKING:
    from paperfs.consume.messages import WorkItem

log = logging.getLogger(__name__)

MAIL_PDF = "mail.pdf"
#: the note of a part the rule chose not to take (the only skip that needs no keeper)
LEFT_OUT = "not consumed: left out by the rule's file-name patterns"


def run(item: WorkItem) -> WorkItem | tuple[WorkItem, ...]:
    if item.mime != det.MAIL:
        return item
    settings = MailSettings.of(item.task.mail, item.filename)
    limit = int(item.task.ocr.mail_attachment_max_mb * 1024 * 1024)
    if item.original.stat().st_size > limit:
        data = slimmed(item.original, limit)  # parts too large to consume are not even read
    else:
        data = item.data if item.data is not None else item.original.read_bytes()
    mail = mail_message.parse(data, item.filename)
    if mail.defects:
        log.warning("%s: broken MIME structure (%s); read as far as it goes", item.filename,
                    ", ".join(sorted(set(mail.defects))))
    key = "mail"
    taken, listed, skipped = _choose(item, mail, settings, key)
    attachments = [_forwarded(part_item) for part_item in taken]
    # an attachment that could not be consumed (too large, a ZIP…) is kept in the mail's
    # .eml: the mail document is filed even with consume: attachments
    unconsumed = settings.attachment_documents and any(
        entry["reason"] != LEFT_OUT for entry in skipped)
    wanted = settings.mail_document or bool(attachments) or unconsumed
    if not wanted:
        log.info("job %s: %s: no consumable part (consume: %s); nothing to file",
                 item.task.job_id, item.filename, settings.consume)
        return ()
    link = {"role": "mail", "key": key, "record": settings.record,
            "message_id": mail.message_id, "skipped": skipped,
            # consume: attachments — filed only if an attachment fails later (links.settle)
            # or one could not be consumed
            "fallback": not (settings.mail_document or unconsumed)}
    document = mail_document(item.but(data=None), mail, listed).but(mail=link)
    return (document, *attachments)


def mail_document(item: WorkItem, mail: mail_message.Mail, listed: list[Listed]) -> WorkItem:
    """The item with its mail rendered: PDF, text, title, created."""
    target = item.scratch / MAIL_PDF
    try:
        pages = render_pdf(mail, listed, target)
    except Exception as exc:  # noqa: BLE001 - WeasyPrint on hostile HTML: the text still counts
        log.warning("%s: the HTML body could not be rendered (%s); rendered as text", item.filename,
                    exc)
        text = mail.text if mail.text is not None else html_to_text(mail.html or "")
        pages = render_pdf(dataclasses.replace(mail, html=None, text=text), listed, target)
    created = mail.date.date() if mail.date else None
    return item.but(pdf=target, text=mail_text(mail, listed), pages=pages,
                    title=mail.subject or item.title, created=created, data=None)


def _choose(item: WorkItem, mail: mail_message.Mail, settings: MailSettings, key: str
            ) -> tuple[list[WorkItem], list[Listed], list[dict[str, str]]]:
    """The attachment items to consume (detected), the header's list, what is skipped."""
    limit = item.task.ocr.mail_attachment_max_mb
    taken: list[WorkItem] = []
    listed: list[Listed] = []
    skipped: list[dict[str, str]] = []
    for part in mail.parts:
        if part.inline and not settings.inline:
            continue
        note = ""
        if not settings.attachment_documents:
            pass
        elif not settings.wants(part.filename):
            note = LEFT_OUT
        elif part.decoded_size > limit * 1024 * 1024:
            note = (f"not consumed: {part.decoded_size / 1024 / 1024:.1f} MB is more than "
                    f"ocr.mail_attachment_max_mb ({limit:g} MB); it stays in the mail's .eml")
        else:
            number = len(taken) + 1
            part_item = _written(item, part, number, settings, mail, key)
            try:
                taken.append(det.run(part_item))
            except ConsumeError as exc:
                note = f"not consumed: {_reason(exc, part_item)}"
        listed.append(Listed(part.filename, note))
        if note:
            skipped.append({"name": part.filename, "reason": note})
            log.info("job %s: %s: %s %s", item.task.job_id, item.filename, part.filename, note)
    return taken, listed, skipped


def _written(item: WorkItem, part: mail_message.Part, number: int, settings: MailSettings,
             mail: mail_message.Mail, key: str) -> WorkItem:
    from paperfs.consume.pipeline import title_from_filename

    title = mail.subject if settings.title_from == "subject" and mail.subject else \
        title_from_filename(part.filename)
    folder = item.task.scratch / f"part-{number}"
    part_item = item.part(number, folder / _safe_name(part.filename), part.filename, title)
    part_item.original.write_bytes(part.payload())
    # created: left to the dates stage; an attachment's own text names its date better
    return part_item.but(mail={"role": "attachment", "of": key, "record": settings.record,
                               "name": part.filename})


def _forwarded(part_item: WorkItem) -> WorkItem:
    """An attached message as a mail document of its own (titled by its subject, like
    every mail document), its attachments listed in it, not consumed."""
    if part_item.mime != det.MAIL:
        return part_item
    try:
        nested = mail_message.parse(part_item.original.read_bytes(), part_item.filename)
    except ConsumeError as exc:  # the text stage fails this part alone, with the reason
        log.warning("%s: %s", part_item.filename, exc)
        return part_item
    listed = [Listed(p.filename, "") for p in nested.attachments]
    return mail_document(part_item, nested, listed)


def _reason(exc: ConsumeError, item: WorkItem) -> str:
    message = str(exc).replace(str(item.original), item.filename)
    return short_reason(message.replace(item.original.name, item.filename), item.filename)


def _safe_name(filename: str) -> str:
    name = "".join(c if c.isalnum() or c in "._- " else "_" for c in filename).strip(" .")
    return (name or "attachment")[:120]
