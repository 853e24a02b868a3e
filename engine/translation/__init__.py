"""Translation: a document in, the same document in another language out, kept in shape.

translate.py (Translator: parse → translate paragraph by paragraph → verify), document.py
(which blocks are translated, how the shape is rebuilt), prompts.py (system prompts and
few-shot layouts), guards.py (token budget, end-of-turn, repetition and run-on cuts),
backends/ (the one model contract: llama.cpp and OpenAI-compatible endpoints), registry.py
(the installed models: add, download, choose, remove), gguf_meta.py (reading a GGUF's
header and checking the file is whole) and model_files.py (an opened model is the file that
was added: size and sha256).
"""
