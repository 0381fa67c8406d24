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

from bot.engine.areas import Areas, haversine
from bot.engine.catalogue.model import Catalogue, Service
from bot.engine.offices import OFFICES
from bot.engine.understand.intents import IntentSpec
from bot.types import Area, Match, Referral, ResidentContext, ServiceHit

CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2, "incomplete": 3, "not-standing": 4}
KIND_RANK = {"phone": 0, "sns": 1, "chat": 2, "centre": 3, "place": 4, "web": 5}
EMERGENCY_IDS = ("fire_ambulance_119", "police_110")
GENERAL_LINE = "yorisoi_hotline"  # the general 24-hour line offered with meta replies
MAX_NEEDS = 3
CRISIS_LINES = 4
MAX_LOCATION_KM = 60


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
    lang = context.lang or match.lang
    area = _area(match, context, areas)
    picked: dict[str, ServiceHit] = {}

    def add(hit: ServiceHit) -> None:
        if hit.service_id not in picked:
            picked[hit.service_id] = hit

    crisis_ids = [s.id for s in match.intents if s.tier == "crisis" and any(not e.negated for e in s.evidence)]
    emergency = match.crisis and "emergency" in crisis_ids
    if match.crisis:
        for hit in _crisis_block(catalogue, now, emergency, area, areas):
            add(hit)

    needs = [s for s in match.intents if s.tier == "need"][:MAX_NEEDS]
    for rank, need in enumerate(needs):
        quota = options.per_need + (1 if rank == 0 else 0)
        for hit in _for_need(need.id, catalogue, now, area, context, areas, lang, limit=quota):
            add(hit)

    top = match.intents[0].id if match.intents else "out_of_scope"
    if not match.crisis and not needs:
        general = catalogue.get(GENERAL_LINE)
        if general and top in ("thanks", "out_of_scope", "help"):
            add(_hit(general, top, now, "the general 24-hour line, offered with every reply"))
    elif (
        not match.crisis
        and not any(h.always_open for h in picked.values())
        and any(s.tier == "crisis" for s in match.intents)
    ):
        # Safety net: a negated crisis phrase still gets one 24-hour line.
        general = catalogue.get(GENERAL_LINE)
        if general:
            add(_hit(general, "suicide_risk", now, "safety net: a crisis phrase was present but negated"))

    services = tuple(picked.values())[: options.limit + (2 if match.crisis else 0)]
    opening_id = ("emergency" if emergency else crisis_ids[0]) if match.crisis and crisis_ids else top
    spec = intents.get(opening_id)
    opening = spec.opening(lang) if spec else ""
    local_needed = bool(needs) and area is None
    notes = []
    if match.crisis:
        notes.append("not_counsellor")
    return Referral(
        match=match,
        crisis=match.crisis,
        emergency=emergency,
        opening=opening,
        services=services,
        lang=lang,
        at=now,
        area=area,
        ask_area=local_needed,
        notes=tuple(notes),
    )


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


def _hit(s: Service, intent: str, now: datetime, why: str, distance: float | None = None) -> ServiceHit:
    certain = s.hours_certain
    return ServiceHit(
        service_id=s.id,
        name=s.name,
        kind=s.kind,
        intent=intent,
        phone=s.phone,
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
    )


def _crisis_block(catalogue: Catalogue, now: datetime, emergency: bool, area: Area | None, areas: Areas):
    """24-hour lines open now, led by 119/110 when life is at risk now."""
    emergency_hits = [
        _hit(s, "emergency", now, "life at risk: emergency number")
        for sid in EMERGENCY_IDS
        if (s := catalogue.get(sid))
    ]
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
    if emergency:
        return emergency_hits + open_lines + open_chats
    return open_lines + open_chats + emergency_hits[:1]


def _for_need(intent: str, catalogue: Catalogue, now: datetime, area: Area | None, context: ResidentContext,
              areas: Areas, lang: str, limit: int | None = None) -> list[ServiceHit]:
    """The services for one need, best first; only the first `limit` are made into hits."""
    def quality(s: Service) -> tuple:
        open_now = s.hours.is_open(now) if s.hours_certain else None
        open_rank = 0 if open_now else (1 if open_now is None else 2)
        # A line for speakers of other languages comes after those in the resident's own.
        speaks = 0 if lang in s.languages or (lang != "ja" and "multi" in s.languages) else 1
        return (speaks, open_rank, CONFIDENCE_RANK[s.confidence], KIND_RANK.get(s.kind, 9), s.id)

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
            local.append(((level, distance or 0.0, *quality(s)), s, f"local: covers {area.name} ({where})", distance))
    national = [
        (quality(s), s, "national line for this need", None)
        for s in catalogue.national.get(intent, ())
        if s.status == "active"
    ]
    # All are ordered; only those that will be shown are made into hits (opening hours and all).
    local.sort(key=lambda x: x[0])
    national.sort(key=lambda x: x[0])
    picked: list[ServiceHit | tuple[tuple, Service, str, float | None]] = list(local)
    if area is not None and not any(areas.level(s.area, area.code) in (0, 1) for _, s, _, _ in local):
        fallback = _official_site(intent, area, areas, lang)
        if fallback:
            picked.append(fallback)
    picked += national
    hits = [p if isinstance(p, ServiceHit) else _hit(p[1], intent, now, p[2], p[3]) for p in picked[:limit]]
    if not picked and (general := catalogue.get(GENERAL_LINE)):
        # Never an empty list: the general line takes every kind of trouble.
        hits.append(_hit(general, intent, now, "no service for this need yet: the general 24-hour line"))
    return hits[:limit]


def _official_site(intent: str, area: Area, areas: Areas, lang: str) -> ServiceHit | None:
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
