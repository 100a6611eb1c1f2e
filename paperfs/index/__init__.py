"""The search index: derived from the archive tree, rebuildable at any time.

The catalog (exact lookups, always local: catalog.py), search and the
writer's index (base.py), opened by factory.py; the embedded backend in
sqlite*.py, Apache Solr in solr*.py and mirrored.py.
"""
