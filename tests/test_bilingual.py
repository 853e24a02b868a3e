"""A bilingual post in one file (each paragraph followed by its translation, or the post in
one language and then in the other): the writer's prose is the original language's, the
other paragraphs are translations that become published-translation pairs with it
(engine/corpus/bilingual.py, engine/pairs/published.py)."""

from __future__ import annotations

import pytest

from engine.corpus import bilingual
from engine.corpus.importer import import_paths
from engine.corpus.works import set_languages
from engine.pairs import published
from engine.pairs.corrections import CORRECTION_WEIGHT
from engine.store.corpus import TRANSLATED_BY_ME
from tests.blog import write
from tests.translated_posts import POSTS

# The writer's own paragraph-for-paragraph translations (tests/translated_posts.py), those
# without Markdown (the store keeps a paragraph's words).
ONE_TO_ONE = [(zh[0], en[0]) for zh, en in POSTS["pomodoro"] if len(zh) == 1 and len(en) == 1
              and not any(mark in zh[0] + en[0] for mark in "[*`")]


def alternating(pairs, *, english_first: bool = False) -> str:
    paragraphs = [p for zh, en in pairs for p in ((en, zh) if english_first else (zh, en))]
    return "---\ntitle: 番茄钟 / The Pomodoro timer\ndate: 2023-03-01\n---\n\n" + "\n\n".join(
        paragraphs) + "\n"


def blocks(pairs) -> str:
    return ("---\ntitle: 番茄钟\ndate: 2023-03-01\n---\n\n"
            + "\n\n".join(zh for zh, _ in pairs) + "\n\n## English\n\n"
            + "\n\n".join(en for _, en in pairs) + "\n")


def kinds(store) -> list[tuple[str, str]]:
    return [(s["lang"], s["kind"]) for s in store.segments()
            if s["kind"] in ("prose", "translation")]


def stored_pairs(store) -> list[dict]:
    return store.pairs(origin="published-translation")


def test_alternating_paragraphs_are_the_writers_prose_and_its_translation(store, tmp_path):
    blog = tmp_path / "blog"
    write(blog / "pomodoro.md", alternating(ONE_TO_ONE))
    write(blog / "tea.md", "---\ntitle: 茶\n---\n\n我每天早上喝一杯茶，然后开始写作。\n")
    import_paths(store, [blog])
    doc = next(d for d in store.documents() if d["title"].startswith("番茄钟"))
    assert doc["lang"] == "zh"  # though its English has more characters
    assert kinds(store).count(("zh", "prose")) == len(ONE_TO_ONE) + 1
    assert kinds(store).count(("en", "translation")) == len(ONE_TO_ONE)
    assert ("en", "prose") not in kinds(store)
    # The English is not the writer's prose: nothing to synthesise from, not their language.
    assert store.main_language() == "zh"
    assert store.synth_candidates(user_lang="en") == []
    assert len(store.synth_candidates(user_lang="zh")) == len(ONE_TO_ONE) + 1
    stats = store.corpus_stats()
    assert stats["by_kind"]["translation"] == len(ONE_TO_ONE)
    assert stats["works"]["directions"] == {"zh→en": 1}  # a work with its translation inside
    assert (stats["works"]["works"], stats["works"]["with_translations"]) == (2, 1)

    report = published.refresh(store)
    assert (report.works, report.pairs) == (1, len(ONE_TO_ONE))
    split = store.conn.execute("SELECT split FROM documents WHERE id = ?",
                               (doc["id"],)).fetchone()[0]
    for pair, (zh, en) in zip(stored_pairs(store), ONE_TO_ONE, strict=True):
        # Each paragraph with the one after it, exactly as a two-file work gives them.
        assert (pair["source_text"], pair["target_text"]) == (en, zh)
        assert (pair["source_lang"], pair["target_lang"]) == ("en", "zh")
        assert pair["weight"] == CORRECTION_WEIGHT and pair["split"] == split


def test_reimport_keeps_everything_and_the_writers_languages_turn_it_around(store, tmp_path):
    blog = tmp_path / "blog"
    write(blog / "pomodoro.md", alternating(ONE_TO_ONE))
    import_paths(store, [blog])
    published.refresh(store)
    ids = sorted(p["id"] for p in stored_pairs(store))
    segments = [(s["id"], s["kind"]) for s in store.segments()]
    again = import_paths(store, [blog])
    assert (again.unchanged, again.relinked) == (1, 0)
    assert (published.refresh(store).added, published.refresh(store).removed) == (0, 0)
    assert sorted(p["id"] for p in stored_pairs(store)) == ids
    assert [(s["id"], s["kind"]) for s in store.segments()] == segments

    set_languages(store, ["en"])  # the writer writes English originally
    assert ("zh", "translation") in kinds(store) and ("en", "prose") in kinds(store)
    assert ("zh", "prose") not in kinds(store)
    assert store.main_language() == "en"
    assert store.documents()[0]["lang"] == "en"
    flipped = published.refresh(store)
    assert flipped.pairs == len(ONE_TO_ONE)
    assert {(p["source_lang"], p["target_lang"]) for p in stored_pairs(store)} == {("zh", "en")}

    set_languages(store, [])  # decided per post again: the language each pair starts with
    assert store.documents()[0]["lang"] == "zh"
    assert [(s["id"], s["kind"]) for s in store.segments()] == segments


def test_english_first_starts_each_pair_but_the_blogs_language_decides(store, tmp_path):
    blog = tmp_path / "blog"
    write(blog / "pomodoro.md", alternating(ONE_TO_ONE, english_first=True))
    import_paths(store, [blog])
    assert store.documents()[0]["lang"] == "en"  # the language each pair starts with
    for i, name in enumerate(("tea", "sea")):  # a Chinese blog
        write(blog / f"{name}.md",
              f"---\ntitle: {name}\n---\n\n我每天早上喝第{i}杯茶，然后开始写作。\n")
    import_paths(store, [blog])
    doc = next(d for d in store.documents() if d["title"].startswith("番茄钟"))
    assert doc["lang"] == "zh"
    assert ("en", "prose") not in kinds(store)
    assert published.refresh(store).pairs == len(ONE_TO_ONE)


def test_the_post_then_its_translation_under_a_heading(store, tmp_path):
    write(tmp_path / "blog" / "pomodoro.md", blocks(ONE_TO_ONE))
    import_paths(store, [tmp_path / "blog"])
    meta = store.work_versions()[0]["meta"][bilingual.META_KEY]
    assert meta == {"languages": ["zh", "en"], "layout": bilingual.BLOCKS}
    assert kinds(store) == [("zh", "prose")] * len(ONE_TO_ONE) + [
        ("en", "translation")] * len(ONE_TO_ONE)
    assert published.refresh(store).pairs == len(ONE_TO_ONE)  # aligned as two files are
    assert [(p["source_text"], p["target_text"]) for p in stored_pairs(store)] == [
        (en, zh) for zh, en in ONE_TO_ONE]


def test_translated_by_me_makes_the_translations_prose_to_synthesise_from(store, tmp_path):
    write(tmp_path / "blog" / "pomodoro.md", alternating(ONE_TO_ONE))
    import_paths(store, [tmp_path / "blog"])
    store.set_meta(TRANSLATED_BY_ME, "1")
    assert len(store.synth_candidates(user_lang="en")) == len(ONE_TO_ONE)


def test_an_edited_post_keeps_its_paragraphs_and_one_no_longer_bilingual_is_prose(store,
                                                                                 tmp_path):
    post = write(tmp_path / "blog" / "pomodoro.md", alternating(ONE_TO_ONE))
    import_paths(store, [post])
    before = {s["text"]: s["id"] for s in store.segments()}
    edited = [(zh + "（补记）", en) if i == 0 else (zh, en) for i, (zh, en) in
              enumerate(ONE_TO_ONE)]
    write(post, alternating(edited))
    assert import_paths(store, [post]).updated == 1
    after = {s["text"]: (s["id"], s["kind"]) for s in store.segments()}
    for _, en in ONE_TO_ONE:  # translation paragraphs keep their ids and their kind
        assert after[en] == (before[en], "translation")
    assert published.refresh(store).pairs == len(ONE_TO_ONE)

    write(post, "---\ntitle: 番茄钟\n---\n\n" + "\n\n".join(zh for zh, _ in ONE_TO_ONE) + "\n")
    import_paths(store, [post])
    assert bilingual.META_KEY not in store.work_versions()[0]["meta"]
    assert {kind for _, kind in kinds(store)} == {"prose"}
    assert published.refresh(store).pairs == 0 and stored_pairs(store) == []


@pytest.mark.parametrize("paragraphs", [
    # A Chinese post quoting a few English sentences.
    [ONE_TO_ONE[0][0], ONE_TO_ONE[1][0], ONE_TO_ONE[1][1], ONE_TO_ONE[2][0], ONE_TO_ONE[3][0],
     ONE_TO_ONE[4][0], ONE_TO_ONE[4][1], ONE_TO_ONE[5][0], ONE_TO_ONE[6][0]],
    # Too short to tell: two paragraphs and their translations.
    [p for pair in ONE_TO_ONE[:2] for p in pair],
    # A Chinese post that ends with a long English excerpt: one switch, lopsided.
    [zh for zh, _ in ONE_TO_ONE] + [en for _, en in ONE_TO_ONE[:3]],
    # Alternating, but the English says far more than the Chinese: not translations.
    [p for zh, en in ONE_TO_ONE[:4] for p in (zh[:12], en)],
])
def test_a_post_that_only_quotes_another_language_is_left_alone(store, tmp_path, paragraphs):
    write(tmp_path / "blog" / "post.md", "---\ntitle: 笔记\n---\n\n" + "\n\n".join(paragraphs))
    import_paths(store, [tmp_path / "blog"])
    assert bilingual.META_KEY not in store.work_versions()[0]["meta"]
    assert {kind for _, kind in kinds(store)} == {"prose"}
    assert published.refresh(store).pairs == 0


def test_saying_chinese_covers_a_traditional_chinese_bilingual_post():
    """`corpus languages zh` makes a zh-Hant/en post's Chinese the original, as it does for a
    post's separate versions; two scripts of one language stay undecided by it."""
    assert bilingual.original_language(["en", "zh-Hant"], ["zh"], "en") == "zh-Hant"
    assert bilingual.original_language(["zh-Hant", "en"], ["en"], "zh") == "en"
    assert bilingual.original_language(["zh", "zh-Hant"], ["zh"], None) == "zh"  # exact first
    assert bilingual.original_language(["zh-Hant", "zh"], ["ja"], "zh") == "zh"  # main language
