"""The corpus: the writer's own files in, typed paragraphs (segments) out.

importer.py walks files and folders and saves documents through the store; reading.py
decodes bytes; frontmatter.py, markdown.py, html.py, plaintext.py and wxr.py parse each
format into parsed.ParsedDocument / parsed.Segment (blocks.py and cleanup.py are shared by
the parsers); ghost.py, substack.py and medium.py read the hosted blogs' exports, hugo.py
Hugo's bundles and file-name languages; lang.py detects languages; split.py decides a
document's train/val/test split; works.py links a post and its translations into one work
(one split; which version is the writer's original); bilingual.py finds a post and its
translation in one file; machine.py recognises OwnVoice's own machine translations coming
back as files; markup.py holds the generator markup recognisers shared with the translator.
"""
