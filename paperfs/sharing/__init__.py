"""Share links: read access to one document or one saved search, without a login,
until the link expires or is revoked (docs/sharing.md).

    store.py     shares.json: the links (a hash of each token), created, listed, revoked
    view.py      what a link shows now: its creator's view of the document or search
    public.py    /s/<token>: the public routes, answered before authentication
    pages.py     the HTML of the shared views and of the creation answers
    create.py    /_share: a logged-in user makes a link (the page's button)
"""
