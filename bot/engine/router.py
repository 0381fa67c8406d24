"""Crisis first, open now, local: from a Match to the services a resident sees.

    Match + ResidentContext + now
      -> crisis block (24-hour lines open now; 110/119 first when life is at risk)
      -> per need: local entries covering the resident (town, city, prefecture, nearest)
                   then national lines (open now first), never an empty list
      -> Referral

Pure: the same inputs and `now` give the same Referral.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine import texts
from bot.engine.areas import Areas, haversine
from bot.engine.catalogue.model import Catalogue, Service
from bot.engine.offices import OFFICES
from bot.engine.understand.intents import IntentSpec
from bot.engine.understand.language import UNDETERMINED
from bot.types import Area, Evidence, IntentScore, Lang, Match, Referral, ResidentContext, ServiceHit

CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2, "incomplete": 3, "not-standing": 4}
KIND_RANK = {"phone": 0, "sns": 1, "chat": 2, "centre": 3, "place": 4, "web": 5}
EMERGENCY_IDS = ("fire_ambulance_119", "police_110")
GENERAL_LINE = "yorisoi_hotline"  # the general 24-hour line offered with meta replies
MAX_NEEDS = 3
CRISIS_LINES = 4
MAX_LOCATION_KM = 60
MAX_CHOICES = 6  # needs offered as quick replies when the bot is unsure
# Offered after what a message hinted at, when unsure: the needs residents bring most (the national
# plan's own order of concerns), so that one tap reaches most of them.
COMMON_NEEDS = ("mental_health", "loneliness", "financial_hardship", "workplace_trouble", "housing",
                "caregiver_burden", "legal_trouble", "child_youth_trouble")
CHECKIN_NEED = "mental_health"  # answered after "no, not that far" to the check-in question
# Lines a resident in crisis may reach in their own language, after the 24-hour lines.
LANGUAGE_LINE_INTENTS = ("suicide_risk", "mental_health", "loneliness")
PLACE_FIRST = ("places_to_go", "food")  # needs a place to go answers first
PLACES_PER_NEED = 1  # places shown for any other need (認知症カフェ for dementia, beside the centres)


@dataclass(frozen=True)
class RouteOptions:
    per_need: int = 3  # services per need (the first need gets one more)
    limit: int = 10  # services in all


def route(
    match: Match,
    context: ResidentContext,
    now: datetime,
    catalogue: Catalogue,
    areas: Areas,
    intents: dict[str, IntentSpec],
    options: RouteOptions = RouteOptions(),
) -> Referral:
    lang = reply_lang(match, context)
    english = with_english(match, context, lang)
    own = own_language(match, context, lang)
    area = _area(match, context, areas)
    picked: dict[str, ServiceHit] = {}

    def add(hit: ServiceHit) -> None:
        if hit.service_id not in picked:
            picked[hit.service_id] = hit

    def say(key: str) -> str:
        return texts.say(lang, key) + ("\n" + texts.say("en", key) if english else "")

    crisis_ids = [s.id for s in match.intents if s.tier == "crisis" and any(not e.negated for e in s.evidence)]
    emergency = match.crisis and "emergency" in crisis_ids
    # The answer to "are you thinking of dying?": yes or unsure is a crisis, whatever else the words say.
    answer = match.answer if match.answer in ("yes", "no", "unsure") else None
    crisis = match.crisis or answer in ("yes", "unsure")
    # A check-in is raised as a crisis (the lines lead) but asks before it says more.
    check_in = match.check_in and answer is None
    unsure = (match.unsure or _top(match) == "out_of_scope") and not crisis and not check_in and answer is None
    if crisis or check_in:
        for hit in _crisis_block(catalogue, now, emergency, area, areas, own):
            add(hit)

    needs = [s for s in match.intents if s.tier == "need"][:MAX_NEEDS]
    if answer == "no" and not needs:
        needs = [IntentScore(CHECKIN_NEED, 1.0, "need")]
    if unsure:
        needs = []  # not sure what they need: ask, and show one 24-hour line meanwhile
    for rank, need in enumerate(needs):
        quota = options.per_need + (1 if rank == 0 else 0)
        for hit in _for_need(need.id, catalogue, now, area, context, areas, own, limit=quota):
            add(hit)

    top = _top(match)
    general = catalogue.get(GENERAL_LINE)
    if not crisis and not check_in and general and (
        unsure or answer == "no"
        or (not needs and top in ("thanks", "out_of_scope", "help"))
        or (any(s.tier == "crisis" for s in match.intents) and not any(h.always_open for h in picked.values()))
    ):
        # Never a reply without a line open all night: the general 24-hour line (after a "no" to the
        # check-in, when unsure, with meta replies, and as a safety net for a negated crisis phrase).
        why = ("safety net: a crisis phrase was present but negated" if needs and answer is None
               else "the general 24-hour line, offered with every reply")
        add(_hit(general, "suicide_risk" if needs else top, now, why))

    services = tuple(picked.values())[: options.limit + (3 if crisis or check_in else 0)]
    choices: tuple[str, ...] = ()
    faq = None
    notes = []
    if answer is not None:
        opening = say({"yes": "checkin.if_yes", "unsure": "checkin.if_unsure", "no": "checkin.if_no"}[answer])
    elif check_in:
        opening = say("checkin.opening")
    elif crisis:
        opening = say("opening." + ("emergency" if emergency else crisis_ids[0] if crisis_ids else "suicide_risk"))
    elif match.topic and not needs and texts.has(lang, f"faq.{match.topic}"):
        faq = match.topic
        opening = say(f"faq.{match.topic}")
    elif unsure:
        opening = say("unsure.opening" if match.unsure else "opening.out_of_scope")
        choices = _choices(match)
    else:
        opening = say(f"opening.{top}") if texts.has(lang, f"opening.{top}") else ""
    if crisis or check_in:
        notes.append("not_counsellor")
    if english:
        notes.append("with_en")
    if match.language == "ja-easy" and lang == "ja-easy" and context.lang is None and not (crisis or check_in or answer):
        notes.append("offer_plain")  # answered simply because the message was simple: ordinary Japanese one tap away
    return Referral(
        match=match,
        crisis=crisis,
        emergency=emergency,
        opening=opening,
        services=services,
        lang=lang,
        at=now,
        area=area,
        ask_area=bool(needs) and area is None and not unsure,
        notes=tuple(notes),
        choices=choices,
        asks="suicide_check" if check_in else None,
        faq=faq,
    )


def menu_match(context: ResidentContext, intents: tuple[IntentScore, ...] = (), crisis: bool = False,
               why: str = "", answer: str | None = None) -> Match:
    """A Match for a button (no text to read): the reply is in the resident's language, as reply_lang reads it."""
    return Match(text="", readings="", intents=intents, crisis=crisis, crisis_why=why,
                 lang=context.last_lang or "ja", language=UNDETERMINED, language_why="a button: no text",
                 answer=answer)


def chosen(intent: str, tier: str, context: ResidentContext) -> Match:
    """The need a resident chose from the choices offered, as if the message had said it plainly."""
    evidence = (Evidence(phrase="", found="", score=1.0, kind="menu"),)
    return menu_match(context, (IntentScore(intent, 1.0, tier, evidence),), crisis=tier == "crisis",  # type: ignore[arg-type]
                      why=f"chose {intent} from the choices offered")


def reply_lang(match: Match, context: ResidentContext) -> Lang:
    """The resident's choice; else the message's language; else (too short to tell) the last reply's."""
    if context.lang:
        return context.lang
    if (match.language == UNDETERMINED or match.answer) and context.last_lang:
        return context.last_lang  # 「うん」 answers in the language of the question it answers
    return match.lang


def with_english(match: Match, context: ResidentContext, lang: str) -> bool:
    """やさしい日本語 the resident did not choose, for a message not in Japanese, stands for a language we do
    not write: English goes with it."""
    return lang == "ja-easy" and context.lang != "ja-easy" and match.language not in ("ja", "ja-easy")


def own_language(match: Match, context: ResidentContext, lang: str) -> str:
    """The language the lines shown first should speak: the resident's own, where it is not Japanese."""
    message = context.last_lang if match.language == UNDETERMINED else match.language
    for code in (context.lang, message):
        if code and code not in ("ja", "ja-easy", UNDETERMINED):
            return code
    return lang


def _top(match: Match) -> str:
    return match.intents[0].id if match.intents else "out_of_scope"


def _choices(match: Match) -> tuple[str, ...]:
    """The needs to offer when unsure: those the message hinted at, then the commonest."""
    hinted = [s.id for s in match.intents if s.tier in ("crisis", "need")]
    out: list[str] = []
    for need in (*hinted, *COMMON_NEEDS):
        if need not in out:
            out.append(need)
    return tuple(out[:MAX_CHOICES])


def _area(match: Match, context: ResidentContext, areas: Areas) -> Area | None:
    named = areas.in_text(match.text)
    if named:
        return named
    if context.area:
        place = areas.get(context.area)
        if place:
            return place.area("remembered")
    if context.lat is not None and context.lon is not None:
        area, km = areas.near(context.lat, context.lon)
        # A point far from every municipal office (at sea, abroad) tells nothing.
        return area if km <= MAX_LOCATION_KM else None
    return None


# How a source names the language of each of a line's numbers (労働条件相談ほっとライン: one per language).
_NUMBER_LANGUAGES = {"英語": "en", "中国語": "zh", "ベトナム語": "vi", "韓国語": "ko", "タガログ語": "tl",
                     "ポルトガル語": "pt", "ネパール語": "ne", "インドネシア語": "id", "スペイン語": "es",
                     "タイ語": "th", "ミャンマー語": "my"}


def _phone(s: Service, own: str | None) -> str | None:
    """The number to show: the one its source gives for the resident's language, else the first."""
    for number, note in s.phone_alt:
        if own and any(_NUMBER_LANGUAGES.get(word) == own for word in _NUMBER_LANGUAGES if word in note):
            return number
    return s.phone


def _hit(s: Service, intent: str, now: datetime, why: str, distance: float | None = None,
         own: str | None = None) -> ServiceHit:
    certain = s.hours_certain
    return ServiceHit(
        service_id=s.id,
        name=s.name,
        kind=s.kind,
        intent=intent,
        phone=_phone(s, own),
        url=s.url,
        line_url=s.line_url,
        hours_text=s.hours_text,
        open_now=s.hours.is_open(now) if certain else None,
        always_open=s.always_open,
        next_open=s.hours.next_open(now) if certain else None,
        free="yes" if s.free else ("no" if s.free is False else None),
        for_whom=s.for_whom,
        confidence=s.confidence,
        area=s.area,
        why=why,
        distance_km=round(distance, 1) if distance is not None else None,
        name_en=s.name_en,
        address=s.address,
        languages=s.languages,
        name_local=s.name_local,
        credit=s.credit,
        source_url=s.source_url.split(" ; ")[0].strip() if s.kind == "place" and s.source_url else None,
    )


def _speaks(s: Service, own: str) -> int:
    """0: the line speaks the resident's own language; 1: by an interpreter; 2: not that we know."""
    if own in s.languages:
        # For a resident writing Japanese, a line for speakers of many languages (a foreign residents'
        # centre) follows the lines that speak Japanese alone: it is there for others first.
        return 1 if own == "ja" and set(s.languages) - {"ja"} else 0
    if own == "ja-easy":
        return 1 if "ja" in s.languages else 2
    return 1 if own != "ja" and "multi" in s.languages else 2


def _crisis_block(catalogue: Catalogue, now: datetime, emergency: bool, area: Area | None, areas: Areas,
                  own: str = "ja"):
    """24-hour lines open now, led by 119/110 when life is at risk now; then one line in the resident's
    own language where the catalogue has one (open now first)."""
    emergency_hits = [_hit(s, "emergency", now, "life at risk: emergency number")
                      for sid in EMERGENCY_IDS if (s := _emergency_line(catalogue, sid, own))]
    candidates = list(catalogue.national.get("suicide_risk", ()))
    if area is not None:
        candidates += catalogue.covering("suicide_risk", areas.chain(area.code))
    lines = [s for s in candidates if s.status == "active" and s.hours_certain and s.phone and s.hours.is_open(now)]
    lines.sort(key=lambda s: (not s.always_open, CONFIDENCE_RANK[s.confidence], KIND_RANK.get(s.kind, 9), s.id))
    chats = [s for s in candidates if s.status == "active" and s.hours_certain and not s.phone and s.hours.is_open(now)]
    chats.sort(key=lambda s: (not s.always_open, CONFIDENCE_RANK[s.confidence], s.id))
    open_lines = [_hit(s, "suicide_risk", now, "crisis: open now" + (", 24 hours" if s.always_open else ""))
                  for s in lines[:CRISIS_LINES]]
    open_chats = [_hit(s, "suicide_risk", now, "crisis: chat open now") for s in chats[:1]]
    own_line = _own_language_line(catalogue, now, area, areas, own, {h.service_id for h in open_lines})
    if emergency:
        return emergency_hits + open_lines + own_line + open_chats
    return open_lines + own_line + open_chats + emergency_hits[:1]


def _emergency_line(catalogue: Catalogue, sid: str, own: str) -> Service | None:
    """110 or 119; for a resident of another language, the entry that says it has interpreters, if any."""
    plain = catalogue.get(sid)
    if plain is None or own in ("ja", "ja-easy"):
        return plain
    same = [s for s in catalogue.by_intent.get("emergency", ()) if s.phone == plain.phone and s.status == "active"
            and _speaks(s, own) < 2]
    return min(same, key=lambda s: (_speaks(s, own), s.id)) if same else plain


def _own_language_line(catalogue: Catalogue, now: datetime, area: Area | None, areas: Areas, own: str,
                       shown: set[str]) -> list[ServiceHit]:
    """One line that speaks the resident's own language, for a crisis; none for Japanese."""
    if own in ("ja", "ja-easy"):
        return []
    chain = areas.chain(area.code) if area is not None else []
    found: dict[str, Service] = {}
    for intent in LANGUAGE_LINE_INTENTS:
        for s in (*catalogue.national.get(intent, ()), *catalogue.covering(intent, chain)):
            if s.status == "active" and s.phone and own in s.languages and s.id not in shown:
                found.setdefault(s.id, s)
    if not found:
        return []

    def order(s: Service) -> tuple:
        open_now = s.hours.is_open(now) if s.hours_certain else None
        return (0 if open_now else 1 if open_now is None else 2, CONFIDENCE_RANK[s.confidence], s.id)

    best = min(found.values(), key=order)
    return [_hit(best, "suicide_risk", now, f"crisis: a line that speaks {own}", own=own)]


def _for_need(intent: str, catalogue: Catalogue, now: datetime, area: Area | None, context: ResidentContext,
              areas: Areas, own: str, limit: int | None = None) -> list[ServiceHit]:
    """The services for one need, best first; only the first `limit` are made into hits."""
    def quality(s: Service) -> tuple:
        open_now = s.hours.is_open(now) if s.hours_certain else None
        open_rank = 0 if open_now else (1 if open_now is None else 2)
        # Lines that speak the resident's own language first, then those with interpreters.
        return (_speaks(s, own), open_rank, CONFIDENCE_RANK[s.confidence], KIND_RANK.get(s.kind, 9), s.id)

    local: list[tuple[tuple, Service, str, float | None]] = []  # (order, service, why, distance)
    if area is not None:
        chain = areas.chain(area.code)
        for s in catalogue.covering(intent, chain):
            if s.status != "active" or set(s.excludes) & set(chain):
                continue
            level = areas.level(s.areas, area.code)
            if level is None:
                continue
            distance = None
            if context.lat is not None and context.lon is not None and s.lat is not None and s.lon is not None:
                distance = haversine(context.lat, context.lon, s.lat, s.lon)
            where = ("municipality", "designated city", "prefecture")[min(level, 2)]
            # Nearest first among those with a location; those without one after them.
            near = distance if distance is not None else (0.0 if context.lat is None else float("inf"))
            local.append(((level, near, *quality(s)), s, f"local: covers {area.name} ({where})", distance))
    national = [
        (quality(s), s, "national line for this need", None)
        for s in catalogue.national.get(intent, ())
        if s.status == "active"
    ]
    # All are ordered; only those that will be shown are made into hits (opening hours and all).
    local.sort(key=lambda x: x[0])
    national.sort(key=lambda x: x[0])
    if intent not in PLACE_FIRST:
        # A place to go answers this need beside the lines and centres, not instead of them.
        places = [x for x in local if x[1].kind == "place"][:PLACES_PER_NEED]
        local = [x for x in local if x[1].kind != "place" or x in places]
    # A centre known by name only (no number, no website) helps less than the town's website.
    reachable = [x for x in local if x[1].kind == "place" or x[1].phone or x[1].url or x[1].line_url]
    unreachable = [x for x in local if x not in reachable]
    picked: list[ServiceHit | tuple[tuple, Service, str, float | None]] = list(reachable)
    if area is not None and not any(areas.level(s.area, area.code) in (0, 1) for _, s, _, _ in reachable):
        fallback = _official_site(intent, area, areas)
        if fallback:
            picked.append(fallback)
    picked += national
    picked += unreachable
    seen_phones: set[str] = set()
    unique: list = []
    for p in picked:
        phone = p.phone if isinstance(p, ServiceHit) else p[1].phone
        if phone and phone in seen_phones:
            continue  # the same number under two entries (a centre that is also the hikikomori desk)
        if phone:
            seen_phones.add(phone)
        unique.append(p)
    picked = unique
    hits = [p if isinstance(p, ServiceHit) else _hit(p[1], intent, now, p[2], p[3], own) for p in picked[:limit]]
    if not picked and (general := catalogue.get(GENERAL_LINE)):
        # Never an empty list: the general line takes every kind of trouble.
        hits.append(_hit(general, intent, now, "no service for this need yet: the general 24-hour line"))
    return hits[:limit]


def _official_site(intent: str, area: Area, areas: Areas) -> ServiceHit | None:
    """No entry for this town: its official website, and which office to ask for."""
    place = areas.get(area.code)
    if place is None or not place.url:
        return None
    if place.is_ward and place.city_code:
        place = areas.get(place.city_code) or place
    office_ja, office_en = OFFICES.get(intent, ("福祉の相談窓口", "the welfare consultation desk"))
    return ServiceHit(
        service_id=f"official_site:{place.code}",
        name=f"{place.name}の公式サイト（{office_ja}）",
        kind="web",
        intent=intent,
        phone=None,
        url=place.url,
        line_url=None,
        hours_text="",
        open_now=None,
        always_open=False,
        next_open=None,
        free=None,
        for_whom=f"{place.name}にお住まいの方",
        confidence="medium",
        area=place.code,
        why=f"local: no catalogue entry for {place.name}; its official website (localgovjp, CC0)",
        name_en=f"{place.name} official website: ask for {office_en}",
    )
