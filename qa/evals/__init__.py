"""The eval suite: hand-written cases over the corpus, scored deterministically and for free."""
