"""A Referral as plain text: the reply the CLI, the console and Telegram show.

Channel adapters with richer messages (LINE Flex) use the helpers here for the
wording, so every channel says the same things in the same order.  Every fixed
text comes from locales/<lang>.yaml (bot/engine/texts.py).

`lang` below is a reply language, or "ja-easy+en": やさしい日本語 with English under
it, for a resident whose language the bot does not write (Referral.notes "with_en").
Texts are then given in both; labels, which must stay short, in English only.
"""

from __future__ import annotations

from datetime import datetime

from bot.engine import texts
from bot.engine.understand.language import NATIVE_NAMES, UNDETERMINED
from bot.types import REPLY_LANGS, Referral, ServiceHit

BOTH = "ja-easy+en"
CRISIS_INTENTS = ("suicide_risk", "emergency")
_JAPANESE_PUNCTUATION = ("ja", "ja-easy", "zh", BOTH)  # （・） rather than ( , )


def shown_lang(referral: Referral) -> str:
    """The language the reply is written in, "ja-easy+en" when English goes with it."""
    return BOTH if "with_en" in referral.notes else referral.lang


def t(lang: str, key: str, **kw: object) -> str:
    """A fixed text; in both languages, one under the other, for "ja-easy+en"."""
    if lang == BOTH:
        return texts.say("ja-easy", key, **kw) + "\n" + texts.say("en", key, **kw)
    return texts.say(lang, key, **kw)


def label(lang: str, key: str) -> str:
    """A button's label: short, so in one language (English for "ja-easy+en")."""
    return texts.say("en" if lang == BOTH else lang, key)


def _one(lang: str) -> str:
    return "en" if lang == BOTH else lang


def short(lang: str, key: str, **kw: object) -> str:
    """A word or two of a service's details: "24時間 / 24 hours" for "ja-easy+en"."""
    if lang == BOTH:
        return " / ".join(texts.say(x, key, **kw) for x in ("ja-easy", "en"))
    return texts.say(lang, key, **kw)


def when(dt: datetime, lang: str) -> str:
    lang = "ja-easy" if lang == BOTH else lang
    weekday = texts.weekdays(lang)[dt.weekday()]
    return texts.say(lang, "reply.when", month=dt.month, day=dt.day, weekday=weekday, time=f"{dt:%H:%M}")


def status(hit: ServiceHit, lang: str) -> str:
    """Open-now badge or next opening; unknown hours are never shown as open."""
    if hit.open_now is None:
        key = "reply.confirm_place" if hit.kind == "place" else "reply.confirm"
    elif hit.always_open:
        key = "reply.open24"
    elif hit.open_now:
        key = "reply.open"
    elif hit.next_open:
        if lang == BOTH:
            return " / ".join(texts.say(x, "reply.closed_next", when=when(hit.next_open, x)) for x in ("ja-easy", "en"))
        return t(lang, "reply.closed_next", when=when(hit.next_open, lang))
    else:
        key = "reply.closed"
    return short(lang, key)


def name(hit: ServiceHit, lang: str) -> str:
    """The service's Japanese name (it is what one says on the phone), with its name in the resident's
    language where the catalogue gives one: "よりそいホットライン (Yorisoi Hotline)"."""
    if lang == "ja" or lang == "ja-easy":
        return hit.name
    other = hit.name_local or hit.name_en
    return f"{hit.name} ({other})" if other and other != hit.name else hit.name


def contact(hit: ServiceHit) -> str:
    return hit.phone or hit.line_url or hit.url or ""


def own_language(referral: Referral) -> str:
    """The resident's own language, as the reply's lines were ordered by (router.own_language)."""
    language = referral.match.language
    if language and language not in ("ja", "ja-easy", UNDETERMINED):
        return language
    return referral.lang


def speaks(hit: ServiceHit, referral: Referral) -> str | None:
    """「ベトナム語で相談できます」 for a line that speaks the resident's own language (not Japanese)."""
    own = own_language(referral)
    if own in ("ja", "ja-easy") or own not in hit.languages:
        return None
    language = texts.language_name(own) if own in REPLY_LANGS else NATIVE_NAMES.get(own, own)
    return t(_one(shown_lang(referral)), "reply.speaks", language=language)


def service_line(hit: ServiceHit, lang: str, badge: str | None = None) -> str:
    bits = [name(hit, lang)]
    if contact(hit):
        bits.append(contact(hit))
    detail = [status(hit, lang).rstrip("。.")]
    if hit.free == "yes":
        detail.append(short(lang, "reply.free"))
    if hit.distance_km is not None:
        detail.append(short(lang, "reply.km", km=hit.distance_km))
    if badge:
        detail.append(badge)
    if lang in _JAPANESE_PUNCTUATION:
        line = " ".join(bits) + "（" + "・".join(detail) + "）"
    else:
        line = " ".join(bits) + " (" + ", ".join(detail) + ")"
    if hit.open_now is not None and not hit.always_open and hit.hours_text:
        line += f"\n   {hit.hours_text}"
    if hit.phone and hit.url and hit.kind not in ("web",):
        line += f"\n   {hit.url}"
    if hit.kind == "place":
        line += "".join(f"\n   {x}" for x in place_lines(hit, lang))
    return line


def place_lines(hit: ServiceHit, lang: str) -> list[str]:
    """A place to go: when it meets in its organisers' words, where, where that was read, and the credit."""
    out = []
    if hit.hours_text and hit.open_now is None:
        out.append(f"{short(lang, 'reply.schedule')}: {hit.hours_text}")
    if hit.address:
        out.append(hit.address)
    if not contact(hit) and hit.source_url:
        out.append(f"{short(lang, 'reply.source')}: {hit.source_url}")
    if hit.credit:
        out.append(hit.credit)
    return out


def area_line(referral: Referral) -> str | None:
    lang = shown_lang(referral)
    if referral.area is not None:
        key = "reply.area_approx" if referral.area.approximate else "reply.area_used"
        return t(lang, key, name=referral.area.name)
    if referral.ask_area:
        return t(lang, "reply.ask_area")
    return None


def leads_with_lines(referral: Referral) -> bool:
    """A crisis, or the check-in question: the 24-hour lines come before anything else."""
    return referral.crisis or referral.asks == "suicide_check"


def crisis_lines(referral: Referral) -> list[ServiceHit]:
    return [h for h in referral.services if h.intent in CRISIS_INTENTS] if leads_with_lines(referral) else []


def heading(lang: str, key: str) -> str:
    text = t(lang, key).replace("\n", " / ")
    return f"【{text}】" if lang in _JAPANESE_PUNCTUATION else f"[{text}]"


def privacy(lang: str, stored_days: int | None = None) -> str:
    """The privacy notice; `stored_days` when STORE_MESSAGES keeps message text that long."""
    def one(x: str) -> str:
        kept = (texts.say(x, "privacy.kept_nothing") if stored_days is None
                else texts.say(x, "privacy.kept_days", days=stored_days))
        return texts.say(x, "privacy.notice", kept=kept)
    return one("ja-easy") + "\n\n" + one("en") if lang == BOTH else one(lang)


def choice_labels(referral: Referral) -> list[tuple[str, str]]:
    """(intent id, label) of the needs offered when the bot is unsure."""
    lang = shown_lang(referral)
    return [(i, label(lang, f"need.{i}")) for i in referral.choices]


def closing(referral: Referral, stored_days: int | None = None) -> list[str]:
    """What follows the services: the FAQ's privacy notice, the check-in question, the offer of やさしい日本語."""
    lang = shown_lang(referral)
    out = []
    if referral.faq == "privacy":
        out.append(privacy(lang, stored_days))
    if referral.asks == "suicide_check":
        out.append(t(lang, "checkin.question"))
    return out


def render_text(referral: Referral, stored_days: int | None = None) -> str:
    lang = shown_lang(referral)
    out = [referral.opening] if referral.opening else []
    if leads_with_lines(referral):
        out.append(t(lang, "reply.not_counsellor"))
    lines = crisis_lines(referral)
    rest = [h for h in referral.services if h not in lines]
    if lines:
        out.append(heading(lang, "reply.now"))
        out += [f"📞 {service_line(h, lang, speaks(h, referral))}" for h in lines]
    if referral.choices:
        out.append(t(lang, "unsure.choose") + "\n" + "\n".join(
            f"{n}. {text}" for n, (_, text) in enumerate(choice_labels(referral), 1)))
        if rest:
            out.append(t(lang, "unsure.line"))
    if rest:
        if lines:
            out.append(heading(lang, "reply.more"))
        out += [f"・{service_line(h, lang, speaks(h, referral))}" for h in rest]
    if referral.services and not referral.choices and (line := area_line(referral)):
        out.append(line)
    if leads_with_lines(referral) or any(s.tier == "crisis" for s in referral.intents):
        out.append(t(lang, "reply.danger"))
    if leads_with_lines(referral):
        out.append(t(lang, "reply.emergency_explain"))
    out += closing(referral, stored_days)
    return "\n".join(out)
