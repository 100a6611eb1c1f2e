"""Classification of documents: the matching rules of labels (issue 14)."""
