"""The archive on disk: documents and sidecars, the tree, the one writer, trash, check, reindex."""
