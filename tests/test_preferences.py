"""The writer's judgments as preference pairs, on a real database: corrections, ratings,
blind "which is better?" trials and "show me another" choices; kept in step with the
judgments; exported in TRL's conversational preference format."""

from __future__ import annotations

import json

import pytest

from engine.errors import OwnVoiceError
from engine.evaluation import blind
from engine.pairs import corrections, preferences
from engine.pairs.corrections import CORRECTION_WEIGHT
from tests.test_blind import stored_comparison
from tests.test_corrections import history_row


def correct(store, row: dict, text: str) -> None:
    store.correct_translation(row["id"], text, corrections.correction_pairs(row, text))


def test_a_correction_gives_one_preference_per_changed_paragraph(store):
    row = history_row(store, "Erster Satz.\n\nZweiter Satz.\n\nDritter.\n",
                      "First sentence.\n\nSecond sentence.\n\nThird.\n", "markdown")
    correct(store, row, "My first line.\n\nSecond sentence.\n\nThe third.")
    found = preferences.training(store, preferences.split_for_text(row["source_text"]))
    assert [(p["source_text"], p["chosen_text"], p["rejected_text"]) for p in found] == [
        ("Erster Satz.", "My first line.", "First sentence."),
        ("Dritter.", "The third.", "Third.")]
    assert all(p["origin"] == "correction" and p["weight"] == CORRECTION_WEIGHT
               and p["translation_id"] == row["id"] for p in found)

    # Corrected again: the preferences follow the correction, ids of those that stay kept.
    kept_id = found[0]["id"]
    correct(store, row, "My first line.\n\nSecond sentence.\n\nThird.")
    assert preferences.sync(store) == (0, 1)
    again = store.preferences(origin="correction")
    assert [p["id"] for p in again] == [kept_id]


def test_ratings_of_one_source_give_liked_over_disliked(store):
    source = "Ein Satz zum Übersetzen.\n"
    rows = [history_row(store, source, output, "markdown")
            for output in ("A sentence to translate.", "One sentence for translating.",
                           "A phrase to be translated.")]
    other = history_row(store, "Etwas anderes.\n", "Something else.", "markdown")
    store.rate_translation(rows[0]["id"], 1)
    store.rate_translation(rows[1]["id"], -1)
    store.rate_translation(rows[2]["id"], -1)
    store.rate_translation(other["id"], -1)  # no liked output of its source: nothing
    assert preferences.sync(store) == (2, 0)
    found = store.preferences(origin="rating")
    assert {(p["chosen_text"], p["rejected_text"]) for p in found} == {
        ("A sentence to translate.", "One sentence for translating."),
        ("A sentence to translate.", "A phrase to be translated.")}
    store.rate_translation(rows[2]["id"], 0)  # the rating cleared: its preference goes
    assert preferences.sync(store) == (0, 1)
    assert preferences.sync(store) == (0, 0)  # nothing changes twice


def test_blind_better_trials_become_held_out_preferences(store):
    comparison_id = stored_comparison(store)
    blind.make_trials(store, comparison_id)
    for trial in store.blind_trials(comparison_id):
        store.answer_blind_trial(trial["id"], "left")
    preferences.sync(store)
    found = store.preferences(origin="blind")
    better = [t for t in store.blind_trials(comparison_id) if t["question"] == "better"]
    assert len(found) == len(better) == 3  # "which one did you write?" gives none
    pairs = {p["id"]: p for p in store.pairs()}
    for preference in found:
        trial = next(t for t in better if t["id"] == preference["blind_trial_id"])
        assert preference["chosen_text"] == trial["left_text"]
        assert preference["rejected_text"] == trial["right_text"]
        assert preference["split"] == "test"  # measures models, never trains them
        assert preference["source_text"] == pairs[trial["pair_id"]]["source_text"]
        assert preference["meta"]["systems"]["chosen"] == trial["left_system"]


def test_a_choice_is_stored_once_and_nothing_when_both_are_the_same(store):
    row = history_row(store, "Guten Morgen.\n", "Good morning.", "markdown")
    first = preferences.add_choice(store, row, "Morning!", "Good morning.")
    again = preferences.add_choice(store, row, "Morning!", "Good morning.")
    assert first is not None and again == first
    assert preferences.add_choice(store, row, "Same.", " Same. ") is None
    (choice,) = store.preferences(origin="choice")
    assert (choice["chosen_text"], choice["rejected_text"]) == ("Morning!", "Good morning.")
    preferences.sync(store)  # a sync keeps choices: they are judgments, not derived
    assert len(store.preferences(origin="choice")) == 1


def test_the_split_is_the_whole_texts_and_every_split_occurs():
    splits = {preferences.split_for_text(f"Text number {i}.") for i in range(400)}
    assert splits == {"train", "val", "test"}
    assert preferences.split_for_text(" Same text.\n") == preferences.split_for_text("Same text.")


def test_export_writes_trls_conversational_preference_format(store, tmp_path):
    with pytest.raises(OwnVoiceError, match="No train preferences yet"):
        preferences.export(store, split="train", out=tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()
    rows = [history_row(store, f"Satz Nummer {i}.\n", f"Sentence number {i}.", "markdown")
            for i in range(40)]
    for row in rows:
        preferences.add_choice(store, row, row["output_text"] + " Indeed.", row["output_text"])
    stats = preferences.stats(store)
    train = stats["splits"]["train"]["choice"]
    assert train + sum(stats["splits"][s].get("choice", 0) for s in ("val", "test")) == 40
    store.exclude_preference(store.preferences(split="train")[0]["id"])
    report = preferences.export(store, split="train", out=tmp_path / "prefs.jsonl")
    records = [json.loads(line) for line in (tmp_path / "prefs.jsonl").read_text().splitlines()]
    assert report.preferences == len(records) == train - 1
    record = records[0]
    assert [m["role"] for m in record["prompt"]] == ["system", "user"]
    assert record["prompt"][1]["content"].startswith("Satz Nummer")
    assert record["chosen"] == [{"role": "assistant",
                                 "content": record["rejected"][0]["content"] + " Indeed."}]
    assert record["origin"] == "choice" and record["weight"] == 1.0


def test_the_dataset_command_counts_and_exports_preferences(store, tmp_path):
    """`ownvoice dataset stats` counts the preferences by split and origin; `dataset export
    --format preference` writes them, or says in one line that there are none."""
    from tests.conftest import run_ownvoice

    none = run_ownvoice("dataset", "export", "--format", "preference", "--out",
                        str(tmp_path / "p.jsonl"), check=False)
    assert none.returncode != 0 and "No train preferences yet" in none.stderr
    assert "Traceback" not in none.stderr
    rows = [history_row(store, f"Zeile {i}.\n", f"Line {i}.", "markdown") for i in range(30)]
    for row in rows:
        correct(store, row, f"My line {row['id']}.")
    human = run_ownvoice("dataset", "stats").stdout
    counted = json.loads(run_ownvoice("dataset", "stats", "--json").stdout)["preferences"]
    train = counted["splits"]["train"]["correction"]
    assert f"{train} preferences ({train} correction)" in human
    out = json.loads(run_ownvoice("dataset", "export", "--format", "preference", "--out",
                                  str(tmp_path / "p.jsonl"), "--json").stdout)
    assert out["preferences"] == train == len((tmp_path / "p.jsonl").read_text().splitlines())


def test_the_data_page_counts_the_preferences(window, store):
    row = history_row(store, "Eins.\n\nZwei.\n", "One.\n\nTwo.\n", "markdown")
    correct(store, row, "Uno.\n\nDos.")
    preferences.sync(store)  # as the page's and the command's writers do after a correction
    preferences.add_choice(store, row, "One and two.", "One. Two.")
    window.data_page.reload()
    assert "3 preferences from your judgments" in window.data_page.counts.text()
    assert "1 from choices, 2 from corrections" in window.data_page.counts.toolTip()


def test_show_me_another_asks_which_is_better_and_keeps_the_choice(qtbot, window, store):
    """On the Translate page, after a translation: "Show me another" translates it once more
    (sampling) into a second box; "the second is better" stores a choice preference and puts
    the second text on screen. (Sampling can repeat the first text: then it is asked again.)"""
    page = window.translate_page
    page.source.setPlainText("The weather was nice, so we walked along the old harbour and "
                             "talked about the book we had both read.")
    page.translate_button.click()
    qtbot.waitUntil(lambda: page.current is not None and page.task is None, timeout=120000)
    assert page.another_button.isEnabled() and not page.second.isVisible()
    first = page.current["output_text"]
    for _ in range(4):
        page.another_button.click()
        qtbot.waitUntil(lambda: page.task is None and page.neither.isVisible(), timeout=120000)
        if page.second_better.isVisible():
            break
        assert "nothing to choose" in page.status.text()
    second = page.second.toPlainText()
    assert second.strip() and second.strip() != first.strip()
    page.second_better.click()
    qtbot.waitUntil(lambda: store.preferences(origin="choice") != [], timeout=10000)
    (choice,) = store.preferences(origin="choice")
    assert (choice["chosen_text"], choice["rejected_text"]) == (second.strip(), first.strip())
    assert choice["translation_id"] == page.current["id"]
    assert page.output.toPlainText() == first and not page.second.isVisible()


def test_the_another_command_translates_again_and_stores_the_pick(store, default_model):
    from tests.conftest import run_ownvoice

    done = json.loads(run_ownvoice(
        "translate", "--text", "The weather was nice, so we walked along the old harbour.",
        "--to", "zh", "--json").stdout)
    translation_id = store.translations()[0]["id"]
    for seed in range(1, 6):
        out = json.loads(run_ownvoice("another", str(translation_id), "--pick", "second",
                                      "--seed", str(seed), "--json").stdout)
        assert out["first"] == done["output"].strip()
        if not out["same"]:
            break
    assert out["choice_id"] is not None and out["second"] != out["first"]
    (choice,) = store.preferences(origin="choice")
    assert (choice["chosen_text"], choice["rejected_text"]) == (out["second"], out["first"])
    missing = run_ownvoice("another", "999", "--pick", "first", check=False)
    assert missing.returncode != 0 and "No translation #999" in missing.stderr


def test_the_train_page_offers_to_improve_the_latest_fine_tune(window, store, tmp_path):
    """Once a fine-tune is done here, the Train page says how many judgments are still
    needed to improve it, then offers to, with the count."""
    from engine.jobs import JobKind, JobMeta, JobState
    from engine.training import pipeline

    page = window.train_page
    assert page.improve_button.isHidden()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    job = store.add_job(kind=JobKind.LOCAL, status=JobState.DONE, provider_id=None, model="b")
    store.update_job(job.id, status=JobState.DONE, result="voice-1",
                     meta=JobMeta(exported_adapter=str(adapter)))
    page.reload()
    assert not page.improve_button.isHidden() and not page.improve_button.isEnabled()
    assert page.improve_button.text() == (f"{pipeline.MIN_PREFERENCES} more judgments to "
                                          "improve voice-1")
    for i in range(40):
        row = history_row(store, f"Satz {i}.\n", f"Sentence {i}.", "markdown")
        preferences.add_choice(store, row, f"My sentence {i}.", f"Sentence {i}.")
    page.reload()
    have = len(preferences.training(store, "train"))
    assert have >= pipeline.MIN_PREFERENCES and page.improve_button.isEnabled()
    assert page.improve_button.text() == f"Improve voice-1 with your {have} judgments"
    assert page.improvable == job.id
