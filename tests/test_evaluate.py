"""The measures behind "it sounds like me": each on texts whose answer is known."""

from __future__ import annotations

import pytest

from engine.evaluation import metrics
from engine.evaluation.metrics import Sample, ToneLexicon, VoiceScorer

USER = ["说白了，搬家就是把生活重新翻一遍。", "我还是喜欢坐夜车，睡一觉就到了。",
        "工具换了七八个，笔记还是那么乱。", "下雨天最适合干两件事：睡觉，和假装在工作。",
        "删掉的那些句子其实都挺好，就是不属于这篇。", "修车师傅看了一眼，说内胎早该换了。",
        "我妈终于学会了发语音，手机再也没安静过。", "卖豆腐的大姐总是多给一块，说我太瘦了。",
        "其实不是没话说了，是知道哪些话可以不说。", "换完胎骑回家，那点火气也就没了。"]
MACHINE = ["此外，搬家这一过程意味着对生活进行全面的重新整理。",
           "总而言之，我更倾向于选择夜间列车进行出行，这是一种高效的方式。",
           "尽管我已经更换了多种工具，但笔记依然处于混乱的状态。",
           "此外，雨天非常适合进行两项活动：睡眠以及假装正在进行工作。",
           "值得注意的是，被删除的句子实际上质量较高，然而并不适用于本文。",
           "自行车维修人员进行了检查，并表示内胎早就应该进行更换。",
           "此外，我的母亲终于掌握了发送语音消息的方法，因此我的手机一直处于繁忙状态。",
           "值得注意的是，销售豆腐的女士总是额外提供一块，并表示我过于消瘦。",
           "总而言之，并非无话可说，而是了解哪些内容无需进行表达。",
           "在完成轮胎更换之后，我骑车回家，此外，愤怒的情绪也随之消失。"]


def test_the_voice_score_tells_the_user_from_the_machine():
    scorer = VoiceScorer(USER[:8], MACHINE[:8])
    user, machine = scorer.scores([USER[8], USER[9]]), scorer.scores([MACHINE[8], MACHINE[9]])
    assert min(user) > 0.5 > max(machine)
    with pytest.raises(ValueError, match="at least two"):
        VoiceScorer(USER[:1], MACHINE)


def test_quote_style_alone_does_not_move_the_voice_score():
    scorer = VoiceScorer(USER, MACHINE)
    curly, corner = scorer.scores(["他说：“说白了，就是这样。”", "他说：「说白了，就是这样。」"])
    assert curly == pytest.approx(corner)


def test_chrf_pp_rewards_the_users_own_words():
    assert metrics.chrf_pp(USER[:2], USER[:2]) == 100.0
    close = metrics.chrf_pp(["说白了，搬家就是把生活翻一遍。"], [USER[0]])
    far = metrics.chrf_pp([MACHINE[0]], [USER[0]])
    assert 100 > close > far > 0


def test_the_tone_lexicon_finds_what_machines_overuse():
    lexicon = ToneLexicon.learn(USER * 3, MACHINE * 3)  # a corpus' worth of evidence
    assert {"此外", "进行"} <= set(lexicon.markers)
    assert "说白" not in lexicon.markers and "其实" not in lexicon.markers
    assert lexicon.per_1000(MACHINE[0]) > lexicon.per_1000(USER[0]) == 0
    assert "此外" in lexicon.hits(MACHINE[3])
    english = ToneLexicon.learn(
        ["I just went home.", "It rained, so I slept.", "Honestly, it was fine."] * 6,
        ["Furthermore, I proceeded to return home.", "Furthermore, it is worth noting that "
         "it rained.", "It is worth noting that the outcome was satisfactory."] * 6)
    assert "furthermore" in english.markers and "worth" in english.markers
    assert "honestly" not in english.markers


def test_the_collapse_and_run_on_detectors():
    assert metrics.number_drift("我们卖了1,200台。", "We sold many units.")
    assert not metrics.number_drift("我们卖了1,200台。", "We sold 1200 units.")
    assert metrics.repeats("好的。" + "我们走吧。" * 20)
    assert not metrics.repeats(USER[0])
    assert metrics.wrong_language("This is English, not Chinese at all.", "zh")
    assert not metrics.wrong_language(USER[1], "zh")
    assert metrics.wrong_language("", "zh")


def test_a_system_gets_every_measure():
    voice = VoiceScorer(USER[:8], MACHINE[:8])
    tone = ToneLexicon.learn(USER[:8] * 3, MACHINE[:8] * 3)
    like_user = [Sample(source="x", reference=u, output=u) for u in USER[8:]]
    like_machine = [Sample(source="x", reference=u, output=m, stop_reason="length")
                    for u, m in zip(USER[8:], MACHINE[8:], strict=True)]
    good = metrics.score_system("fine-tuned", like_user, target="zh", voice=voice, tone=tone)
    bad = metrics.score_system("plain prompt", like_machine, target="zh", voice=voice,
                                tone=tone)
    assert good.voice > 0.5 > bad.voice
    assert good.chrf_pp == 100.0 > bad.chrf_pp
    assert good.tone_per_1000 == 0 < bad.tone_per_1000
    assert good.no_stop == 0.0 and bad.no_stop == 1.0
    assert good.length_ratio == 1.0 < bad.length_ratio
    assert good.wrong_language == bad.wrong_language == 0.0
    assert len(good.per_sample) == 2 and set(good.as_dict()) >= {"voice", "chrf_pp",
                                                                 "number_drift", "repetition"}


def test_overshoot_is_flagged():
    def scores(**changes):
        values = dict(system="x", samples=4, voice=0.5, chrf_pp=50.0, tone_per_1000=0.0,
                      number_drift=0.0, length_ratio=1.0, wrong_language=0.0, repetition=0.0,
                      no_stop=0.0)
        values.update(changes)
        return metrics.SystemScores(**values)

    yours = scores(voice=0.6)
    assert metrics.overshoot_flags(scores(voice=0.7), yours) == []
    caricature = metrics.overshoot_flags(scores(voice=0.9, length_ratio=1.6,
                                                 number_drift=0.25), yours)
    assert any("caricature" in f for f in caricature)
    assert any("lost a number" in f for f in caricature)
    assert any("1.60× your length" in f for f in caricature)
    assert metrics.overshoot_flags(scores(no_stop=0.5), yours) == ["50% did not stop"]


def test_the_detectors_read_the_stop_reason_not_the_text():
    voice = VoiceScorer(USER[:8], MACHINE[:8])
    tone = ToneLexicon.learn(USER[:8] * 3, MACHINE[:8] * 3)
    samples = [Sample(source="x", reference=USER[8], output=USER[8], stop_reason=reason)
               for reason in ("stop", "length", "repetition", "stop")]
    scores = metrics.score_system("s", samples, target="zh", voice=voice, tone=tone)
    assert scores.no_stop == 0.25  # only the paragraph cut at the token budget
    assert scores.repetition == 0.25  # the guard cut a loop the output no longer shows
    assert [r["stop_reason"] for r in scores.per_sample] == ["stop", "length", "repetition",
                                                             "stop"]
    assert [r["stopped"] for r in scores.per_sample] == [True, False, True, True]
    assert Sample(source="x", reference="y", output="z").stopped  # by default it stopped
