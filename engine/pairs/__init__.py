"""Training pairs: the writer's paragraphs matched with a machine-flavoured source.

synthesis.py (reverse synthesis: an LLM translates each paragraph INTO the source
language, and the pair is flipped), synthesis_batch.py (the same through OpenAI's Batch
API), filters.py (numbers, language and length checks on a synthetic pair), corrections.py
(a corrected translation becomes a weighted pair; word diffs), alignment.py (a post and
its published translation aligned paragraph by paragraph, Gale–Church with anchors; the
confident groups become weighted pairs), dataset.py (JSONL export in chat or OpenAI
format, validation hold-out) and pilot.py (the OpenAI fine-tuning pilot).
"""
