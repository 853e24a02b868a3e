"""Simplified ('zh') and Traditional ('zh-Hant') Chinese are two languages: a blog's Traditional
versions of its Simplified posts (often OpenCC's conversion) are translations in one work,
not more originals in the writer's voice (engine/languages.py, engine/corpus/lang.py,
engine/corpus/works.py)."""

from __future__ import annotations

import pytest

from engine import languages
from engine.corpus import lang
from engine.corpus.importer import assign_languages, import_paths
from engine.corpus.parsed import ParsedDocument, Segment
from engine.corpus.works import set_languages
from engine.errors import OwnVoiceError
from engine.pairs import alignment, published
from engine.translation import guards
from engine.translation.translate import join_sentences
from tests.blog import write

SEA = ["今天我们去了海边。风很大，海浪一直拍打着岸边的石头，我们在沙滩上走了很久。",
       "回家的路上，我想起小时候和父亲一起钓鱼的日子。那时候的海比现在安静得多。"]
# OpenCC's s2t of SEA: the same words, other characters.
SEA_HANT = ["今天我們去了海邊。風很大，海浪一直拍打著岸邊的石頭，我們在沙灘上走了很久。",
            "回家的路上，我想起小時候和父親一起釣魚的日子。那時候的海比現在安靜得多。"]
TEA = ["我每天早上喝一杯茶，然后开始写作。这个习惯已经坚持了五年。",
       "写作的时候，我不看手机，也不听音乐，只是安静地坐着。"]


def post(title: str, paragraphs: list[str], *header: str) -> str:
    return "\n".join(["---", f"title: {title}", *header, "---", "", "\n\n".join(paragraphs), ""])


@pytest.mark.parametrize("code, expected", [
    ("zh", "zh"), ("ZH", "zh"), ("zh-CN", "zh"), ("zh_SG", "zh"), ("zh-Hans", "zh"),
    ("zh-Hans-HK", "zh"), ("Chinese", "zh"), ("Simplified Chinese", "zh"),
    ("zh-TW", "zh-Hant"), ("zh_hk", "zh-Hant"), ("zh-MO", "zh-Hant"), ("zh-Hant", "zh-Hant"),
    ("zh-hant", "zh-Hant"), ("zh-Hant-TW", "zh-Hant"), ("Chinese (Traditional)", "zh-Hant"),
    ("Traditional Chinese", "zh-Hant"), ("pt-BR", "pt"), ("EN", "en"),
])
def test_codes_are_script_aware_for_chinese(code, expected):
    assert languages.normalise(code) == expected
    assert languages.family(expected) == expected.split("-")[0]


def test_traditional_is_a_language_of_its_own_with_what_chinese_shares():
    assert languages.name("zh-Hant") == "Chinese (Traditional)"
    assert languages.name("zh-tw") == "Chinese (Traditional)"
    assert languages.name("zh") == "Chinese"  # the name prompts (and trained models) know
    assert "zh-Hant" in languages.CJK
    assert languages.code("english") is None and languages.code("") is None  # codes only
    with pytest.raises(OwnVoiceError, match="Unknown language"):
        languages.normalise("klingon")
    # Few-shot examples in Traditional characters, not Simplified ones.
    assert languages.example_pairs("en", "zh-Hant")[2] == ("Where is the train station?",
                                                           "火車站在哪裡？")
    # Spacing, lengths and ratios are Chinese's.
    assert join_sentences(["我們到了。", "天黑了。"], "zh-Hant") == "我們到了。天黑了。"
    assert alignment.length(SEA_HANT[0], "zh-Hant") == alignment.length(SEA[0], "zh")
    assert guards.expected_length_ratio("zh-Hant", "en") == 3.0
    assert lang.same_script("zh", "zh-Hant")


def test_detection_tells_the_scripts_apart_and_prefers_the_expected_one_when_it_cannot():
    assert lang.detect(SEA[0]) == ("zh", True)
    assert lang.detect(SEA_HANT[0]) == ("zh-Hant", True)
    ambiguous = "我今天在家休息，明天去上班。"  # every character is written in both scripts
    assert lang.chinese_script(ambiguous) is None
    assert lang.detect(ambiguous) == ("zh", True)
    assert lang.detect(ambiguous, prefer="zh-Hant") == ("zh-Hant", True)
    assert lang.detect(ambiguous, prefer="en") == ("zh", True)
    # A translation into Traditional: wrong only when its characters say Simplified.
    assert guards.wrong_language(SEA_HANT[0], "zh-Hant") is None
    assert guards.wrong_language(ambiguous, "zh-Hant") is None
    assert guards.wrong_language(SEA[0], "zh-Hant") == "zh"
    assert guards.wrong_language(SEA_HANT[0], "zh") == "zh-Hant"


def test_a_traditional_documents_short_paragraphs_are_traditional_too():
    doc = ParsedDocument(key="k", path="p", format="text", content_hash="h", split_key="s",
                         segments=[Segment("prose", SEA_HANT[0], "x"),
                                   Segment("prose", "我今天在家休息，明天去上班。", "x"),
                                   Segment("heading", "海", "x")])
    assign_languages(doc)
    assert doc.lang == "zh-Hant"
    assert [s.lang for s in doc.segments] == ["zh-Hant"] * 3
    # Characters that do not tell: the declared script (`post.zh-tw.md`, `lang: zh-TW`).
    doc = ParsedDocument(key="k", path="p", format="text", content_hash="h", split_key="s",
                         segments=[Segment("prose", "我今天在家休息，明天去上班。", "x")])
    assign_languages(doc, "zh-tw")
    assert (doc.lang, doc.segments[0].lang) == ("zh-Hant", "zh-Hant")
    assign_languages(doc)
    assert (doc.lang, doc.segments[0].lang) == ("zh", "zh")


def roles(store) -> dict[str, tuple]:
    return {path.split("/blog/", 1)[1]: (lang_, role, work, split)
            for path, lang_, role, work, split in store.conn.execute(
                "SELECT path, lang, role, work_key, split FROM documents")}


@pytest.mark.parametrize("traditional", [
    "sea.zh-hant.md", "sea.zh-tw.md", "sea.zh_TW.md", "sea-zh-hant.md", "sea.md:zh-hant/",
])
def test_a_traditional_version_of_a_post_is_its_translation(store, tmp_path, traditional):
    blog = tmp_path / "blog"
    write(blog / "tea.md", post("茶", TEA, "date: 2023-01-01"))
    if traditional.endswith("/"):  # language folders: zh/sea.md beside zh-hant/sea.md
        name, folder = traditional.rstrip("/").split(":")
        simplified, traditional = f"zh/{name}", f"{folder}/{name}"
    else:
        simplified = "sea.md"
    write(blog / simplified, post("海边", SEA, "date: 2023-02-01"))
    write(blog / traditional, post("海邊", SEA_HANT, "date: 2023-02-01"))
    report = import_paths(store, [blog])
    assert report.imported == 3 and not report.skipped
    found = roles(store)
    assert found[simplified][:2] == ("zh", "original")
    assert found[traditional][:2] == ("zh-Hant", "translation")
    assert found[traditional][2:] == found[simplified][2:]  # one work, one split
    assert store.main_language() == "zh"
    stats = store.work_stats()
    assert stats["directions"] == {"zh→zh-Hant": 1} and stats["with_translations"] == 1
    # Machine-converted Traditional is not the writer's prose, and converted characters are
    # no translation pair.
    assert store.synth_candidates(user_lang="zh-Hant") == []
    assert len(store.synth_candidates(user_lang="zh")) == 4
    assert published.refresh(store).pairs == 0
    again = import_paths(store, [blog])
    assert (again.unchanged, again.relinked) == (3, 0)


def test_a_writer_of_traditional_chinese_says_so(store, tmp_path):
    blog = tmp_path / "blog"
    write(blog / "sea.md", post("海邊", SEA_HANT, "date: 2023-02-01"))
    write(blog / "sea.zh-cn.md", post("海边", SEA, "date: 2023-02-01"))
    import_paths(store, [blog])
    assert roles(store)["sea.md"][:2] == ("zh-Hant", "original")
    assert roles(store)["sea.zh-cn.md"][:2] == ("zh", "translation")
    set_languages(store, ["zh-TW"])
    assert store.original_languages() == ["zh-Hant"]
    assert store.main_language() == "zh-Hant"
    set_languages(store, ["zh-CN"])  # the other way round: the Simplified one is the original
    assert roles(store)["sea.zh-cn.md"][:2] == ("zh", "original")
    assert roles(store)["sea.md"][:2] == ("zh-Hant", "translation")
