"""Translation: a document in, the same document in another language out, kept in shape.

translate.py (Translator: parse → translate paragraph by paragraph → verify), document.py
(Markdown, HTML and text parsed into prose units; the shape rebuilt and verified),
protect.py (what must come back exactly becomes ⟦n⟧ placeholders), source_file.py (a file
read as import reads it, its translation written back in its shape), publish.py (a
translated post made ready for Pelican, Hugo or Jekyll), prompts.py (system prompts and
few-shot layouts), guards.py (token budget, end-of-turn, repetition and run-on cuts),
in_order.py (a document shown in its order while its paragraphs are translated at once),
backends/ (the one model contract: llama.cpp — batched.py decodes several paragraphs
together, sequence.py is what create_completion does per sequence — and OpenAI-compatible
endpoints), registry.py
(the installed models: add, download, choose, remove), gguf_meta.py (reading a GGUF's
header and checking the file is whole) and model_files.py (an opened model is the file that
was added: size and sha256).
"""
