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
# The languages a reply can be written in (locales/<code>.yaml). A message in any other language is
# answered in やさしい日本語 with English.
Lang = Literal["ja", "ja-easy", "en", "zh", "vi", "ko", "tl", "pt", "ne", "id"]
REPLY_LANGS: tuple[str, ...] = ("ja", "ja-easy", "en", "zh", "vi", "ko", "tl", "pt", "ne", "id")
# The question the bot may have asked in its last reply, read with the next message.
Asked = Literal["suicide_check"]


@dataclass(frozen=True)
class ResidentContext:
    """What the core may know of a resident: never a platform id."""

    area: str | None = None  # 6-digit local government code, or a 2-digit prefecture code
    lat: float | None = None
    lon: float | None = None
    lang: Lang | None = None  # None: follow the message's language
    asked: Asked | None = None  # the bot's last reply asked this: the message may be the answer
    last_lang: Lang | None = None  # the language of the last reply: kept when a message is too short to tell


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
class Layer:
    """What one way of understanding said about a message (the console's and the reports' *why*)."""

    name: str  # "lexicon", "surface", "semantic", "crisis", "followup", "language"
    ran: bool  # False: skipped (the cascade did not need it)
    top: tuple[tuple[str, float], ...] = ()  # its best intents and scores
    nearest: tuple[str, ...] = ()  # the training examples nearest to the message
    note: str = ""


@dataclass(frozen=True)
class Match:
    """The matcher's answer, with what it saw (for the console's *why*)."""

    text: str  # the message as normalised
    readings: str  # its reading in hiragana, tokens separated by '|'
    intents: tuple[IntentScore, ...]  # best first
    crisis: bool
    crisis_why: str
    lang: Lang  # the language to reply in, as the message suggests
    language: str = "ja"  # the message's own language (ISO 639-1, or "ja-easy"; may be one we do not reply in)
    language_why: str = ""
    layers: tuple[Layer, ...] = ()
    decided_by: str = "lexicon"  # the layer whose view decided the top intent
    unsure: bool = False  # no need stands out: ask kindly and offer the needs as choices
    check_in: bool = False  # distress that does not say what it is: lines first, then ask plainly
    answer: str | None = None  # the message answered the bot's question: "yes", "no" or "unsure"
    topic: str | None = None  # a question about the service: "privacy", "cost", "who", "hours", "how", "language", "area"


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
    languages: tuple[str, ...] = ()  # the languages it can be consulted in (codes, "multi": by interpreter)
    name_local: str | None = None  # its name in a language other than Japanese, as its source gives it
    credit: str | None = None  # the attribution the data's licence asks for (CC BY), shown with it
    source_url: str | None = None  # where its facts were read: a place with no number or website points there


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
    choices: tuple[str, ...] = ()  # intent ids to offer as quick replies (the bot was unsure)
    asks: Asked | None = None  # the reply asks this question; the next message may answer it
    faq: str | None = None  # a question about the service, answered by this topic (locales faq.*)

    @property
    def intents(self) -> tuple[IntentScore, ...]:
        return self.match.intents

    @property
    def top(self) -> str:
        return self.match.intents[0].id if self.match.intents else "out_of_scope"
