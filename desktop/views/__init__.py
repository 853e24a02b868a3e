"""One page per job: Translate, Corpus, Models, Settings."""
