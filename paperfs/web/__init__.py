"""The web page: search, read, edit and upload from a browser (docs/web.md).

Served by the WebDAV server on its port with its logins (paperfs/web/routing.py
tells a browser from a WebDAV client). One module per concern: routing,
sessions (login), csrf, http (requests and answers), pages (what a GET shows),
forms (what a POST changes), multipart (uploads), thumbnails, templates, static.
"""
