"""Issue #15 part 5: the writer's published translations become training pairs, kept in step
with the corpus (import, re-import, the writer's languages) and used like corrections."""

from __future__ import annotations

import json

from click.testing import CliRunner

from desktop.cli import cli
from engine.corpus.importer import import_paths
from engine.corpus.works import set_languages
from engine.pairs import published
from engine.pairs.corrections import CORRECTION_WEIGHT
from tests.blog import write_bilingual_pelican


def stored(store) -> list[dict]:
    return [p for p in store.pairs(origin="published-translation")]


def test_each_original_and_its_translation_give_pairs_in_the_works_split(store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog", posts=5, translated=3)
    import_paths(store, [blog])
    report = published.refresh(store)
    assert (report.works, report.pairs, report.left_out) == (3, 6, 0)  # 2 paragraphs each
    pairs = stored(store)
    assert {(p["source_lang"], p["target_lang"]) for p in pairs} == {("en", "zh")}
    assert all(p["weight"] == CORRECTION_WEIGHT for p in pairs)
    splits = dict(store.conn.execute(
        "SELECT s.id, d.split FROM segments s JOIN documents d ON d.id = s.document_id"))
    for pair in pairs:
        assert pair["split"] == splits[pair["segment_id"]]  # the original's, the work's
        assert "走了很久" in pair["target_text"] or "写作是为了" in pair["target_text"]
        assert pair["source_text"].startswith("The ")
    # The ending of post 1 is paired with the ending of its translation, not another post's.
    ending = next(p for p in pairs if "第1篇文章的结尾" in p["target_text"])
    assert ending["source_text"].startswith("The end of post number 1:")
    training = [p for split in ("train", "val", "test")
                for p in store.training_pairs(split=split) if p["origin"] ==
                "published-translation"]
    assert len(training) == 6


def test_reimport_keeps_the_pairs_and_the_writers_languages_turn_them_around(store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog", posts=3, translated=2)
    import_paths(store, [blog])
    published.refresh(store)
    ids = sorted(p["id"] for p in stored(store))
    import_paths(store, [blog])
    again = published.refresh(store)
    assert (again.added, again.removed) == (0, 0)
    assert sorted(p["id"] for p in stored(store)) == ids
    set_languages(store, ["en"])  # the writer says English is what they write originally
    flipped = published.refresh(store)
    assert flipped.removed == 4 and flipped.added == 4
    assert {(p["source_lang"], p["target_lang"]) for p in stored(store)} == {("zh", "en")}


def test_an_excluded_paragraph_never_becomes_a_pair(store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog", posts=1, translated=1)
    import_paths(store, [blog])
    segment = next(s for s in store.segments(kind="prose") if "结尾" in s["text"])
    store.set_excluded("segments", segment["id"], True)
    assert published.refresh(store).pairs == 1


def test_the_cli_import_says_what_the_published_translations_gave(ownvoice_home, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog", posts=3, translated=2)
    runner = CliRunner()
    shown = runner.invoke(cli, ["import", str(blog)])
    assert shown.exit_code == 0, shown.output
    assert "Your published translations: 4 training pair(s) from 2 post(s)." in shown.output
    data = json.loads(runner.invoke(cli, ["import", str(blog), "--json"]).output)
    assert data["published_translations"]["pairs"] == 4
    assert data["published_translations"]["added"] == 0
    stats = json.loads(runner.invoke(cli, ["dataset", "stats", "--json"]).output)
    assert "published-translation/ok" in json.dumps(stats)


def test_compare_scores_person_written_inputs_apart_and_translates_one_way():
    from engine.evaluation import compare
    from engine.evaluation.metrics import Sample, SystemScores, split_by_origin

    samples = [Sample(source=f"in {i}", reference="我们走到了港口。",
                      output="我们走到了港口。" if i < 2 else "完全不同的句子。")
               for i in range(4)]
    scores = SystemScores(system="m", samples=4, voice=0.5, chrf_pp=50.0, tone_per_1000=0,
                          number_drift=0, length_ratio=1, wrong_language=0, repetition=0,
                          no_stop=0, per_sample=[{"voice": v} for v in (0.9, 0.7, 0.2, 0.4)])
    split_by_origin(scores, samples, ["published-translation"] * 2 + ["synthetic"] * 2)
    person, machine = scores.by_origin["published-translation"], scores.by_origin["synthetic"]
    assert (person["samples"], person["voice"]) == (2, 0.8)
    assert person["chrf_pp"] == 100.0 and machine["chrf_pp"] < 50
    alone = SystemScores(**{**scores.as_dict(), "by_origin": {}})
    split_by_origin(alone, samples, ["synthetic"] * 4)
    assert alone.by_origin == {}  # one kind of input: nothing to tell apart
    pairs = [{"source_lang": "en", "target_lang": "zh"}] * 3 + [
        {"source_lang": "zh", "target_lang": "en"}]
    assert compare._one_direction(pairs) == pairs[:3]


def test_the_data_page_shows_them(qtbot, window, store, tmp_path):
    blog = write_bilingual_pelican(tmp_path / "blog", posts=3, translated=2)
    import_paths(store, [blog])
    published.refresh(store)
    page = window.data_page
    page.filter.setCurrentText("Your published translations")
    page.reload()
    assert len(page.pairs.rows) == 4
    assert all(row["origin"] == "published-translation" for row in page.pairs.rows)
    assert "4 from your published translations" in page.counts.text()
