"""HTML → segments: the article's own text, without the site around it.

Finds the article (`<article>`, `<main>`, a post-content container, else `<body>`),
drops navigation, headers, footers, sidebars, comments, scripts and styles, then
walks the blocks: every `<p>`, heading, list, quote, code block, table and figure
becomes one segment; loose text between `<br><br>` in old-style pages becomes
paragraphs too. Also used for WordPress post bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from engine.corpus import parsed
from engine.corpus.blocks import classify_paragraph
from engine.corpus.cleanup import BREAK_MARK, fold_spaces, has_words, is_wide

_DROP = {"script", "style", "noscript", "template", "svg", "iframe", "form", "button", "input",
         "select", "textarea", "canvas", "object", "embed", "link", "meta", "head", "audio",
         "video", "map", "dialog"}
_CHROME = {"nav", "header", "footer", "aside"}
# Chrome: a class or id with one of these words as a part (`article-share`, `post-meta`,
# `embedded-post`); content: a whole class or id token that names the text itself.
_CHROME_HINT = re.compile(
    r"(^|[-_ ])(comments?|sidebar|share|sharing|social|related|breadcrumbs?|pagination|"
    r"widget|menu|navbar|subscribe|newsletter|cookie|ads?|advert\w*|footer|header|meta|"
    r"meta-nav|byline|post-nav|toc|embed\w*|signup|pullquote|cta)([-_ ]|$)", re.I)
_CONTENT_TOKEN = re.compile(
    r"(post|entry|article|blog)[-_]?(content|body|text)|content|main|post|article|entry",
    re.I)
# Footnotes as Markdown renderers, Substack and Ghost write them: the reference (a link to
# `#fn1`, `#footnote-1`) and the way back (`#fnref1`, `#footnote-anchor-1`) are markup; the
# notes' block is footnotes.
_FOOTNOTE_LINK = re.compile(r"^#(fn|fnref|footnote|footnote-anchor|footnote-ref)[-:_]?\w*",
                            re.I)
_FOOTNOTES = re.compile(r"(^|[-_ ])footnotes?([-_ ]|$)", re.I)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CONTAINERS = {"div", "section", "article", "main", "body", "html", "center", "details",
               "li", "dd", "dt", "address", "fieldset", "hgroup", "font", "span"}
_BLOCKS = _HEADINGS | _CONTAINERS | {"p", "ul", "ol", "dl", "blockquote", "pre", "table",
                                     "figure", "figcaption", "hr", "summary"} | _CHROME


@dataclass
class HtmlPage:
    title: str | None = None
    date: str | None = None
    lang: str | None = None
    url: str | None = None
    segments: list[parsed.Segment] = field(default_factory=list)


def parse_page(html: str) -> HtmlPage:
    """A whole web page: metadata from <head>, segments from the article only."""
    soup = _soup(html)
    page = HtmlPage(title=_title(soup), date=_date(soup), lang=_lang(soup), url=_canonical(soup))
    root = _article_root(soup)
    _remove_chrome(root)
    if page.title:  # the title lives in documents.title; drop its repeat at the top
        first = root.find(_HEADINGS)
        if first is not None and fold_spaces(first.get_text(" ")) == page.title:
            first.decompose()
    page.segments = _walk_root(root)
    return page


def fragment_segments(html: str, *, chrome: re.Pattern | None = None) -> list[parsed.Segment]:
    """A body fragment (a WordPress, Ghost or Substack post's content): every block is the
    author's, except elements whose class matches `chrome` (a platform's widgets)."""
    soup = _soup(html)
    for tag in soup.find_all(_DROP):
        tag.decompose()
    if chrome is not None:
        for tag in soup.find_all(class_=True):
            if not tag.decomposed and chrome.search(_label(tag)):
                tag.decompose()
    _drop_footnote_links(soup)
    return _walk_root(soup)


def _soup(html: str) -> BeautifulSoup:
    # lxml parses big pages five times faster than Python's html.parser.
    return BeautifulSoup(html, "lxml")


def _title(soup: BeautifulSoup) -> str | None:
    og = soup.find("meta", attrs={"property": "og:title"})
    if og and og.get("content"):
        return fold_spaces(og["content"])
    article = soup.find("article") or soup.find("main") or soup.body or soup
    h1 = article.find("h1") if article else None
    if h1 and h1.get_text(strip=True):
        return fold_spaces(h1.get_text(" "))
    if soup.title and soup.title.get_text(strip=True):
        return fold_spaces(soup.title.get_text(" "))
    return None


def _date(soup: BeautifulSoup) -> str | None:
    meta = soup.find("meta", attrs={"property": "article:published_time"})
    if meta and meta.get("content"):
        return meta["content"]
    time = soup.find("time")
    if time:
        return time.get("datetime") or fold_spaces(time.get_text(" ")) or None
    return None


def _lang(soup: BeautifulSoup) -> str | None:
    html = soup.find("html")
    lang = html.get("lang") if html else None
    return lang.strip().lower() if lang else None


def _canonical(soup: BeautifulSoup) -> str | None:
    link = soup.find("link", rel="canonical")
    return link.get("href") if link else None


def _article_root(soup: BeautifulSoup) -> Tag:
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    articles = soup.find_all("article")
    if articles:
        return max(articles, key=lambda a: len(a.get_text()))
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    if main:
        return main
    hinted = [t for t in soup.find_all(["div", "section"]) if _is_content(t)]
    if hinted:
        return max(hinted, key=lambda t: len(t.get_text()))
    return soup.body or soup


def _remove_chrome(root: Tag) -> None:
    for tag in root.find_all(_CHROME):
        tag.decompose()
    _drop_footnote_links(root)


def _drop_footnote_links(root: Tag) -> None:
    """Footnote references and back-links are markup: `gate.<sup>1</sup>` is `gate.`."""
    for link in root.find_all("a", href=_FOOTNOTE_LINK):
        if link.decomposed:
            continue
        holder = link.parent if link.parent is not None and link.parent.name == "sup" and (
            link.parent.get_text(strip=True) == link.get_text(strip=True)) else link
        holder.decompose()
    labelled = root.find_all(attrs={"class": True}) + root.find_all(attrs={"id": True})
    for tag in labelled:
        if tag.decomposed:
            continue
        label = _label(tag)
        if _CHROME_HINT.search(label) and not _is_content(tag):
            tag.decompose()


def _is_content(tag: Tag) -> bool:
    """Whether a class or id of `tag` names the text itself (`post-content`, `entry`)."""
    return any(_CONTENT_TOKEN.fullmatch(token) for token in _label(tag).split())


def _label(tag: Tag) -> str:
    classes = tag.get("class") or []
    if isinstance(classes, str):
        classes = [classes]
    return " ".join(classes) + " " + (tag.get("id") or "")


# --- walking blocks --------------------------------------------------------------------


def _walk_root(root: Tag) -> list[parsed.Segment]:
    out: list[parsed.Segment] = []
    _walk(root, out)
    return out


def _walk(container: Tag, out: list[parsed.Segment]) -> None:
    inline: list = []
    for child in list(container.children):
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            inline.append(child)
        elif isinstance(child, Tag):
            if child.name in _DROP:
                continue
            if child.name in _BLOCKS or _contains_block(child):
                _flush(inline, out)
                inline = []
                _block(child, out)
            else:
                inline.append(child)
    _flush(inline, out)


_BLOCKS_INSIDE_INLINE = _BLOCKS - {"span", "font"}


def _contains_block(tag: Tag) -> bool:
    # A plain loop: bs4's find() with a filter costs ten times more on big pages.
    return any(getattr(d, "name", None) in _BLOCKS_INSIDE_INLINE for d in tag.descendants)


def _block(tag: Tag, out: list[parsed.Segment]) -> None:
    name = tag.name
    if _FOOTNOTES.search(_label(tag)) and name in ("div", "section", "ol", "aside"):
        for note in tag.find_all("li") or [tag]:  # the notes: the writer's, but not prose
            text = _words(note).text
            if text:
                out.append(parsed.Segment(parsed.FOOTNOTE, text, str(note)))
        return
    if name in _HEADINGS or name == "summary":  # a <details>' summary titles what it hides
        text = _words(tag).text
        if text:
            out.append(parsed.Segment(parsed.HEADING, text, str(tag)))
    elif name == "p":
        if _contains_block(tag):
            _walk(tag, out)
        else:
            _flush(list(tag.children), out, whole=tag)
    elif name in ("ul", "ol", "dl"):
        items = [_words(li).text for li in tag.find_all(["li", "dt", "dd"])
                 if not li.find(["li", "dt", "dd"])]
        text = fold_spaces("\n".join(items))
        if text:
            out.append(parsed.Segment(parsed.LIST, text, str(tag)))
    elif name == "blockquote":
        text = fold_spaces("\n".join(_words(p).text for p in _paragraph_tags(tag)))
        if text:
            out.append(parsed.Segment(parsed.QUOTE, text, str(tag)))
    elif name == "pre":
        out.append(parsed.Segment(parsed.CODE, tag.get_text().strip("\n"), str(tag)))
    elif name == "table":
        if tag.find(["p", "div", "table", "h1", "h2", "h3"]):  # a layout table
            _walk(tag, out)
        else:
            rows = [" | ".join(fold_spaces(c.get_text(" ")) for c in tr.find_all(["td", "th"]))
                    for tr in tag.find_all("tr")]
            out.append(parsed.Segment(parsed.TABLE, "\n".join(r for r in rows if r), str(tag)))
    elif name == "figure":
        caption = tag.find("figcaption")
        if tag.find(["pre", "code"]) and not tag.find("img"):
            out.append(parsed.Segment(parsed.CODE, tag.get_text().strip("\n"), str(tag)))
        elif tag.find("blockquote"):
            _block(tag.find("blockquote"), out)
        else:
            out.append(parsed.Segment(parsed.IMAGE, "", str(tag)))
        if caption is not None and _words(caption).text:
            out.append(parsed.Segment(parsed.CAPTION, _words(caption).text, str(caption)))
    elif name == "figcaption":
        text = _words(tag).text
        if text:
            out.append(parsed.Segment(parsed.CAPTION, text, str(tag)))
    elif name in ("hr",) or name in _CHROME:
        return
    else:
        _walk(tag, out)


def _paragraph_tags(tag: Tag) -> list[Tag]:
    paragraphs = tag.find_all(["p", "li"])
    return paragraphs or [tag]


# --- inline content ---------------------------------------------------------------------


@dataclass
class _Words:
    text: str = ""
    outside: str = ""
    images: int = 0
    links: int = 0
    unquoted: bool = False  # words outside <q>…</q>: not all of it is a quotation


def _words(node) -> _Words:
    acc = _Words()
    _collect(node, acc, in_link=False)
    acc.text = _tidy(acc.text)
    acc.outside = _tidy(acc.outside)
    return acc


def _collect(node, acc: _Words, *, in_link: bool, in_q: bool = False) -> None:
    if isinstance(node, Comment):
        return
    if isinstance(node, NavigableString):
        acc.text += str(node)
        acc.unquoted = acc.unquoted or not in_q and has_words(str(node))
        if not in_link:
            acc.outside += str(node)
        return
    if not isinstance(node, Tag) or node.name in _DROP:
        return
    in_q = in_q or node.name == "q"
    if node.name == "br":
        acc.text += BREAK_MARK
        acc.outside += BREAK_MARK
        return
    if node.name == "img":
        acc.images += 1
        return
    if node.name == "a" and node.get("href"):
        acc.links += 1
        text = node.get_text()
        if text.strip() == node["href"].strip():  # a bare URL shown as its own link text
            return
        in_link = True
    for child in node.children:
        _collect(child, acc, in_link=in_link, in_q=in_q)


def _tidy(text: str) -> str:
    """HTML white space rules, CJK-aware: source line breaks are spaces, except between CJK
    characters; a <br> is a real line break."""
    text = text.replace("\u00a0", " ")
    parts = text.split("\n")
    out = parts[0]
    for part in parts[1:]:
        left, right = out.rstrip()[-1:], part.lstrip()[:1]
        out = out.rstrip() + ("" if is_wide(left) and is_wide(right) else " ") + part.lstrip()
    return fold_spaces(out.replace(BREAK_MARK, "\n"))


def _flush(nodes: list, out: list[parsed.Segment], *, whole: Tag | None = None) -> None:
    """Loose inline content: one paragraph per run separated by two or more <br>.

    `whole`: the element the nodes came from; its markup is the source of a single run.
    """
    if not nodes:
        return
    runs: list[list] = [[]]
    breaks = 0
    for node in nodes:
        if isinstance(node, Tag) and node.name == "br":
            breaks += 1
            if breaks == 2:
                runs.append([])
                continue
        elif not (isinstance(node, NavigableString) and not node.strip()):
            breaks = 0
        runs[-1].append(node)
    for run in runs:
        _paragraph(run, out, source=str(whole) if whole is not None and len(runs) == 1 else None)


def _paragraph(nodes: list, out: list[parsed.Segment], *, source: str | None = None) -> None:
    acc = _Words()
    for node in nodes:
        _collect(node, acc, in_link=False)
    source = source or "".join(str(n) for n in nodes).strip()
    text = _tidy(acc.text)
    if not text and not acc.images:
        return
    segment = classify_paragraph(text=text, text_outside_links=_tidy(acc.outside),
                                 images=acc.images, links=acc.links, raw=source)
    if segment is not None and segment.kind == parsed.PROSE and not acc.unquoted:
        segment = parsed.Segment(parsed.QUOTE, segment.text, source)  # <q>…</q>: quoted
    if segment is not None:
        out.append(segment)
