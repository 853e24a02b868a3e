"""One module per page: Translate, Corpus, Data, Train, Compare, Models, Settings."""
