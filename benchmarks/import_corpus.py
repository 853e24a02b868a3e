"""Benchmark: importing a blog's content folder (400 Markdown posts, 600 images beside them).

    .venv/bin/python benchmarks/import_corpus.py [--posts 400] [--images 600]

Writes a Hugo-style blog into a temporary folder (half Chinese, half English posts
with headings, lists, code, quotes, links and images), imports it into a fresh
database twice, and prints a table: the first import, and the second one, which
must find everything unchanged.
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
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OWNVOICE_HOME"] = str(Path(tmp) / "home")
        from engine.corpus.importer import import_paths
        from engine.store import Store

        blog = Path(tmp) / "blog"
        markdown_bytes = make_blog(blog, posts=args.posts, images=args.images)
        rows = []
        with Store() as store:
            for label in ("first import", "second import (unchanged)"):
                start = time.perf_counter()
                report = import_paths(store, [blog])
                elapsed = time.perf_counter() - start
                rows.append((label, elapsed, report))
            stats = store.corpus_stats()

    print(f"Blog: {args.posts} posts ({markdown_bytes / 1e6:.1f} MB of Markdown), "
          f"{args.images} images; {stats['segments']} segments, "
          f"{stats['prose_segments']} prose")
    print(f"{'run':<28}{'seconds':>9}{'posts/s':>9}{'imported':>10}{'unchanged':>11}"
          f"{'passed over':>13}")
    for label, elapsed, report in rows:
        print(f"{label:<28}{elapsed:>9.2f}{args.posts / elapsed:>9.0f}{report.imported:>10}"
              f"{report.unchanged:>11}{report.passed_over:>13}")
    from benchmarks.record import save

    save("import_corpus", {"first import s": rows[0][1], "second import s": rows[1][1],
                           "posts/s": args.posts / rows[0][1]})


if __name__ == "__main__":
    main()
