"""WebDAV: the archive and live virtual folders as a network drive (docs/webdav.md).

wsgidav on cheroot. The namespace is per user and filtered by permissions:

    /inbox/            the user's upload folder (real files)      inbox.py
    /archive/...       the real tree (PDFs read-only, sidecars)   tree.py
    /tags/ /correspondents/ /types/ /years/ /saved/ /search/
    /asn/ /by-id/      virtual folders listed from the index      virtual.py
    /trash/            deleted documents                          trash_folder.py

The provider (provider.py) resolves a path with one small class per folder
level; server.py assembles the WSGI stack (guard, authentication, streaming
PROPFIND, wsgidav) and runs it on cheroot.
"""
