"""OwnVoice's core: everything that is neither a screen nor an SSH hop to the GPU box.

One package per stretch of the loop; imports run one way (tests/test_architecture.py):

    evaluation/, training/  →  pairs/  →  translation/  →  corpus/  →  store/  →  shared ground

- store/        the SQLite database: connection, append-only migrations, queries by table group
- corpus/       import the writer's files and cut them into typed paragraphs (segments)
- translation/  translate a document keeping its shape; prompts, guards, backends/, the
                model registry
- pairs/        training pairs: reverse synthesis (+ batch), filters, corrections, dataset
                export, the OpenAI fine-tuning pilot
- training/     LoRA fine-tuning (`python -m engine.training JOB.json`), checkpoint choice,
                export to GGUF, the local pipeline and the training-target contract
- evaluation/   voice score, chrF++, AI-tone, detectors; baselines, compare, report, blind test

The shared ground (no room of its own, imported by all): errors.py, paths.py, secrets.py,
languages.py, download.py, llm.py (the OpenAI-compatible client), openai_models.py (which
parameters each OpenAI model takes, when it shuts down), retry_after.py, jsonl.py (the one
JSON-lines writer), jobs.py (a job's state and metadata) and events.py (progress events):
the last two are what crosses a process boundary.

Never imports PySide6, `desktop` or `remote`.
"""
