"""「試す」: a message -> the reply a resident gets on LINE, and why.

    text, area, time, language, the question asked before -> engine.route() -> Referral
        -> chat(): the LINE channel's own messages (crisis card, text, carousel, quick replies) as dicts
        -> explain(): the message's language and why, the reply's language; which layer decided and what
           each layer saw (its best intents and scores, the nearest examples); normalised text and
           readings, each intent's phrases and scores, the crisis decision, the check-in; and for every
           service of the needs considered: chosen (and why) or left out (and why)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.engine import Engine, texts
from bot.engine.catalogue.model import Service
from bot.engine.render import render_text
from bot.engine.router import CRISIS_LINES, MAX_NEEDS, RouteOptions, own_language
from bot.engine.understand.language import NATIVE_NAMES, UNDETERMINED
from bot.engine.understand.scoring import CRISIS_THRESHOLD, THRESHOLD
from bot.types import REPLY_LANGS, Referral, ResidentContext

KIND_JA = {"phone": "電話", "chat": "チャット", "sns": "SNS", "web": "ウェブ", "centre": "窓口", "place": "居場所"}
TIER_JA = {"crisis": "危機", "need": "ニーズ", "meta": "その他"}
EVIDENCE_JA = {"exact": "かな一致", "lemma": "原形一致", "fuzzy": "ゆれ（誤字）", "example": "例文",
               "weak-exact": "弱い語・かな", "weak-lemma": "弱い語・原形", "weak-fuzzy": "弱い語・ゆれ", "menu": "メニュー"}
LEVEL_JA = {"municipality": "市区町村", "designated city": "政令市", "prefecture": "都道府県"}
LAYER_JA = {"lexicon": "語句", "surface": "文字n-gram", "semantic": "意味（多言語）", "crisis": "危機検出",
            "followup": "前の質問への答え", "language": "言語"}
ANSWER_JA = {"yes": "はい（死にたいほどつらい）", "no": "いいえ（そこまでではない）", "unsure": "わからない"}
# Japanese names of languages, for staff.
LANGUAGE_JA = {"ja": "日本語", "ja-easy": "やさしい日本語", "en": "英語", "zh": "中国語", "vi": "ベトナム語",
               "ko": "韓国語", "tl": "タガログ語", "pt": "ポルトガル語", "ne": "ネパール語", "id": "インドネシア語",
               "es": "スペイン語", "th": "タイ語", "my": "ミャンマー語", "fr": "フランス語", "de": "ドイツ語",
               "ru": "ロシア語", "hi": "ヒンディー語", "bn": "ベンガル語", "si": "シンハラ語", "km": "クメール語",
               "mn": "モンゴル語", "ur": "ウルドゥー語", "ar": "アラビア語", "fa": "ペルシャ語",
               UNDETERMINED: "判定できず（短すぎる・文字がない）"}


def language_ja(code: str) -> str:
    return LANGUAGE_JA.get(code) or NATIVE_NAMES.get(code) or code


def language_options() -> list[tuple[str, str]]:
    """(code, label) for the try page's language selector: the reply languages, named for staff."""
    return [(code, f"{language_ja(code)}（{texts.language_name(code)}）" if code != "ja" else "日本語")
            for code in REPLY_LANGS]

# The router's reasons, as a staff member would read them.
_WHY = [
    (re.compile(r"^crisis: open now, 24 hours$"), "危機対応：いまつながる（24時間）"),
    (re.compile(r"^crisis: open now$"), "危機対応：いまつながる"),
    (re.compile(r"^crisis: chat open now$"), "危機対応：いまつながるチャット"),
    (re.compile(r"^life at risk: emergency number$"), "命の危険：緊急通報"),
    (re.compile(r"^national line for this need$"), "このニーズの全国窓口"),
    (re.compile(r"^local: covers (.+) \((municipality|designated city|prefecture)\)$"),
     lambda m: f"地域：{m.group(1)}を受け持つ（{LEVEL_JA[m.group(2)]}の窓口）"),
    (re.compile(r"^local: no catalogue entry for (.+?); .*$"),
     lambda m: f"地域：{m.group(1)}の窓口が一覧にないため、公式サイトと担当課を案内"),
    (re.compile(r"^the general 24-hour line.*$"), "どの返信にも添える24時間の総合窓口"),
    (re.compile(r"^safety net: .*$"), "安全網：危機の語句が否定されていても24時間の窓口を1つ添える"),
    (re.compile(r"^no service for this need yet.*$"), "このニーズの窓口がまだ一覧にないため、総合窓口"),
]


def why_ja(why: str) -> str:
    for pattern, out in _WHY:
        m = pattern.match(why)
        if m:
            return out(m) if callable(out) else out
    return why


@dataclass
class ServiceWhy:
    id: str
    name: str
    kind: str
    intent: str
    area: str
    open_now: str
    confidence: str
    reason: str
    detail: str = ""
    chosen: bool = False


@dataclass
class IntentWhy:
    id: str
    label: str
    tier: str
    score: float
    evidence: list[dict[str, Any]]
    offered: bool
    note: str = ""


@dataclass
class LayerWhy:
    name: str
    label: str
    ran: bool
    decided: bool
    top: list[tuple[str, float]]
    nearest: list[str]
    note: str


@dataclass
class LanguageWhy:
    language: str  # the message's own, for staff ("ベトナム語")
    code: str
    why: str
    reply: str  # the reply's language, for staff
    reply_code: str
    how: str  # chosen by the resident, or followed the message, or kept from the last reply
    with_english: bool
    own: str  # the language lines were ordered by


@dataclass
class Explanation:
    text: str
    readings: list[str]
    intents: list[IntentWhy]
    crisis: bool
    emergency: bool
    crisis_why: str
    crisis_summary: str
    area: str
    at: datetime
    chosen: list[ServiceWhy]
    left_out: dict[str, list[ServiceWhy]] = field(default_factory=dict)
    language: LanguageWhy | None = None
    decided_by: str = ""
    layers: list[LayerWhy] = field(default_factory=list)
    conversation: list[str] = field(default_factory=list)  # check-in, answer, unsure, topic, in words


def try_message(engine: Engine, text: str, area: str | None, at: datetime | None, lang: str | None = None,
                asked: str | None = None) -> Referral:
    """`lang`: the language the resident chose (None: follow the message); `asked`: the question the bot's
    previous reply asked, so that this message is read as its answer."""
    context = ResidentContext(area=area, lang=lang if lang in REPLY_LANGS else None,  # type: ignore[arg-type]
                              asked="suicide_check" if asked == "suicide_check" else None)
    return engine.route(text, context, at)


def chat(referral: Referral) -> list[dict[str, Any]]:
    """What LINE would receive, as plain dicts (the channel's own builder); plain text if it is absent."""
    try:
        from bot.channels.line import referral_messages
    except ImportError:
        return [{"type": "text", "text": render_text(referral)}]
    return [m.to_dict() for m in referral_messages(referral, group=False)]


def explain(engine: Engine, referral: Referral, lang: str | None = None) -> Explanation:
    """`lang`: the language the resident chose, if any (the try page's selector)."""
    match, at, area = referral.match, referral.at, referral.area
    specs = engine.intents
    needs = [s.id for s in match.intents if s.tier == "need"]
    intents = []
    for s in match.intents:
        spec = specs.get(s.id)
        offered = s.tier == "crisis" and referral.crisis or s.id in needs[:MAX_NEEDS] or (
            s.tier == "meta" and s is match.intents[0])
        note = ""
        if s.tier == "need" and s.id in needs[MAX_NEEDS:]:
            note = f"案内するニーズは上位{MAX_NEEDS}つまで"
        elif s.tier == "need" and s.score < THRESHOLD:
            note = f"しきい値{THRESHOLD}未満"
        intents.append(IntentWhy(
            s.id, spec.ja if spec else s.id, TIER_JA.get(s.tier, s.tier), s.score,
            [{"phrase": e.phrase, "found": e.found, "score": e.score, "kind": EVIDENCE_JA.get(e.kind, e.kind),
              "negated": e.negated} for e in s.evidence],
            bool(offered), note))
    if referral.crisis:
        summary = (f"危機対応あり：否定されていない危機の語句の得点がしきい値{CRISIS_THRESHOLD}以上。"
                   "いまつながる24時間の窓口を先頭に出します。")
        if referral.emergency:
            summary += "命の危険が差し迫っているため、110・119を最初に出します。"
    elif any(s.tier == "crisis" for s in match.intents):
        summary = "危機対応なし：危機の語句はあるが、否定されているか得点がしきい値未満。24時間の窓口は添えます。"
    else:
        summary = "危機対応なし：危機の語句は見つかりませんでした。"
    area_text = "—"
    if area is not None:
        how = {"text": "文中の地名", "postal": "郵便番号", "location": "位置情報", "code": "コード",
               "remembered": "指定した地域"}.get(area.how, area.how)
        area_text = f"{area.name}（{area.code}・{how}{'・おおよそ' if area.approximate else ''}）"
    chosen = [
        ServiceWhy(h.service_id, h.name, KIND_JA.get(h.kind, h.kind), h.intent, _area_name(engine, h.area),
                   _open(h.open_now, h.always_open), h.confidence, why_ja(h.why), h.why, True)
        for h in referral.services
    ]
    return Explanation(
        match.text, [r for r in match.readings.split("|") if r], intents, referral.crisis, referral.emergency,
        match.crisis_why, summary, area_text, at, chosen, _left_out(engine, referral, needs[:MAX_NEEDS]),
        _language(referral, lang), match.decided_by, _layers(referral), _conversation(referral),
    )


def _language(referral: Referral, chosen: str | None) -> LanguageWhy:
    match = referral.match
    how = "相談者が選んだ言語" if chosen in REPLY_LANGS else "文の言語に合わせた"
    if "with_en" in referral.notes:
        how += "。返信できない言語なので、やさしい日本語と英語で返す"
    own = own_language(match, ResidentContext(lang=chosen if chosen in REPLY_LANGS else None),  # type: ignore[arg-type]
                       referral.lang)
    return LanguageWhy(language_ja(match.language), match.language, match.language_why or "—",
                       language_ja(referral.lang), referral.lang, how, "with_en" in referral.notes, language_ja(own))


def _layers(referral: Referral) -> list[LayerWhy]:
    match = referral.match
    return [LayerWhy(layer.name, LAYER_JA.get(layer.name, layer.name), layer.ran, layer.name == match.decided_by,
                     list(layer.top), list(layer.nearest), layer.note) for layer in match.layers]


def _conversation(referral: Referral) -> list[str]:
    match, out = referral.match, []
    if match.answer:
        out.append(f"前の質問（死にたいほどつらいか）への答え：{ANSWER_JA.get(match.answer, match.answer)}"
                   + ("。24時間の窓口を先頭に出します。" if match.answer in ("yes", "unsure") else
                      "。こころの相談窓口と24時間の窓口を1つ出します。"))
    if referral.asks == "suicide_check":
        out.append("何がつらいのかはっきりしない苦しさ：24時間の窓口を先頭に、死にたいほどつらいかをはっきり尋ねます"
                   "（次のメッセージはその答えとして読みます）。")
    if referral.choices:
        out.append("確信がないため、近いニーズを選択肢として出し、24時間の窓口を1つ添えます："
                   + "、".join(referral.choices))
    if referral.faq:
        out.append(f"サービスについての質問（{referral.faq}）に答えます。")
    if "offer_plain" in referral.notes:
        out.append("かなだけ・とても簡単な日本語なので、やさしい日本語で答え、ふつうの日本語を選べるようにします。")
    return out


def _left_out(engine: Engine, referral: Referral, needs: list[str]) -> dict[str, list[ServiceWhy]]:
    """Each catalogue service of the needs considered that the reply does not show, with the reason."""
    cat, areas, area, at = engine.catalogue, engine.areas, referral.area, referral.at
    shown = {h.service_id for h in referral.services}
    out: dict[str, list[ServiceWhy]] = {}
    considered = (["suicide_risk"] if referral.crisis else []) + needs
    quota = RouteOptions().per_need
    for rank, intent in enumerate(considered):
        crisis_block = referral.crisis and intent == "suicide_risk"
        rows = []
        for s in cat.by_intent.get(intent, []):
            if s.id in shown:
                continue
            reason = _reason(s, crisis_block, area, areas, at)
            if reason is None:
                limit = CRISIS_LINES if crisis_block else quota + (1 if rank == (1 if referral.crisis else 0) else 0)
                reason = f"条件は満たすが、順位が下（上位{limit}件まで。並びは 受付中→確度→種別）"
            rows.append(ServiceWhy(s.id, s.name, KIND_JA.get(s.kind, s.kind), intent,
                                   "・".join(_area_name(engine, a) for a in s.areas),
                                   _open(s.hours.is_open(at) if s.hours_certain else None, s.always_open),
                                   s.confidence, reason))
        if rows:
            out[intent] = rows
    return out


def _reason(s: Service, crisis_block: bool, area, areas, at: datetime) -> str | None:
    if s.status != "active":
        return f"状態が{s.status}（休止・終了）なので出さない"
    if not s.national:
        if area is None:
            return "地域の窓口：相談者の地域がわからないので出さない"
        if areas.level(s.areas, area.code) is None:
            return f"地域外：{area.name}を受け持たない"
    if crisis_block:
        if not s.hours.known:
            return "受付時間が一覧にない（不明・地域で異なる）ので「いまつながる」には出さない"
        if not s.hours_certain:
            return f"確度が {s.confidence} で受付時間を確かと言えないので「いまつながる」には出さない"
        if not s.hours.is_open(at):
            return "指定の時刻は受付時間外"
        if not s.phone:
            return "チャットは1つまで"
    return None


def _open(open_now: bool | None, always: bool) -> str:
    if open_now is None:
        return "不明（公式サイトで確認）"
    if always:
        return "24時間"
    return "受付中" if open_now else "時間外"


def _area_name(engine: Engine, code: str) -> str:
    if code == "national":
        return "全国"
    place = engine.areas.get(code)
    return place.name if place else code
