"""The guards against run-on, looping and chatty output."""

from __future__ import annotations

import pytest

from engine.translation import guards


def feed_all(text: str, step: int = 3) -> guards.RepetitionGuard:
    guard = guards.RepetitionGuard()
    for i in range(0, len(text), step):
        if guard.feed(text[i:i + step]):
            break
    return guard


@pytest.mark.parametrize("loop, kept", [
    ("我们的服务很稳定。" + "然后然后" * 40, "我们的服务很稳定。然后"),
    ("The plan: " + "we will do it, " * 12, "The plan: we will do it,"),
    ("Start. " + "A long sentence that a broken model says again and again. " * 4,
     "Start. A long sentence that a broken model says again and again."),
    ("x" * 100, "x"),
])
def test_loops_are_cut_to_one_instance(loop, kept):
    guard = feed_all(loop)
    assert guard.tripped
    assert guard.trimmed() == kept


@pytest.mark.parametrize("text", [
    "哈哈哈，这个太好笑了。",
    "Bye bye, see you.",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20.",
    "— — — a dashed divider — — —",
    "我们需要几个接口，让客户端可以提交任务并拿到一个编号来跟踪进度。" * 2,
])
def test_honest_text_passes(text):
    guard = feed_all(text)
    assert not guard.tripped
    assert guard.trimmed() == text


@pytest.mark.parametrize("output, cleaned", [
    ("Here is the translation:\n我们需要几个接口。", "我们需要几个接口。"),
    ("Sure! Here's your translation: 早上好。", "早上好。"),
    ("翻译：早上好。", "早上好。"),
    ("以下是译文：早上好。", "早上好。"),
    ("Translation: Good morning.", "Good morning."),
    ("“早上好。”", "早上好。"),
    ("早上好。\n\nNote: this is a common greeting.", "早上好。"),
    ("Chinese: 早上好。", "早上好。"),
])
def test_chatter_is_stripped(output, cleaned):
    assert guards.strip_chatter(output, "Good morning.", target="zh") == cleaned


def test_quotes_the_source_had_are_kept():
    assert guards.strip_chatter("“早上好。”", "“Good morning.”") == "“早上好。”"


def test_headings_do_not_gain_a_full_stop():
    assert guards.match_final_punctuation("Notes", "笔记。") == "笔记"
    assert guards.match_final_punctuation("Good morning.", "早上好。") == "早上好。"


def test_output_checks():
    source = "We need a few APIs so clients can submit a task and track it."
    assert guards.check_output(source, "我们需要几个接口，让客户端可以提交任务并跟踪。",
                               source="en", target="zh") == []
    wrong = guards.check_output(source, source, source="en", target="zh")
    assert any("looks like English, not Chinese" in w for w in wrong)
    long = guards.check_output(source, "我们" * 200, source="en", target="zh")
    assert any("longer than a translation usually is" in w for w in long)
    short = guards.check_output("我们需要几个接口，让客户端可以提交任务并拿到一个编号来跟踪进度。",
                                "APIs.", source="zh", target="en")
    assert any("much shorter" in w for w in short)
    assert guards.check_output(source, " ", source="en", target="zh") == [
        "The model returned nothing for this paragraph."]


def test_token_budget_grows_with_the_input():
    assert guards.max_new_tokens(10) < guards.max_new_tokens(100) < 300


@pytest.mark.parametrize("finish, reason", [
    ("stop", guards.StopReason.STOP), ("length", guards.StopReason.LENGTH),
    (None, guards.StopReason.STOP), ("content_filter", guards.StopReason.STOP),
    ("tool_calls", guards.StopReason.STOP), ("repetition", guards.StopReason.REPETITION),
    ("cancelled", guards.StopReason.CANCELLED),
])
def test_a_backends_finish_reason_becomes_a_stop_reason(finish, reason):
    assert guards.StopReason.from_finish_reason(finish) is reason


def test_the_stop_reason_is_a_plain_string_where_it_is_stored():
    import json

    assert json.dumps({"stop_reason": guards.StopReason.LENGTH}) == '{"stop_reason": "length"}'
    assert guards.StopReason.REPETITION == "repetition"
    assert [r.value for r in guards.StopReason] == ["stop", "length", "repetition", "cancelled"]


def test_a_document_is_as_bad_as_its_worst_paragraph():
    r = guards.StopReason
    assert guards.document_stop_reason([]) == r.STOP
    assert guards.document_stop_reason([r.STOP, r.STOP]) == r.STOP
    assert guards.document_stop_reason([r.STOP, r.REPETITION, r.STOP]) == r.REPETITION
    assert guards.document_stop_reason([r.REPETITION, r.LENGTH]) == r.LENGTH
    assert guards.document_stop_reason([r.LENGTH, r.CANCELLED, r.CANCELLED]) == r.CANCELLED
    assert guards.document_stop_reason(["stop", "length"]) == r.LENGTH  # stored strings too


def test_a_dropped_number_or_time_is_flagged():
    """Case hardening/14: "tomorrow at 10:00" vanished from a Hebrew → English translation."""
    warnings = guards.check_output("נפגשים מחר בשעה 10:00 ליד הספרייה 📚",
                                   "Meet at the library 📚", source="he", target="en")
    assert any("Not in the translation: 10:00" in w for w in warnings)
    assert not [w for w in guards.check_output("Version 2.1 costs 1,000 yen.",
                                               "版本2.1售价1000日元。", source="en",
                                               target="zh") if "Not in" in w]
    assert guards.numbers("ｖ３ at 10:00, ¥1,000") == ["3", "10:00", "1000"]


def test_a_number_the_model_added_is_flagged():
    """A tiny model turned a table header "km" into "1000 km"."""
    warnings = guards.check_output("km", "1000 km", source="en", target="zh")
    assert any("Not in the source: 1000" in w for w in warnings)


def test_an_answer_that_is_no_translation_is_named():
    """Trial findings: a few-shot example's sentence, the markup alone, a sliver."""
    assert "examples" in guards.not_a_translation(
        "About the author", "我写这篇文章是为了理清思路", source="en", target="zh")
    assert "no words" in guards.not_a_translation(
        "Setup ⟦1⟧", "⟦1⟧", source="en", target="zh")
    long = "The harbour was quiet, and the boats rocked slowly at their moorings. " * 30
    assert "sliver" in guards.not_a_translation(long, "港口。", source="en", target="zh")
    assert guards.not_a_translation("Good morning.", "早上好。", source="en", target="zh") is None
    # A sentence close to an example's may well have the example's translation.
    assert guards.not_a_translation("火车站在哪儿？", "Where is the train station?",
                                    source="zh", target="en") is None
