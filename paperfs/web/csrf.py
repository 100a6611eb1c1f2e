"""CSRF tokens of the web page's forms.

Every POST carries a token in the field ``csrf`` (or the header
``X-CSRF-Token``). It is an HMAC, with a key of this process, of the login
session's token, or for a browser that logged in with HTTP Basic of the user
name: another site can neither read it nor compute it. The session cookie is
``SameSite=Strict`` as well, and a POST whose ``Origin`` is another site is
refused (paperfs/web/http.py ``same_origin``).

``valid(environ, token)`` is what any handler of a POST calls (the share-links
form posts to ``/_share`` with this token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf"
HEADER = "HTTP_X_CSRF_TOKEN"
#: environ key: the login session's token (set by paperfs/web/routing.py)
SESSION_KEY = "paperfs.web.session"

_KEY = secrets.token_bytes(32)


def _subject(environ: dict) -> str | None:
    session = environ.get(SESSION_KEY)
    if session:
        return "session\0" + session
    user = environ.get("paperfs.user")
    if user is not None:
        return "user\0" + user.name
    return None


def token(environ: dict) -> str:
    """The token the asking browser's forms carry ("" for no logged-in user)."""
    subject = _subject(environ)
    if subject is None:
        return ""
    return hmac.new(_KEY, subject.encode("utf-8"), hashlib.sha256).hexdigest()


def valid(environ: dict, given: str | None) -> bool:
    """Whether ``given`` is the token of the user (or session) making this request."""
    expected = token(environ)
    return bool(expected and given) and hmac.compare_digest(expected, given or "")


def given(environ: dict, form: dict[str, list[str]]) -> str:
    """The token a POST carries: the form field, else the header (scripts)."""
    values = form.get(FIELD)
    return values[-1] if values else environ.get(HEADER, "")
