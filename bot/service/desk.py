"""The Desk: everything the channels share, between a platform adapter and the engine.

    platform webhook -> channels/line.py | channels/telegram.py   (verify, parse, render)
                     -> Desk: resident key -> ResidentContext -> engine.route() -> Referral
                     -> store: remembered area/language, redelivery ids, anonymous log

The Desk knows no platform.  Its methods are synchronous (engine and database calls):
channels call them from the desk's own threads (`Desk.call`).  A platform id enters only as
`Desk.key(channel, id)`, a keyed hash; in group chats the key is None and nothing is remembered.

The Desk answers even when the database does not: every call on the way to an
answer waits at most DB_DEADLINE_SECONDS (Store.within); a read that fails or is
late answers as for a new resident, a write that fails is logged (what, never the
values) and the answer goes out all the same.  The referral log and the resident
seen are written after the answer, in batches (Store.later).  A resident past the
rate limit gets one kind "slow down" a minute and then quiet, except that a crisis
is always answered.

Its threads are taken in order of need (bot/service/intake.py Gate): crisis first,
one thread kept for crises, so a slow route never keeps a crisis waiting.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal, TypeVar

from sqlalchemy import Connection

from bot.engine import Engine, router
from bot.engine.render import BOTH
from bot.engine.understand.language import detect
from bot.service.intake import CRISIS, PRIORITY, Gate
from bot.service.limits import Decision, Limiter
from bot.service.metrics import Metrics
from bot.service.privacy import Hasher
from bot.service.store import ASKED_FOR, RESIDENT_BUCKETS, CheckIn, Resident, Store, Unavailable, utcnow
from bot.types import REPLY_LANGS, Area, Evidence, IntentScore, Lang, Referral, ResidentContext

log = logging.getLogger("bot.channels")

# Areas the resident named in a message (not guessed from a location) are remembered.
NAMED = ("text", "postal", "code")
PAGE = 10  # services per "more" page
DESK_THREADS = 4  # matching holds the GIL: more threads only wait for it; a few cover database waits
CRISIS_THREADS = 1  # of them kept for crises (a slow route on every other one holds no crisis up)
# Past this many calls waiting for the desk's threads the engine is asked to hurry (Engine.match): the
# encoder, one message at a time, is skipped for Japanese. Measured in the 20,000-event flood: over a
# thousand crisis-first events waited at the gate behind the encoder, seconds each; at a steady rate
# below capacity the gate's queue stays near zero.
HURRY_WAITING = 16
HURRY: contextvars.ContextVar[bool] = contextvars.ContextVar("hurry", default=False)
# The platform says this event is delivered again (LINE's deliveryContext.isRedelivery). Its check-in
# may wait up to the store's lock timeout rather than the reply path's short deadline: answered blind,
# it would be a second answer whenever the first delivery's check-in was late too (seen once or twice
# in 20,000 events past capacity), and a redelivery is seldom the first the resident hears from us.
REDELIVERY: contextvars.ContextVar[bool] = contextvars.ContextVar("redelivery", default=False)
CRISIS_REDELIVERY_WAIT = 1.5  # seconds: a crisis delivered again still leads within the 2 s it is owed
MAX_TEXT = 5000  # characters of a message read at all (LINE's own limit; the matcher reads fewer)
T = TypeVar("T")
Admission = Literal["ok", "warn", "quiet"]


@dataclass(frozen=True)
class Arrival:
    first: bool  # False: the event was answered before
    admitted: Admission = "ok"
    context: ResidentContext = field(default_factory=ResidentContext)


@dataclass(frozen=True)
class Answer:
    referral: Referral | None  # None: over the rate limit and not a crisis (see `slow_down`)
    learned: Area | None = None  # an area the resident named, now remembered
    slow_down: bool = False  # over the limit: say so kindly (once a window; after that, nothing)
    repeat: bool = False  # the event was answered before (a redelivery): say nothing

    @property
    def only_area(self) -> bool:
        """The message named a place and nothing else: confirm the area instead of a referral."""
        r = self.referral
        return r is not None and self.learned is not None and not r.crisis and not any(i.tier == "need" for i in r.intents)


def context_of(row: Resident | None, now: datetime | None = None) -> ResidentContext:
    """What is remembered of a resident, as the router takes it (a new resident: nothing).  The question
    the bot asked is read back for ASKED_FOR only."""
    if row is None:
        return ResidentContext()
    lang = row.lang if row.lang in REPLY_LANGS else None
    last = row.last_lang if row.last_lang in REPLY_LANGS else None
    asked = None
    if row.asked == "suicide_check" and row.asked_at is not None:
        at = row.asked_at if row.asked_at.tzinfo else row.asked_at.replace(tzinfo=UTC)  # SQLite keeps no zone
        if timedelta(0) <= (now or utcnow()) - at <= ASKED_FOR:
            asked = row.asked
    return ResidentContext(area=row.area, lat=row.lat, lon=row.lon, lang=lang, asked=asked,  # type: ignore[arg-type]
                           last_lang=last)  # type: ignore[arg-type]


def logged_needs(referral: Referral) -> list[str]:
    """The needs a referral is counted under: a crisis reached by answering the check-in ("yes") counts
    as suicide_risk, whatever the words of the answer matched."""
    needs = [i.id for i in referral.intents[:3]]
    if referral.crisis and not any(i.tier == "crisis" for i in referral.intents):
        needs = ["suicide_risk", *(n for n in needs if n != "out_of_scope")][:3]
    return needs


def remembered(referral: Referral) -> dict[str, object]:
    """What a reply leaves in the resident's row: its language, and the question it asked (or none)."""
    return {"last_lang": referral.lang, "asked": referral.asks, "asked_at": utcnow() if referral.asks else None}


@dataclass
class Desk:
    engine: Engine
    store: Store
    hasher: Hasher
    metrics: Metrics = field(default_factory=Metrics)
    rate_limit: int = 20  # messages a resident may send a minute; 0: no limit
    store_messages: bool = False  # STORE_MESSAGES: keep the text, linked to the resident's key
    store_messages_days: int = 30

    def __post_init__(self) -> None:
        # The desk's work (matching, the database) runs on threads of its own: the event loop's default
        # executor stays free for the loop's own needs (aiohttp resolves host names there), which a
        # burst queued behind a thousand routings would otherwise hold up until replies timed out.
        self.pool = ThreadPoolExecutor(DESK_THREADS, thread_name_prefix="desk")
        self.gate = Gate(DESK_THREADS, reserved=CRISIS_THREADS)
        self.limiter: Limiter | None = None
        self.warned: Limiter | None = None
        if self.rate_limit > 0:
            name, warned = RESIDENT_BUCKETS
            self.limiter = Limiter(self.store.engine, name, self.rate_limit, per=60)
            self.warned = Limiter(self.store.engine, warned, 1, per=60)

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on the desk's threads (as asyncio.to_thread, with the caller's context), once a
        thread is free for the caller's priority (intake.PRIORITY)."""
        priority = PRIORITY.get()
        busy = self.gate.waiting >= HURRY_WAITING
        await self.gate.acquire(priority)
        try:
            context = contextvars.copy_context()
            context.run(HURRY.set, busy)
            return await asyncio.get_running_loop().run_in_executor(self.pool, partial(context.run, fn, *args))
        finally:
            self.gate.release(priority)

    def urgent(self, text: str) -> bool:
        """A cheap first look: a crisis keyword, or the learned surface layer leaning to a crisis?  (Its
        place in the queue; the engine decides the answer.)"""
        return self.engine.urgent(text)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # The database, failing soft

    def _read(self, what: str, fn: Callable[[], T], default: T, write: bool = False,
              patience: float | None = None) -> T:
        """`fn()`'s answer, or `default` if the database refused or was late (a write that answers: `write`).
        `patience`: wait this long instead of the reply path's deadline (Store.within's trip=False)."""
        try:
            if patience is not None:
                return self.store.within(what, fn, write=write, deadline=patience, trip=False)
            return self.store.within(what, fn, write=write)
        except Unavailable as e:
            self._trouble(what, e)
            return default

    def _write(self, what: str, fn: Callable[[], object]) -> bool:
        try:
            self.store.within(what, fn)
            return True
        except Unavailable as e:
            self._trouble(what, e)
            return False

    def _trouble(self, what: str, error: Unavailable) -> None:
        self.metrics.db_errors.labels(what).inc()
        log.warning("database: %s not done (%s); answering without it", what, error)

    # Residents

    def key(self, channel: str, platform_id: str) -> str:
        """The resident's keyed hash; one stored under a previous hash key moves to this one."""
        key = self.hasher.resident(channel, platform_id)
        for old in self.hasher.former(channel, platform_id):
            if self._read("resident rekey", lambda old=old: self.store.rekey(old, key), False):  # type: ignore[misc]
                log.info("%s: a resident moved to the current hash key", channel)
                break
        return key

    def context(self, key: str | None) -> ResidentContext:
        return context_of(self._read("resident read", lambda: self.store.resident(key), None) if key else None)

    def lang(self, key: str | None, text: str = "") -> str:
        """The language to write in (besides a referral): the resident's choice, else the language of the
        last reply, else the message's; "ja-easy+en" for a language the bot does not write."""
        context = self.context(key)
        if context.lang:
            return context.lang
        lang = context.last_lang or detect(text).lang
        return BOTH if lang == "ja-easy" else lang

    @property
    def kept_days(self) -> int | None:
        """Days a resident's messages are kept (STORE_MESSAGES), or None: not kept.  The channels'
        privacy notice (channels/words.py) says so."""
        return self.store_messages_days if self.store_messages else None

    def seen(self, channel: str, key: str) -> None:
        self._write("resident seen", lambda: self.store.seen(key, channel))

    def arrive(self, channel: str, key: str | None, event_id: str | None = None) -> Arrival:
        """Before routing, one database transaction: claim the event id (False: answered before),
        count the message against the resident's rate limit (ok, warn: the first one over, or quiet),
        read what is remembered of the resident."""
        limiter = self.limiter

        def count(conn: Connection) -> Decision | None:
            return limiter.hit_in(conn, key) if limiter is not None and key else None

        patience = None
        if event_id and REDELIVERY.get():
            patience = self.store.timeout if PRIORITY.get() != CRISIS else min(self.store.timeout, CRISIS_REDELIVERY_WAIT)
        checked = self._read("check in", lambda: self.store.check_in(event_id, key, count), CheckIn(True), True,
                             patience)
        if not checked.first:
            return Arrival(first=False)
        context, decision = context_of(checked.resident), checked.counted
        if decision is None or decision.allowed or key is None or self.warned is None:
            return Arrival(True, "ok", context)
        self.metrics.rate_limited.labels(channel).inc()
        warned = self.warned
        first = self._read("rate limit", lambda: self.store.guarded("rate limit", lambda: warned.hit(key)), None,
                           True)
        return Arrival(True, "warn" if first is None or first.allowed else "quiet", context)

    def answer(self, channel: str, key: str | None, text: str, now: datetime | None = None,
               event_id: str | None = None) -> Answer:
        """Route a resident's message; remember an area they named; log it without text or id.

        Over the rate limit only a crisis is routed; otherwise `Answer(None, slow_down=...)`.
        With `event_id`, an event answered before gets `Answer(None, repeat=True)` and nothing is done.
        """
        text = text[:MAX_TEXT]
        arrival = self.arrive(channel, key, event_id)
        if not arrival.first:
            return Answer(None, repeat=True)
        context = arrival.context
        started = time.thread_time()
        hurry = HURRY.get()
        if hurry:
            self.metrics.hurried.inc()
        match = self.engine.match(text, context, hurry=hurry)
        if arrival.admitted != "ok" and not match.crisis:
            self.metrics.engine_seconds.inc(time.thread_time() - started)
            return Answer(None, slow_down=arrival.admitted == "warn")
        referral = self.engine.route_match(match, context, now)
        self.metrics.engine_seconds.inc(time.thread_time() - started)
        area, learned = referral.area, None
        if key and area is not None and area.how in NAMED and area.code != context.area:
            learned = area
        needs = logged_needs(referral)
        # After the answer, in the writer's next batch: the resident seen (with the area they named, the
        # reply's language, the question asked), the anonymous log row, their words only with STORE_MESSAGES.
        self.store.later(channel, key, needs, area.code if area else None, referral.crisis,
                         learned.code if learned else None, text if self.store_messages and key else None,
                         remembered(referral))
        self.metrics.referral(channel, needs, referral.crisis)
        return Answer(referral, learned)

    def more(self, key: str | None, data: dict[str, str], now: datetime | None = None) -> Referral | None:
        """Page `p` of the services for the intents of a "more" button, past those already shown."""
        ids = [i for i in data.get("i", "").split(",") if i in self.engine.intents]
        page = int(data["p"]) if data.get("p", "").isdigit() else 1
        if not ids or page < 1:
            return None
        # The first page is what a plain route of these needs shows; later pages are the rest.
        context = self.context(key)
        first = self._route(ids, context, now, router.RouteOptions())
        shown = {h.service_id for h in first.services}
        wide = router.RouteOptions(per_need=100, limit=1000)
        rest = [h for h in self._route(ids, context, now, wide).services if h.service_id not in shown]
        services = tuple(rest[(page - 1) * PAGE: page * PAGE])
        if not services:
            return None
        return replace(first, services=services, opening="", ask_area=False)

    def lines_24h(self, key: str | None, now: datetime | None = None) -> Referral:
        """The crisis block on its own: the 24-hour lines open now, and 110/119."""
        evidence = (Evidence(phrase="", found="", score=1.0, kind="menu"),)
        context = self.context(key)
        match = router.menu_match(context, (IntentScore("suicide_risk", 1.0, "crisis", evidence),), crisis=True,
                                  why="asked for the 24-hour lines")
        referral = self.engine.route_match(match, context, now, router.RouteOptions())
        return replace(referral, opening="")

    def choose(self, channel: str, key: str | None, intent: str, now: datetime | None = None) -> Referral | None:
        """The resident tapped one of the needs offered (the bot was unsure): route that need."""
        referral = self.engine.route_choice(intent, replace(self.context(key), asked=None), now)
        return self._answered(channel, key, referral) if referral else None

    def answer_check(self, channel: str, key: str | None, value: str, now: datetime | None = None) -> Referral | None:
        """The resident answered the check-in question by button: yes, no or unsure."""
        referral = self.engine.route_answer(value, replace(self.context(key), asked=None), now)
        return self._answered(channel, key, referral) if referral else None

    def _answered(self, channel: str, key: str | None, referral: Referral) -> Referral:
        """Log a referral made by a button, and what it leaves in the resident's row."""
        needs = logged_needs(referral)
        area = referral.area.code if referral.area else None
        self.store.later(channel, key, needs, area, referral.crisis, None, None, remembered(referral))
        self.metrics.referral(channel, needs, referral.crisis)
        return referral

    def _route(self, ids: list[str], context: ResidentContext, now: datetime | None,
               options: router.RouteOptions) -> Referral:
        # The needs as if the matcher had found them (crisis ids too: their own services, not the crisis block).
        scores = tuple(IntentScore(i, 1.0 - n / 10, "need") for n, i in enumerate(ids))
        return self.engine.route_match(router.menu_match(context, scores), context, now, options)

    def set_area(self, channel: str, key: str, query: str) -> Area | None:
        area = self.engine.find_area(query.strip()[:200])
        if area is not None:
            self._write("resident area", lambda: self.store.remember(key, channel, area=area.code))
        return area

    def set_location(self, channel: str, key: str | None, lat: float, lon: float) -> Area | None:
        """The area around a shared location; remembered with the (rounded) location."""
        try:
            area = self.engine.area_near(lat, lon)
        except (ValueError, LookupError):
            return None
        if key:
            self._write("resident location",
                        lambda: self.store.remember(key, channel, area=area.code, lat=lat, lon=lon))
        return area

    def set_lang(self, channel: str, key: str, lang: Lang) -> None:
        """The resident chose the language to be answered in (any reply language)."""
        if lang in REPLY_LANGS:
            self._write("resident language", lambda: self.store.remember(key, channel, lang=lang))

    def forget(self, key: str) -> bool:
        """Delete everything linked to the resident; False if the database could not be reached."""
        return self._write("forget", lambda: self.store.forget(key))

    def first_delivery(self, event_id: str) -> bool:
        """True unless the event was answered before; with the database away, answer (True)."""
        return self._read("event id", lambda: self.store.first_delivery(event_id), True, True)
