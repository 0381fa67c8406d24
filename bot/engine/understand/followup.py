"""Messages read in the light of what came before: an answer to the bot's own question, and
which question about the service a `help` message asks.

    context.asked == "suicide_check" (the last reply asked 「いま、死にたいと思うほどつらいですか？」)
      「うん」「はい」「そう」                -> answer "yes":    the crisis reply
      「わからない」「どうだろう」            -> answer "unsure": the crisis reply, gently
      「ちがう」「そこまでじゃない」          -> answer "no":     the need's services and one 24-hour line
      anything longer or about something else -> read as a new message

Answers are compared whole, longest first, so "not sure" is never read as "no" and
「わからない」 never as 「わ」.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.engine.understand.surface import fold
from bot.types import Evidence, IntentScore, Match

MAX_ANSWER = 40  # characters: a longer message is a message of its own, not an answer

ANSWERS: dict[str, tuple[str, ...]] = {
    "yes": (
        "うん", "うむ", "はい", "はいそうです", "そう", "そうです", "そうだよ", "そうかも", "ええ", "まあね",
        "そうやな", "せや", "そやね", "死にたい", "しにたい", "つらい", "ほんとに", "ほんとう", "そうなの",
        "yes", "yeah", "yep", "y", "i am", "i do", "kind of", "a bit",
        "是", "是的", "对", "嗯", "có", "vâng", "dạ", "ừ", "네", "예", "응", "oo", "opo", "oo po", "sim", "é",
        "ya", "iya", "benar", "हो", "हजुर", "sí", "si", "ใช่", "ค่ะ", "ครับ", "ဟုတ်",
    ),
    "unsure": (
        "わからない", "わかんない", "分からない", "わからん", "分からん", "わかんね", "どうだろう", "どうかな",
        "たぶん", "多分", "かもしれない", "かも", "微妙", "びみょう", "なんとも", "よくわからない",
        "not sure", "i don't know", "i dont know", "dont know", "maybe", "idk", "i'm not sure", "im not sure",
        "不知道", "不确定", "也许", "không biết", "không chắc", "có lẽ", "모르겠어", "모르겠어요", "잘 모르겠어요",
        "글쎄요", "hindi ko alam", "ewan", "siguro", "não sei", "talvez", "tidak tahu", "entahlah", "mungkin",
        "थाहा छैन", "no sé", "no se", "quizás", "ไม่แน่ใจ", "ไม่รู้", "မသိဘူး",
    ),
    "no": (
        "ちがう", "違う", "ちがいます", "違います", "いいえ", "ううん", "いや", "いやいや", "ない", "ないです",
        "そこまでじゃない", "そこまでではない", "そこまでじゃないです", "そこまでではないです", "そこまでは",
        "大丈夫", "だいじょうぶ", "大丈夫です", "死にたくはない", "死にたいわけじゃない", "ちゃうちゃう", "ちゃう",
        "no", "nope", "not really", "not that bad", "i'm ok", "im ok", "i'm fine", "no i'm not",
        "不是", "没有", "không", "không phải", "아니", "아니요", "아니에요", "hindi", "hindi po", "não", "nao",
        "tidak", "bukan", "enggak", "होइन", "छैन", "no estoy", "ไม่", "ไม่ใช่", "မဟုတ်ဘူး",
    ),
}
_WHOLE = sorted(((fold(a), kind) for kind, words in ANSWERS.items() for a in words), key=lambda x: -len(x[0]))
_TRAILING = re.compile(r"(です|だよ|よ|ね|な|ー|w+|笑)+$")


def answer_kind(text: str) -> str | None:
    """"yes", "no" or "unsure" when the message is an answer to a yes-or-no question."""
    folded = fold(text)
    if not folded or len(folded) > MAX_ANSWER:
        return None
    candidates = {folded, _TRAILING.sub("", folded)}
    for answer, kind in _WHOLE:
        for c in candidates:
            if c == answer or c.startswith(answer + " "):
                return kind
    return None


def answer_to(asked: str, text: str, match: Match) -> Match:
    """`match` read as the answer to the bot's question `asked` (only "suicide_check" exists)."""
    if asked != "suicide_check":
        return match
    if match.crisis and not match.check_in:
        return replace(match, answer="yes")  # 「うん、もう死にたい」: the message says it itself
    kind = answer_kind(text)
    if kind is None:
        return match
    said = Evidence("(answer to the check-in question)", text, 1.0, "followup")
    rest = tuple(s for s in match.intents if s.id not in ("suicide_risk", "mental_health"))
    if kind == "no":
        lead = IntentScore("mental_health", 1.0, "need", (said,))
        return replace(match, intents=(lead,) + rest, crisis=False, check_in=False, unsure=False, answer=kind,
                       crisis_why="answered the check-in question: not thinking of dying", decided_by="followup")
    lead = IntentScore("suicide_risk", 1.0, "crisis", (said,))
    return replace(match, intents=(lead,) + rest, crisis=True, check_in=False, unsure=False, answer=kind,
                   crisis_why=f"answered the check-in question: {kind}", decided_by="followup")


def topic_of(text: str, topics: dict[str, tuple[str, ...]]) -> str | None:
    """Which question about the service a `help` message asks (help.yaml `topics`); None when no word says."""
    folded = f" {fold(text)} "
    for topic, words in topics.items():
        for w in map(fold, words):
            # Words in Latin letters count whole ("ai" is no question about bots in "again").
            if w and ((f" {w} " in folded) if w.isascii() else (w in folded)):
                return topic
    return None
