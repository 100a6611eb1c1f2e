"""The search index: derived from the archive tree, rebuildable at any time."""
