"""The few types that channels, the router and the console share.

    adapter (LINE, Telegram, CLI, console)
        -> Inbound text + ResidentContext
        -> route() -> Referral (intents, crisis flag, ServiceHit list)
        -> adapter renders the Referral for its platform

Nothing here knows about a platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Tier = Literal["crisis", "need", "meta"]
Lang = Literal["ja", "en"]


@dataclass(frozen=True)
class ResidentContext:
    """What the core may know of a resident: never a platform id."""

    area: str | None = None  # 6-digit local government code, or a 2-digit prefecture code
    lat: float | None = None
    lon: float | None = None
    lang: Lang | None = None  # None: follow the message's language


@dataclass(frozen=True)
class Evidence:
    """One reason an intent scored: a phrase of the intent found in the message."""

    phrase: str  # the intent's phrase as written in intents/*.yaml
    found: str  # the part of the normalised message it matched
    score: float
    kind: str  # "exact", "lemma", "fuzzy", "example"
    negated: bool = False


@dataclass(frozen=True)
class IntentScore:
    id: str
    score: float
    tier: Tier
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Match:
    """The matcher's answer, with what it saw (for the console's *why*)."""

    text: str  # the message as normalised
    readings: str  # its reading in hiragana, tokens separated by '|'
    intents: tuple[IntentScore, ...]  # best first
    crisis: bool
    crisis_why: str
    lang: Lang


@dataclass(frozen=True)
class Area:
    code: str  # 6-digit local government code, or 2-digit prefecture code
    name: str  # e.g. 浜松市, 静岡県, 札幌市中央区
    pref_code: str  # 2 digits
    how: str  # "text", "postal", "location", "code", "remembered"
    approximate: bool = False  # True when derived from a location
    url: str | None = None  # the official website


@dataclass(frozen=True)
class ServiceHit:
    """A service chosen for a referral, with what the resident needs to know now."""

    service_id: str
    name: str
    kind: str
    intent: str  # the need it was chosen for
    phone: str | None
    url: str | None
    line_url: str | None
    hours_text: str
    open_now: bool | None  # None: hours unknown or not certain enough to say
    always_open: bool
    next_open: datetime | None
    free: str | None
    for_whom: str | None
    confidence: str
    area: str  # "national" or a code
    why: str  # why it was chosen (console and test reports)
    distance_km: float | None = None
    name_en: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Referral:
    """What route() returns: everything a channel needs to draw the reply."""

    match: Match
    crisis: bool
    emergency: bool  # life at risk now: show 110/119 first
    opening: str  # the reply's first, warm line
    services: tuple[ServiceHit, ...]
    lang: Lang
    at: datetime
    area: Area | None = None
    ask_area: bool = False  # the reply should ask where the resident lives
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def intents(self) -> tuple[IntentScore, ...]:
        return self.match.intents

    @property
    def top(self) -> str:
        return self.match.intents[0].id if self.match.intents else "out_of_scope"
