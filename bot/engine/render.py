"""A Referral as plain text: the reply the CLI, the console and Telegram show.

Channel adapters with richer messages (LINE Flex) use the helpers here for the
wording, so every channel says the same things in the same order.
"""

from __future__ import annotations

from datetime import datetime

from bot.engine.catalogue.model import CONFIRM_HOURS
from bot.types import Referral, ServiceHit

WEEKDAYS_JA = "月火水木金土日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

TEXT = {
    "ja": {
        "not_counsellor": "わたしは相談員ではなく、相談先を案内するボットです。話を聞いてくれる人につながってください。",
        "danger": "命の危険があるときは 119（救急）・110（警察）へ。",
        "now": "今つながる相談先",
        "more": "ほかの相談先",
        "area_used": "{name}の窓口も含めています（地域を変えるときは市区町村名か郵便番号を送ってください）。",
        "area_approx": "位置情報から一番近い役所の{name}として案内しています（おおよそです）。",
        "ask_area": "お住まいの市区町村名か郵便番号を送ってもらえると、近くの窓口も案内できます。",
        "open24": "24時間",
        "open": "受付中",
        "closed_next": "受付時間外・次は{when}",
        "closed": "受付時間外",
        "confirm": CONFIRM_HOURS,
        "free": "無料",
        "for": "対象",
        "km": "約{km}km",
    },
    "en": {
        "not_counsellor": "I am not a counsellor, only a bot that finds where to turn. Please reach a person who can listen.",
        "danger": "If a life is in danger, call 119 (ambulance) or 110 (police).",
        "now": "You can reach now",
        "more": "More places to ask",
        "area_used": "Including services for {name} (send a city name or postal code to change it).",
        "area_approx": "Using {name}, the nearest municipal office to your location (approximate).",
        "ask_area": "Send your city or postal code and I can add services near you.",
        "open24": "24 hours",
        "open": "open now",
        "closed_next": "closed now, opens {when}",
        "closed": "closed now",
        "confirm": "Please check the hours on the official website.",
        "free": "free",
        "for": "for",
        "km": "about {km} km",
    },
}


def t(lang: str, key: str, **kw) -> str:
    return TEXT["en" if lang == "en" else "ja"][key].format(**kw)


def when(dt: datetime, lang: str) -> str:
    if lang == "en":
        return f"{WEEKDAYS_EN[dt.weekday()]} {dt.month}/{dt.day} {dt:%H:%M}"
    return f"{dt.month}/{dt.day}({WEEKDAYS_JA[dt.weekday()]}) {dt:%H:%M}"


def status(hit: ServiceHit, lang: str) -> str:
    """Open-now badge or next opening; unknown hours are never shown as open."""
    if hit.open_now is None:
        return t(lang, "confirm")
    if hit.always_open:
        return t(lang, "open24")
    if hit.open_now:
        return t(lang, "open")
    if hit.next_open:
        return t(lang, "closed_next", when=when(hit.next_open, lang))
    return t(lang, "closed")


def name(hit: ServiceHit, lang: str) -> str:
    return (hit.name_en or hit.name) if lang == "en" else hit.name


def contact(hit: ServiceHit) -> str:
    return hit.phone or hit.line_url or hit.url or ""


def service_line(hit: ServiceHit, lang: str) -> str:
    bits = [name(hit, lang)]
    if contact(hit):
        bits.append(contact(hit))
    detail = [status(hit, lang)]
    if hit.free == "yes":
        detail.append(t(lang, "free"))
    if hit.distance_km is not None:
        detail.append(t(lang, "km", km=hit.distance_km))
    line = " ".join(bits) + "（" + "・".join(detail) + "）" if lang == "ja" else " ".join(bits) + " (" + ", ".join(detail) + ")"
    if hit.open_now is not None and not hit.always_open and hit.hours_text:
        line += f"\n   {hit.hours_text}"
    if hit.phone and hit.url and hit.kind not in ("web",):
        line += f"\n   {hit.url}"
    return line


def area_line(referral: Referral) -> str | None:
    lang = referral.lang
    if referral.area is not None:
        key = "area_approx" if referral.area.approximate else "area_used"
        return t(lang, key, name=referral.area.name)
    if referral.ask_area:
        return t(lang, "ask_area")
    return None


def render_text(referral: Referral) -> str:
    lang = referral.lang
    out = [referral.opening] if referral.opening else []
    if referral.crisis:
        out.append(t(lang, "not_counsellor"))
    crisis_hits = [h for h in referral.services if h.intent in ("suicide_risk", "emergency")] if referral.crisis else []
    rest = [h for h in referral.services if h not in crisis_hits]
    if crisis_hits:
        out.append(f"【{t(lang, 'now')}】" if lang == "ja" else f"[{t(lang, 'now')}]")
        out += [f"📞 {service_line(h, lang)}" for h in crisis_hits]
    if rest:
        if crisis_hits:
            out.append(f"【{t(lang, 'more')}】" if lang == "ja" else f"[{t(lang, 'more')}]")
        out += [f"・{service_line(h, lang)}" for h in rest]
    if referral.services and (line := area_line(referral)):
        out.append(line)
    if referral.crisis or any(s.tier == "crisis" for s in referral.intents):
        out.append(t(lang, "danger"))
    return "\n".join(out)
