"""The user's own share links on the page: listed, and revoked with a button.

``paperfs share list|revoke`` needs a shell on the server; a user who made a
link with the page's share button revokes it here. Each user sees and revokes
only the links he made (a superuser: every link); another user's link answers
404, exactly like one that does not exist. Only a link's short id is used
here: its token is never stored, and never shown again after its creation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from paperfs.errors import NotFoundError
from paperfs.web.http import Request, StartResponse, redirect, respond, url_of
from paperfs.web.templates import render

if TYPE_CHECKING:
    from paperfs.web.routing import WebSite


def _mine(site: "WebSite", req: Request) -> list:
    user = req.user
    return [link for link in site.shares.links()
            if user.superuser or link.creator == user.name]


def listing(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    now = site.shares.now()
    links = sorted(_mine(site, req), key=lambda link: link.created, reverse=True)
    return respond(start_response, "200 OK", render(
        "shares.html", **site.common(req), links=[(link, link.state(now)) for link in links],
        revoked=req.args.get("revoked", "")))


def revoke(site: "WebSite", req: Request, start_response: StartResponse,
           link_id: str) -> Iterable[bytes]:
    if not any(link.id == link_id for link in _mine(site, req)):
        return site.error(req, start_response, "404 Not Found", "No such share link.")
    try:
        site.shares.revoke(link_id)
    except NotFoundError:  # dropped meanwhile (ended more than 30 days ago)
        return site.error(req, start_response, "404 Not Found", "No such share link.")
    return redirect(start_response, url_of("/_/shares", revoked=link_id))
