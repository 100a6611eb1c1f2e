"""An .eml read into what the mail documents need: headers, body, parts.

The stdlib ``email`` package with ``policy.default`` parses it; it is
tolerant of broken MIME (a missing boundary, a bad transfer encoding) and
records defects instead of raising. Headers in RFC 2047 are decoded by the
policy; raw 8-bit headers (a mailer that ignored the RFC) come out with
surrogate escapes and are decoded as UTF-8, else Windows-1252.

A part is an *attachment* when it has a file name or says
``Content-Disposition: attachment``, or when it is neither the body nor a
text alternative of it; it is *inline* when it says ``inline`` or is
referenced by ``cid:`` from the HTML body (images of the HTML). A nested
message (``message/rfc822``) is an attachment whose bytes are that message.
"""

from __future__ import annotations

import datetime as dt
import email
import email.utils
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message

from paperfs.errors import BrokenFileError
from paperfs.mail_documents.slim import omitted_size

_BODY_TYPES = ("text/plain", "text/html")


@dataclass(frozen=True)
class Part:
    """One leaf of the message other than the body."""

    number: int  # 1, 2, … in the order of the message
    filename: str  # as the mail names it, or made up from the number and type
    content_type: str  # what the mail claims; the bytes decide (detect)
    inline: bool
    content_id: str | None
    #: the encoded size: known without decoding the part
    encoded_size: int
    message: Message = field(repr=False, compare=False)

    def payload(self) -> bytes:
        """The decoded bytes (base64, quoted-printable) of the part."""
        if self.message.get_content_type() == "message/rfc822":
            inner = self.message.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return inner.as_bytes(policy=policy.compat32.clone(linesep="\r\n"))
        data = self.message.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""

    @property
    def decoded_size(self) -> int:
        """About the size of the decoded bytes (base64 takes 4 characters for 3)."""
        encoding = str(self.message.get("Content-Transfer-Encoding", "")).strip().lower()
        return self.encoded_size * 3 // 4 if encoding == "base64" else self.encoded_size


@dataclass(frozen=True)
class Mail:
    subject: str
    sender: str
    to: str
    cc: str
    date: dt.datetime | None
    message_id: str | None
    html: str | None
    text: str | None
    parts: tuple[Part, ...]
    defects: tuple[str, ...] = ()

    @property
    def attachments(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if not p.inline)


def parse(data: bytes, name: str) -> Mail:
    """The mail in *data* (the .eml named *name*). BrokenFileError when it holds
    no mail at all (no headers a mail has, nothing in it)."""
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    if not message.keys():
        raise BrokenFileError(f"{name}: not an e-mail (no mail headers); nothing could be read")
    html = text = None
    body = _body(message, "html")
    if body is not None:
        html = _content(body)
    plain = _body(message, "plain")
    if plain is not None:
        text = _content(plain)
    chosen = {id(p) for p in (body, plain) if p is not None}
    parts = tuple(_parts(message, chosen))
    date = _date(message)
    defects = tuple(type(d).__name__ for p in message.walk() for d in getattr(p, "defects", ()))
    return Mail(subject=header(message, "subject"), sender=header(message, "from"),
                to=header(message, "to"), cc=header(message, "cc"), date=date,
                message_id=header(message, "message-id") or None, html=html, text=text,
                parts=parts, defects=defects)


def header(message: Message, key: str) -> str:
    """A header as text: RFC 2047 decoded, stray 8-bit bytes decoded, one line."""
    try:
        value = message.get(key)
    except Exception:  # noqa: BLE001 - the policy's header parser fails on some broken ones
        value = next((v for k, v in message.raw_items() if k.lower() == key), None)
    if value is None:
        return ""
    text = str(value)
    if "\ufffd" in text:  # the policy replaced raw 8-bit bytes: decode them ourselves
        raw = next((v for k, v in message.raw_items() if k.lower() == key), None)
        if isinstance(raw, str) and (fixed := fix_8bit(raw)) != raw:
            text = fixed
    return " ".join(text.split())


def fix_8bit(value: str) -> str:
    """Undo the surrogate escapes of raw 8-bit bytes: UTF-8, else Windows-1252."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _date(message: Message) -> dt.datetime | None:
    value = header(message, "date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _body(message: EmailMessage, kind: str) -> Message | None:
    try:
        return message.get_body(preferencelist=(kind,))
    except Exception:  # noqa: BLE001 - broken structure: no body found this way
        return None


def _content(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    for encoding in (charset, "utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", "replace")


def _parts(message: Message, chosen: set[int]):
    number = 0
    stack: list[Message] = [message]
    while stack:
        current = stack.pop(0)
        if current.get_content_type() == "message/rfc822" and current is not message:
            number += 1
            yield _part(current, number, inline=False)
            continue
        if current.is_multipart():
            payload = current.get_payload()
            stack[0:0] = [p for p in payload if isinstance(p, Message)]
            continue
        if id(current) in chosen:
            continue
        disposition = current.get_content_disposition()
        if (current.get_content_type() in _BODY_TYPES and disposition is None
                and not current.get_filename()):
            continue  # another alternative of the body
        number += 1
        yield _part(current, number, inline=disposition == "inline" or (
            disposition is None and current.get("Content-ID") is not None))


def _part(current: Message, number: int, *, inline: bool) -> Part:
    content_type = current.get_content_type()
    filename = fix_8bit(current.get_filename() or "").strip()
    if not filename:
        if content_type == "message/rfc822":
            inner = current.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            subject = header(inner, "subject") if isinstance(inner, Message) else ""
            filename = f"{subject or f'message {number}'}.eml"
        else:
            filename = f"part {number}{_EXTENSIONS.get(content_type, '')}"
    raw = current.get_payload()
    if isinstance(raw, str) and (omitted := omitted_size(raw)) is not None:
        size = omitted  # left out unread: too large to consume (slim.py)
    elif isinstance(raw, (str, bytes)):  # line breaks are no part of the content
        size = len(raw) - raw.count("\n" if isinstance(raw, str) else b"\n")
    else:
        size = len(current.as_bytes())
    content_id = current.get("Content-ID")
    return Part(number=number, filename=filename.replace("/", "_").replace("\\", "_"),
                content_type=content_type, inline=inline,
                content_id=str(content_id).strip().strip("<>") if content_id else None,
                encoded_size=size, message=current)


_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
               "image/gif": ".gif", "text/plain": ".txt", "text/html": ".html"}
