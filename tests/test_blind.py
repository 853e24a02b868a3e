"""The blind test and the Compare page, on a comparison stored in a real database."""

from __future__ import annotations

import pytest

from desktop.main_window import MainWindow
from engine.evaluation import blind
from engine.evaluation.metrics import YOURS
from tests.test_finetune import add_correction_pairs

SYSTEMS = ("voice-1", "prompt (smol)", YOURS)


def stored_comparison(store) -> int:
    add_correction_pairs(store, repeat=1)
    pairs = store.pairs()[:3]
    outputs = []
    for pair in pairs:
        for system in SYSTEMS:
            text = pair["target_text"] if system == YOURS else f"{system}: {pair['id']}"
            outputs.append({"system": system, "pair_id": pair["id"], "output": text,
                            "metrics": {}})
    metrics = [{"system": s, "samples": 3, "voice": 0.5, "chrf_pp": 40.0,
                "tone_per_1000": 1.0, "length_ratio": 1.0, "number_drift": 0.0,
                "wrong_language": 0.0, "repetition": 0.0, "no_stop": 0.0,
                "flags": ["outputs are 1.60× your length"] if s == "voice-1" else []}
               for s in SYSTEMS]
    return store.add_comparison(settings={"pairs": 3, "source": "en", "target": "zh"},
                                metrics=metrics, report_path=None, outputs=outputs)


def test_trials_are_made_once_answered_and_counted(store):
    comparison_id = stored_comparison(store)
    assert blind.make_trials(store, comparison_id) == 6  # 3 "yours?" + 3 "better?"
    assert blind.make_trials(store, comparison_id) == 6  # not made twice
    trials = store.blind_trials(comparison_id)
    yours = [t for t in trials if t["question"] == "yours"]
    assert all(YOURS in (t["left_system"], t["right_system"]) for t in yours)
    assert {t["left_system"] for t in trials} != {YOURS}  # the order is shuffled
    for trial in trials:  # always pick the system that is not the user's, and voice-1
        pick = ("left" if trial["left_system"] in ("voice-1",) or
                trial["right_system"] == YOURS else "right")
        store.answer_blind_trial(trial["id"], pick)
    result = blind.results(store, comparison_id)
    assert result["answered"] == 6 and result["waiting"] == 0
    assert result["recognition_rate"] == 0.0
    assert result["win_rate"]["voice-1"] == 1.0 and result["win_rate"]["prompt (smol)"] == 0.0
    assert sum(result["taken_for_yours"].values()) > 0
    with pytest.raises(ValueError):
        store.answer_blind_trial(trials[0]["id"], "neither")


def test_the_compare_page_shows_the_metrics_and_runs_the_blind_test(qtbot, store,
                                                                    default_model):
    comparison_id = stored_comparison(store)
    window = MainWindow(store)
    qtbot.addWidget(window)
    page = window.compare_page
    window.show_page(4)
    assert window.pages.currentWidget() is page
    assert page.comparison_id == comparison_id and page.table.rowCount() == 3
    names = [page.table.item(r, 0).text() for r in range(3)]
    assert "⚠ voice-1" in names and "your own text" in names
    assert page.models.count() >= 1  # the built-in model can be ticked
    page.blind_button.click()
    qtbot.waitUntil(lambda: page.trial is not None, timeout=10000)
    for _ in range(6):
        current = page.trial["id"]
        page.pick_left.click()
        qtbot.waitUntil(lambda current=current: page.trial is None or page.trial["id"] !=
                        current, timeout=10000)
    assert page.trial is None and "Done" in page.question.text()
    assert "answered" in page.blind_results.text()
    assert len(store.blind_trials(comparison_id, answered=True)) == 6
    window.runner.wait()


def test_comparisons_stored_under_the_old_display_key_read_the_same(ownvoice_home):
    """Before m010 the user's own text was stored as "your own text"; an upgraded database
    reads it as YOURS: in the metrics, the outputs and the blind trials' answers."""
    import json
    import sqlite3

    import sqlite_utils

    from engine import paths
    from engine.evaluation.metrics import YOUR_TEXT, label
    from engine.store import Store, migrations

    conn = sqlite3.connect(paths.db_path(), isolation_level=None)
    migrations.migrate(sqlite_utils.Database(conn), stop_after="m009_job_states")
    old = "your own text"
    conn.execute("INSERT INTO comparisons (id, created_at, metrics) VALUES (1, 'now', ?)",
                 (json.dumps([{"system": "voice-1", "voice": 0.4},
                              {"system": old, "voice": 0.6}]),))
    for system, text in (("voice-1", "theirs"), (old, "mine")):
        conn.execute("INSERT INTO comparison_outputs (comparison_id, system, pair_id, output)"
                     " VALUES (1, ?, NULL, ?)", (system, text))
    for left, right, choice in ((old, "voice-1", "left"), ("voice-1", old, "left")):
        conn.execute("INSERT INTO blind_trials (comparison_id, question, left_system,"
                     " right_system, left_text, right_text, choice, created_at)"
                     " VALUES (1, 'yours', ?, ?, 'a', 'b', ?, 'now')", (left, right, choice))
    conn.close()
    with Store() as store:
        comparison = store.comparison(1)
        assert [m["system"] for m in comparison["metrics"]] == ["voice-1", YOURS]
        assert {o["system"]: o["output"] for o in comparison["outputs"]} == {
            "voice-1": "theirs", YOURS: "mine"}
        result = blind.results(store, 1)
    assert result["recognition_rate"] == 0.5  # found once, fooled once
    assert result["taken_for_yours"] == {"voice-1": 0.5}
    assert label(YOURS) == YOUR_TEXT == old
