"""Benchmark: importing a blog's content folder (400 Markdown posts, 600 images beside them).

    .venv/bin/python benchmarks/import_corpus.py [--posts 400] [--images 600] [--bilingual]

Writes a Hugo-style blog into a temporary folder (half Chinese, half English posts
with headings, lists, code, quotes, links and images), imports it into a fresh
database twice, and prints a table: the first import, and the second one, which
must find everything unchanged.

--bilingual writes a Pelican-style bilingual blog instead: Chinese posts (`Key: value`
headers, some with an unterminated `---` and a colon in the title), one in five also
published in English as `NAME-en.md` with `Translation: true` and the original's `Slug`;
`--posts` counts every file, translations included. The table then says how many works
were linked.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZH_WORDS = """我们 今天 写作 翻译 机器 句子 段落 习惯 读者 作者 时间 问题 方法 部署 服务 数据
    模型 训练 声音 风格 火车 城市 朋友 咖啡 早上 周末 记录 想法 工具 简单 复杂 其实 因为 所以 但是
    如果 已经 还是 觉得 发现 开始 结束 继续 重新 一直 可能 应该""".split()
EN_WORDS = """we write translate machine sentence paragraph habit reader author time problem
    method deploy service data model train voice style train city friend coffee morning weekend
    note idea tool simple complex actually because so but if already still think found start end
    keep again always maybe should the a of and to in is that it""".split()


def sentence(rng: random.Random, zh: bool) -> str:
    words = rng.choices(ZH_WORDS if zh else EN_WORDS, k=rng.randint(6, 18))
    if zh:
        return "".join(words) + rng.choice("。。。！？")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice("...!?")


def paragraph(rng: random.Random, zh: bool) -> str:
    sentences = [sentence(rng, zh) for _ in range(rng.randint(2, 6))]
    text = ("" if zh else " ").join(sentences)
    if rng.random() < 0.3:
        text += f" [link](https://example.com/{rng.randint(1, 999)})"
    return text


def post(rng: random.Random, index: int, images: list[str]) -> str:
    zh = index % 2 == 0
    lines = ["---", f"title: \"Post {index}\"", f"date: 2020-{index % 12 + 1:02d}-01",
             "tags: [notes, writing]", "---", ""]
    for _ in range(rng.randint(8, 25)):
        roll = rng.random()
        if roll < 0.08:
            lines.append("## " + sentence(rng, zh)[:30])
        elif roll < 0.14:
            lines += [f"- {sentence(rng, zh)}" for _ in range(rng.randint(2, 5))]
        elif roll < 0.18:
            lines += ["```python", "def f(x):", "    return x * 2", "```"]
        elif roll < 0.24 and images:
            lines.append(f"![photo](/images/{rng.choice(images)})")
        elif roll < 0.27:
            lines.append("> " + sentence(rng, not zh))
        else:
            lines.append(paragraph(rng, zh))
        lines.append("")
    return "\n".join(lines)


def bilingual_post(rng: random.Random, index: int, *, zh: bool, slug: str) -> str:
    """A Pelican post: the Chinese original, or (zh=False) its English translation."""
    if zh:
        lines = (["---", f"Title: 文章 {index}: 笔记"] if index % 2 else [f"Title: 文章 {index}"])
    else:
        lines = [f"Title: Post {index}: notes", "Translation: true"]
    lines += [f"Date: 2020-{index % 12 + 1:02d}-01", f"Slug: {slug}",
              f"Lang: {'zh' if zh else 'en'}", ""]
    for _ in range(rng.randint(8, 25)):
        lines += [paragraph(rng, zh), ""]
    return "\n".join(lines)


def make_bilingual_blog(root: Path, *, posts: int, images: int, seed: int = 0) -> int:
    """`posts` files: Chinese originals, and for one original in five an English version."""
    rng = random.Random(seed)
    (root / "content" / "images").mkdir(parents=True)
    for i in range(images):
        (root / "content" / "images" / f"img{i:04d}.png").write_bytes(
            b"\x89PNG\r\n\x1a\n" + os.urandom(rng.randint(20_000, 80_000)))
    size, written, index = 0, 0, 0
    while written < posts:
        name, slug = f"2020-{index % 12 + 1:02d}-post-{index}", f"post-{index}"
        versions = [(name, True)] + ([(f"{name}-en", False)] if index % 5 == 0 else [])
        for file, zh in versions[:posts - written]:
            text = bilingual_post(rng, index, zh=zh, slug=slug)
            size += len(text.encode())
            (root / "content" / f"{file}.md").write_text(text)
            written += 1
        index += 1
    return size


def make_blog(root: Path, *, posts: int, images: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    image_names = [f"img{i:04d}.png" for i in range(images)]
    (root / "static" / "images").mkdir(parents=True)
    (root / "content" / "posts").mkdir(parents=True)
    for name in image_names:
        (root / "static" / "images" / name).write_bytes(
            b"\x89PNG\r\n\x1a\n" + os.urandom(rng.randint(20_000, 80_000)))
    size = 0
    for i in range(posts):
        text = post(rng, i, image_names)
        size += len(text.encode())
        (root / "content" / "posts" / f"2020-{i % 12 + 1:02d}-post-{i}.md").write_text(text)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--bilingual", action="store_true",
                        help="A Chinese blog with English translations of one post in five.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OWNVOICE_HOME"] = str(Path(tmp) / "home")
        from engine.corpus.importer import import_paths
        from engine.store import Store

        blog = Path(tmp) / "blog"
        make = make_bilingual_blog if args.bilingual else make_blog
        markdown_bytes = make(blog, posts=args.posts, images=args.images)
        rows = []
        with Store() as store:
            for label in ("first import", "second import (unchanged)"):
                start = time.perf_counter()
                report = import_paths(store, [blog])
                elapsed = time.perf_counter() - start
                rows.append((label, elapsed, report))
            stats = store.corpus_stats()
            main_language = store.main_language()

    print(f"Blog: {args.posts} posts ({markdown_bytes / 1e6:.1f} MB of Markdown), "
          f"{args.images} images; {stats['segments']} segments, "
          f"{stats['prose_segments']} prose")
    works = stats["works"]
    print(f"Works: {works['works']}, {works['with_translations']} with translations "
          f"({works['directions']}); main language {main_language}")
    print(f"{'run':<28}{'seconds':>9}{'posts/s':>9}{'imported':>10}{'unchanged':>11}"
          f"{'passed over':>13}")
    for label, elapsed, report in rows:
        print(f"{label:<28}{elapsed:>9.2f}{args.posts / elapsed:>9.0f}{report.imported:>10}"
              f"{report.unchanged:>11}{report.passed_over:>13}")
    from benchmarks.record import save

    save("import_corpus_bilingual" if args.bilingual else "import_corpus",
         {"first import s": rows[0][1], "second import s": rows[1][1],
          "posts/s": args.posts / rows[0][1], "works with translations":
          works["with_translations"]})


if __name__ == "__main__":
    main()
