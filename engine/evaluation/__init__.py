"""Proving it: how much a fine-tune sounds like the writer, against what else there is.

metrics.py (voice score, chrF++, AI-tone lexicon, collapse and run-on detectors, overshoot
flags), baselines.py (plain, style prompt, random and retrieved few-shot), compare.py
(every system on the same held-out pairs, scored and stored), report.py (a self-contained
HTML report) and blind.py (the blind test: which one did you write, which one is better).
"""
