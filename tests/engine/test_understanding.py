"""Understanding residents as they write: the layers, the crisis detector, the answer to a question.

Each test is what a resident writes and what the engine makes of it; the sentences are the
team's own, not taken from any case file.
"""

from __future__ import annotations

import pytest

from bot.engine.understand.followup import answer_kind
from bot.engine.understand.intents import load_intents
from bot.engine.understand.models import manifest
from bot.engine.understand.surface import fold, grams
from bot.engine.understand.training import fingerprint, pairs, train_surface
from bot.types import ResidentContext
from tests.support import engine

ASKED = ResidentContext(asked="suicide_check")


def top(match) -> str:
    return match.intents[0].id


def test_the_shipped_models_were_trained_on_these_intents():
    # After editing intents/*.yaml, run `bot semantic train` (and commit bot/data/models).
    assert manifest().get("fingerprint") == fingerprint(load_intents())


def test_chinese_i_want_to_die_raises_a_crisis():
    m = engine().match("我想死，活着太累了")
    assert m.crisis and top(m) == "suicide_risk"


@pytest.mark.parametrize("text", [
    "Tôi muốn chết, không ai cần tôi nữa",
    "죽고 싶어요. 너무 힘들어요",
    "Quero morrer, não aguento mais",
])
def test_wanting_to_die_in_other_languages_raises_a_crisis(text):
    assert engine().match(text).crisis


def test_a_vietnamese_worker_without_wages_is_understood():
    m = engine().match("Công ty không trả lương cho tôi ba tháng rồi, tôi phải làm sao?")
    assert top(m) == "workplace_trouble" and not m.crisis


def test_a_portuguese_resident_with_nowhere_to_sleep_is_understood():
    m = engine().match("Perdi o emprego e não tenho onde dormir esta noite")
    assert top(m) in ("housing", "financial_hardship") and not m.crisis


@pytest.mark.parametrize("text", ["このラーメン死ぬほどおいしい", "昨日のお笑い番組、笑い死ぬかと思った"])
def test_a_death_idiom_is_no_crisis(text):
    assert not engine().match(text).crisis


@pytest.mark.parametrize("text", [
    "ドラマで刑事が「死にたい」とつぶやく場面が印象に残った",
    "ゲームの敵に何回も殺されてもう眠い",
])
def test_words_inside_a_story_or_a_game_are_no_crisis(text):
    assert not engine().match(text).crisis


@pytest.mark.parametrize("text", [
    "「死にたい」って言ったら先生に笑われた",
    "小説みたいに「消えたい」って本気で思ってる",
    "死にたいとかじゃなくて、もう全部終わりにしたい",
])
def test_a_quote_a_comparison_or_a_second_thought_still_raises_the_crisis(text):
    assert engine().match(text).crisis


def test_not_wanting_to_die_said_plainly_is_not_read_as_wanting_it():
    m = engine().match("死にたいとかそういうのじゃなくて、誰かとしゃべりたいだけ")
    assert not m.crisis and top(m) == "loneliness"


def test_a_jump_imagined_as_relief_is_a_crisis_but_a_fall_feared_is_not():
    assert engine().match("ここから飛び降りたら全部終わるかな").crisis
    assert not engine().match("階段で転んで倒れたらどうしよう").crisis


@pytest.mark.parametrize("text", ["すねを切ってる、親には見えないところ", "自分で自分を傷つけるのがやめられない",
                                  "咳止めをひと箱飲んでしまった"])
def test_self_harm_told_by_where_or_how_is_a_crisis(text):
    assert engine().match(text).crisis


@pytest.mark.parametrize("text", ["ありがとう、助かりました。さようなら", "鼻炎の薬を飲んでから寝ます"])
def test_a_goodbye_to_the_bot_or_medicine_taken_as_usual_is_no_crisis(text):
    assert not engine().match(text).crisis


def test_while_the_server_is_busy_distress_in_doubt_is_asked_about_without_the_encoder():
    m = engine().match("何もかも面倒になった", hurry=True)
    semantic = next(layer for layer in m.layers if layer.name == "semantic")
    assert m.crisis and m.check_in and top(m) == "suicide_risk"
    assert not semantic.ran and "busy" in semantic.note


def test_while_the_server_is_busy_an_ordinary_need_is_still_that_need():
    m = engine().match("上司に怒られてばかりでつらい", hurry=True)
    assert not m.crisis and top(m) == "workplace_trouble"


def test_the_why_names_the_deciding_layer_and_each_layers_view():
    m = engine().match("仕事を辞めてから毎日が空っぽで、誰とも話していない")
    names = {layer.name for layer in m.layers}
    assert {"lexicon", "surface", "semantic", "crisis"} <= names
    assert m.decided_by
    surface = next(layer for layer in m.layers if layer.name == "surface")
    assert surface.ran and surface.top and surface.top[0][1] > 0


def test_the_semantic_layer_shows_the_nearest_training_sentences_when_it_runs():
    m = engine().match("Tôi rất cô đơn, không có ai để nói chuyện")
    semantic = next(layer for layer in m.layers if layer.name == "semantic")
    assert semantic.ran and len(semantic.nearest) == 3


@pytest.mark.parametrize("text", ["何もかも面倒になった", "ぜんぶ嫌になった"])
def test_distress_that_names_no_need_is_checked_in_on(text):
    m = engine().match(text)
    assert m.crisis and m.check_in and top(m) == "suicide_risk"


@pytest.mark.parametrize("answer, kind", [
    ("うん", "yes"), ("はい…", "yes"), ("そこまでじゃない", "no"), ("ちがう", "no"),
    ("わからない", "unsure"), ("Not sure", "unsure"), ("No", "no"), ("không biết", "unsure"), ("không", "no"),
])
def test_an_answer_to_the_check_in_is_read_whole(answer, kind):
    assert answer_kind(answer) == kind


def test_yes_to_the_check_in_is_a_crisis():
    m = engine().match("うん", ASKED)
    assert m.answer == "yes" and m.crisis and top(m) == "suicide_risk"


def test_not_that_far_is_the_mental_health_need_without_a_crisis():
    m = engine().match("そこまでじゃないよ", ASKED)
    assert m.answer == "no" and not m.crisis and top(m) == "mental_health"


def test_not_knowing_is_answered_as_a_crisis_gently():
    m = engine().match("わからない", ASKED)
    assert m.answer == "unsure" and m.crisis


def test_a_new_story_after_the_check_in_is_read_as_a_new_message():
    m = engine().match("それより家賃が払えなくて、来月には部屋を出ないといけない", ASKED)
    assert m.answer is None and top(m) in ("housing", "financial_hardship")


def test_asking_whether_messages_are_recorded_is_a_privacy_question():
    m = engine().match("ここに書いたことって記録されるの？親にばれない？")
    assert top(m) == "help" and m.topic == "privacy"


def test_asking_whether_a_person_answers_is_a_who_question():
    m = engine().match("これって人間が返事してるんですか")
    assert top(m) == "help" and m.topic == "who"


def test_the_surface_layer_reads_words_in_any_script():
    assert fold("ヒキコモリ！！") == "ひきこもり"
    assert " k" in grams(fold("không ai")) and "ai " in grams(fold("không ai"))


def test_training_the_surface_layer_learns_what_it_is_shown():
    data = [p for p in pairs(load_intents()) if p[1] in ("food", "housing")]
    model = train_surface(data)
    assert set(model.classes) == {"food", "housing"}
    p = model.probabilities("今夜泊まるところがない")
    assert model.classes[int(p.argmax())] == "housing"
