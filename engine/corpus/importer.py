"""Import files and folders into the store: find documents, read, segment, save.

One bad file never stops the others; each document is written in its own
transaction, so none is ever half-written. A damaged or read-only database is no file's
fault: it stops the import with the store's one-line error. Unchanged files are
recognised by their hash before they are parsed, which makes a second import of a big
blog nearly free; what was wrong with such a file when it was read (its warnings, kept with
the document) is said again. OwnVoice's own machine translations that come back as files are
left out, with the reason (engine/corpus/machine.py).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from engine import languages
from engine.corpus import (
    bilingual,
    frontmatter,
    ghost,
    html,
    hugo,
    lang,
    machine,
    markdown,
    medium,
    parsed,
    plaintext,
    substack,
    works,
    wxr,
)
from engine.corpus.reading import SkipFile, decode_bytes
from engine.errors import OwnVoiceError

FORMATS = {
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".mkdn": "markdown", ".mdx": "markdown",
    # R Markdown and Quarto: Markdown whose ```{r} chunks are code
    ".rmd": "markdown", ".rmarkdown": "markdown", ".qmd": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".txt": "text", ".text": "text",
    ".xml": "wxr",
    ".json": "ghost",  # a Ghost export; other JSON is passed over
    ".csv": "substack",  # a Substack export's posts.csv; other CSV is passed over
    # Writing OwnVoice does not read yet: said, not passed over in silence.
    ".org": "unread", ".rst": "unread", ".adoc": "unread", ".asciidoc": "unread",
    ".njk": "unread", ".liquid": "unread", ".astro": "unread", ".textile": "unread",
}
_UNREAD = {".org": "Org mode", ".rst": "reStructuredText", ".adoc": "AsciiDoc",
           ".asciidoc": "AsciiDoc", ".njk": "a Nunjucks template", ".liquid": "a Liquid template",
           ".astro": "an Astro component", ".textile": "Textile"}
# Folders inside an imported folder that never hold the user's own writing: generated
# sites (Hugo's public/, Jekyll's _site/) repeat every post, themes bring example posts,
# layouts and includes are templates.
# Named directly on the command line, they are imported like any folder.
IGNORED_DIRS = {"public", "_site", "themes", "node_modules", "__pycache__", "vendor",
                "site-packages",
                # templates, not writing: Jekyll's and Hugo's layouts and partials
                "_layouts", "_includes", "layouts", "partials", "archetypes", "scaffolds",
                "templates"}
DRAFT_DIRS = {"_drafts"}  # Jekyll and Hexo keep unpublished posts here

Progress = Callable[[int, int, str], None]  # (done, total, current path)


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    segments_added: int = 0
    passed_over: int = 0  # files that are not documents (images, PDFs, media…)
    relinked: int = 0  # documents whose work (a post and its translations) changed
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)

    def as_json(self) -> dict:
        data = asdict(self)
        data["skipped"] = [asdict(s) for s in self.skipped]
        data["warnings"] = [asdict(s) for s in self.warnings]
        return data


def find_documents(paths: Iterable[Path]) -> tuple[list[tuple[Path, Path]], int, list[Skipped]]:
    """(file, the folder it was found under) for every document file; the number of files
    that are not documents; the links that are not followed.

    Inside a folder, a link to a file outside it is not followed (a link in a blog must not
    bring in ~/.ssh), nor is any link to a folder (no loops, nothing twice). What is named
    directly is read, link or not.
    """
    found: list[tuple[Path, Path]] = []
    passed_over = 0
    links: list[Skipped] = []
    for path in paths:
        path = Path(path).expanduser()
        if path.name == "posts" and substack.is_export(path.parent):
            found.append((path.parent / "posts.csv", path.parent))  # the export it belongs to
            continue
        if path.is_file():
            if path.suffix.lower() in FORMATS:
                found.append((path, path.parent))
            else:
                passed_over += 1
            continue
        inside = path.resolve()
        for folder, dirs, files in os.walk(path):
            passed_over += medium.skip_account_data(folder, dirs, files)
            if substack.is_export(Path(folder)):
                dirs.remove("posts")  # read through posts.csv
            kept = []
            for name in sorted(dirs):
                if name.startswith(".") or name in IGNORED_DIRS:
                    continue
                if Path(folder, name).is_symlink():
                    target = Path(folder, name).resolve()
                    links.append(Skipped(str(Path(folder, name)), (
                        f"a link to the folder {target}: links to folders are not followed "
                        "(import that folder directly if it holds your writing)")))
                    continue
                kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                if name.startswith("."):
                    continue
                file = Path(folder, name)
                if Path(name).suffix.lower() not in FORMATS:
                    passed_over += 1
                elif file.is_symlink() and not file.resolve().is_relative_to(inside):
                    links.append(Skipped(str(file), (
                        f"a link to {file.resolve()}, outside the folder being imported: not "
                        "followed (import that file directly if it is yours)")))
                else:
                    found.append((file, path))
    return found, passed_over, links


def import_paths(store, paths: Iterable[Path | str], *, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> ImportReport:
    store.require_writable()  # a read-only data folder says so before any work
    report = ImportReport()
    roots = [Path(p).expanduser() for p in paths]
    for root in roots:
        if not root.exists():
            report.skipped.append(Skipped(str(root), "no such file or folder"))
    files, report.passed_over, links = find_documents(r for r in roots if r.exists())
    report.skipped += links
    if files:
        lang.warm_up()
    for done, (file, root) in enumerate(files):
        if cancelled is not None and cancelled():
            break
        if progress is not None:
            progress(done, len(files), str(file))
        try:
            _import_file(store, file, root, report)
        except SkipFile as exc:
            report.skipped.append(Skipped(str(file), str(exc)))
        except OSError as exc:
            report.skipped.append(Skipped(str(file), f"cannot read: {exc.strerror or exc}"))
        except OwnVoiceError:
            raise  # the store's (a damaged or read-only database): not this file's fault
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise OwnVoiceError(
                    f"The disk holding the OwnVoice database is full ({exc}). Nothing was "
                    f"half-written: free some space and import again to continue.") from exc
            raise
        except Exception as exc:  # a reader bug must not cost the user the other files
            report.skipped.append(Skipped(
                str(file), f"could not be read ({type(exc).__name__}: {exc}); nothing of it "
                           "was saved. Please report this file's format."))
    # A post and its translations are one work, however many imports brought them in.
    report.relinked = works.relink(store)
    if progress is not None:
        progress(len(files), len(files), "")
    return report


def _import_file(store, file: Path, root: Path, report: ImportReport) -> None:
    data = file.read_bytes()
    fmt = FORMATS[file.suffix.lower()]
    if fmt == "wxr":
        _import_wxr(store, file, data, report)
        return
    if fmt in ("ghost", "substack"):
        _import_export(store, file, data, fmt, report)
        return
    if fmt == "unread":
        raise SkipFile(f"{_UNREAD[file.suffix.lower()]} is not read yet; export it as Markdown "
                       "or HTML to import it")
    if DRAFT_DIRS & set(file.relative_to(root).parts[:-1] if file.is_relative_to(root) else ()):
        raise SkipFile("draft (in a _drafts folder)")
    if fmt == "html" and (reason := medium.left_out_reason(file, data)
                          or substack.orphan_reason(file)):
        raise SkipFile(reason)
    key = str(file.resolve())
    content_hash = parsed.content_hash(data)
    if store.document_hash(key) == content_hash:
        # Not read again, but what was wrong with it is said again; a file read before
        # warnings were kept (None) is read once more to learn them.
        known = store.document_warnings(key)
        if known is not None:
            report.unchanged += 1
            report.warnings += [Skipped(str(file), warning) for warning in known]
            return
    elif (moved := store.moved_document(content_hash, fmt)) is not None:
        _count(report, store.move_document(moved, key=key, path=str(file)), 0)
        report.warnings += [Skipped(str(file), w) for w in store.document_warnings(key) or []]
        return
    text, encoding = decode_bytes(data)
    split_key = hugo.work_key(
        file.relative_to(root).as_posix() if file.is_relative_to(root) else file.name)
    doc = parsed.ParsedDocument(key=key, path=str(file), format=fmt, content_hash=content_hash,
                               split_key=split_key)
    if encoding not in ("utf-8", "ascii"):
        doc.meta["encoding"] = encoding
    said = len(report.warnings)
    declared_lang = _parse_into(doc, medium.clean(text) if fmt == "html" else text, file, report)
    if reason := machine.marker_reason(text, doc.meta):
        raise SkipFile(reason)
    if doc.title == file.stem:  # no title of its own: a Hugo bundle is named by its folder
        doc.title = hugo.bundle_title(file) or doc.title
    declared_lang = declared_lang or hugo.filename_lang(file.name)
    if not any(s.text for s in doc.segments):
        raise SkipFile("no text found in it")
    doc.warnings = [w.reason for w in report.warnings[said:] if w.path == str(file)]
    _save(store, doc, declared_lang, report)


def _parse_into(doc: parsed.ParsedDocument, text: str, file: Path,
                report: ImportReport) -> str | None:
    """Fill the document's segments and metadata; returns the language it declares."""
    if doc.format == "markdown":
        header = frontmatter.parse(text)
        if not header.meta and header.warning is None:
            header = frontmatter.notion(text) or header
        if header.warning:
            report.warnings.append(Skipped(str(file), header.warning))
        if header.draft_reason:
            raise SkipFile(header.draft_reason)
        doc.meta.update(header.meta)
        doc.segments = markdown.segments(header.body)
        doc.title = header.title or _first_heading(doc.segments) or file.stem
        doc.date, doc.url = header.date or _dated_name(file), header.url
        return header.lang
    if doc.format == "html":
        page = html.parse_page(text)
        doc.segments = page.segments
        doc.title = page.title or file.stem
        doc.date, doc.url = page.date, page.url
        return page.lang
    doc.segments = plaintext.segments(text)
    doc.title = file.stem
    return None


_DATED_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})-")


def _dated_name(file: Path) -> str | None:
    """The date a Jekyll/Hexo post's file name starts with (`2021-03-01-hello.md`), when its
    header has none: Jekyll's own rule."""
    match = _DATED_NAME.match(file.name)
    if not match:
        return None
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _import_wxr(store, file: Path, data: bytes, report: ImportReport) -> None:
    text, _ = decode_bytes(data)
    if not wxr.looks_like_wxr(text[:20000]):
        report.passed_over += 1  # sitemap.xml, feed.xml…: XML, but not writing
        return
    try:
        export = wxr.parse(text, str(file))
    except wxr.MalformedXml as exc:
        raise SkipFile(f"{exc}; export it again from WordPress (Tools → Export)") from exc
    except wxr.NotWxr:
        report.passed_over += 1
        return
    report.skipped += [Skipped(where, reason) for where, reason in export.left_out]
    for post in export.posts:
        # A multilingual site's language and translation group are part of what was read (a
        # one-language site's posts keep the hash they always had).
        languages = [post.meta.get(k) or "" for k in ("language", "translation_group",
                                                       "source_language")]
        content_hash = parsed.content_hash("\0".join(
            (post.title, post.date or "", post.body_html) + (tuple(languages)
                                                             if any(languages) else ())))
        doc = parsed.ParsedDocument(
            key=f"wxr:{post.guid}", path=f"{file}#{post.meta.get('slug') or post.post_id}",
            format="wxr", content_hash=content_hash, split_key=post.guid,
            title=post.title or None, date=post.date, url=post.link, meta=post.meta)
        _save_post(store, doc, wxr.clean_body(post.body_html), None,
                   post.meta.get("language"), report)


_AGAIN = {"ghost": "export it again from Ghost (Settings → Advanced → Migration → Export "
                   "content)",
          "substack": "export it again from Substack (Settings → Export your data)"}


def _import_export(store, file: Path, data: bytes, fmt: str, report: ImportReport) -> None:
    """A Ghost export (.json) or a Substack export (its posts.csv): one document per
    published post; drafts and what the export cannot account for are named in the report.
    Other JSON and CSV files are passed over."""
    try:
        if fmt == "ghost":
            text, _ = decode_bytes(data)
            if not ghost.looks_like_ghost(text):
                report.passed_over += 1
                return
            export, chrome = ghost.parse(text, file), ghost.CHROME
        elif file.name == "posts.csv" and substack.is_export(file.parent):
            export, chrome = substack.read(file.parent), substack.CHROME
        else:
            report.passed_over += 1
            return
    except (ghost.MalformedJson, substack.MalformedCsv) as exc:
        raise SkipFile(f"{exc}; {_AGAIN[fmt]}") from exc
    except ghost.NotGhost:
        report.passed_over += 1
        return
    report.passed_over += export.passed_over
    report.skipped += [Skipped(where, reason) for where, reason in export.left_out]
    for post in export.posts:
        _save_post(store, post.doc, post.body_html, chrome, export.lang, report)


def _save_post(store, doc: parsed.ParsedDocument, body_html: str, chrome, declared_lang,
               report: ImportReport) -> None:
    """One post of an export: recognised as unchanged by its hash, else parsed and saved."""
    if store.document_hash(doc.key) == doc.content_hash:
        report.unchanged += 1
        return
    doc.segments = html.fragment_segments(body_html, chrome=chrome)
    if not any(s.text for s in doc.segments):
        report.skipped.append(Skipped(doc.path, "no text found in this post"))
        return
    _save(store, doc, declared_lang, report)


def _save(store, doc: parsed.ParsedDocument, declared_lang: str | None,
          report: ImportReport) -> None:
    # OwnVoice's own translation, saved from the app or republished: never the writer's.
    if reason := machine.history_reason(store, doc):
        report.skipped.append(Skipped(doc.path, reason))
        return
    assign_languages(doc, declared_lang)
    bilingual.mark(doc)  # a post and its translation in one file
    _count(report, *store.save_document(doc))


def _count(report: ImportReport, outcome: str, added: int) -> None:
    """Count what the store says it did: the hash it re-checks inside its write transaction
    is the word, so two imports at once never both count the same change."""
    setattr(report, outcome, getattr(report, outcome) + 1)
    report.segments_added += added


def _first_heading(segments: list[parsed.Segment]) -> str | None:
    for segment in segments:
        if segment.kind == parsed.HEADING:
            return segment.text
    return None


def assign_languages(doc: parsed.ParsedDocument, declared: str | None = None) -> None:
    """Language per segment, and the document's: the language most of its prose is in.

    Short segments ("Thanks!") are too short to identify alone: where their script
    matches the document's language, they take the document's language. A Chinese
    document is Simplified or Traditional by the characters of all its Chinese text (else
    as declared); its paragraphs whose characters do not tell take the document's script.
    """
    guesses: list[tuple[parsed.Segment, str | None, bool]] = []
    weight: Counter = Counter()
    for segment in doc.segments:
        if segment.kind not in parsed.WORDY_KINDS or not segment.text:
            continue
        code, confident = lang.detect(segment.text)
        guesses.append((segment, code, confident))
        if code and segment.kind == parsed.PROSE:
            weight[languages.family(code)] += len(segment.text)
    if not weight:
        for _, code, _ in guesses:
            if code:
                weight[languages.family(code)] += 1
    declared_lang = languages.code(declared) or (declared or "").split("-")[0] or None
    doc_lang = weight.most_common(1)[0][0] if weight else declared_lang
    if doc_lang == "zh":
        chinese = "".join(s.text for s, code, _ in guesses if languages.family(code) == "zh")
        doc_lang = lang.chinese_script(chinese, sample=False) or (
            declared_lang if languages.family(declared_lang) == "zh" else "zh")
    for segment, code, confident in guesses:
        if code and not confident and doc_lang and lang.same_script(code, doc_lang):
            code = doc_lang
        elif languages.family(code) == "zh" == languages.family(doc_lang):
            code = lang.detect(segment.text, prefer=doc_lang)[0]
        segment.lang = code
    doc.lang = doc_lang
