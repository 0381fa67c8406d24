"""The engine: catalogue + intents + areas, loaded once, routed many times.

    Engine.load() -> engine.route(text, ResidentContext, now) -> Referral

A reload reads the catalogue again and swaps it in whole; a bad file is
refused with `file:line` problems and the last good catalogue stays in service.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from bot.engine import router
from bot.engine.areas import Areas
from bot.engine.catalogue.aside import load_aside
from bot.engine.catalogue.hours import TOKYO
from bot.engine.catalogue.model import CATALOGUE_PATH, Catalogue, CatalogueError, load_catalogue
from bot.engine.router import RouteOptions, route
from bot.engine.understand import language
from bot.engine.understand.intents import INTENTS_DIR, IntentSpec, load_intents
from bot.engine.understand.matcher import Matcher
from bot.engine.understand.models import load_understanding
from bot.engine.understand.quick import CrisisWords
from bot.types import Area, Match, Referral, ResidentContext

log = logging.getLogger("tsunagu.engine")


def default_catalogue_path() -> Path:
    return Path(os.environ.get("CATALOGUE_PATH") or CATALOGUE_PATH)


class Engine:
    def __init__(self, intents: dict[str, IntentSpec], catalogue: Catalogue, areas: Areas, catalogue_path: Path):
        self.intents = intents
        self.matcher = Matcher(intents)
        self.understanding = load_understanding(intents, self.matcher)
        self.catalogue = catalogue
        self.areas = areas
        self.catalogue_path = catalogue_path
        self._lock = threading.Lock()
        self._mtime = _mtime(catalogue_path)

    @classmethod
    def load(cls, catalogue: Path | str | None = None, intents: Path | str | None = None) -> Engine:
        specs = load_intents(Path(intents) if intents else INTENTS_DIR)
        areas = Areas()
        path = Path(catalogue) if catalogue else default_catalogue_path()
        cat = load_catalogue(path, set(specs), set(areas.places))
        return cls(specs, cat, areas, path)

    # -- routing ------------------------------------------------------------------------------

    def match(self, text: str, context: ResidentContext | None = None, hurry: bool = False) -> Match:
        """Every layer's reading of the message, in the resident's context (the question the bot asked
        last), one decision (understand/understanding.py); `hurry`: the server is past its capacity."""
        match = self.understanding.match(text, context, hurry)
        if not match.language_why:
            found = language.detect(text)
            match = replace(match, language=found.language, lang=found.lang, language_why=found.why)
        return match

    def urgent(self, text: str) -> bool:
        """The queue's first look, cheap (no encoder, no Sudachi): a crisis keyword in any spelling
        (quick.py), a crisis word in another language, or the surface layer leaning to a crisis. Not a
        verdict: it only sets the message's place in line (bot/service/intake.py)."""
        if crisis_words(self).seen(text):
            return True
        look = getattr(self.understanding, "urgent", None)
        return bool(look and look(text))

    def route(
        self,
        text: str,
        context: ResidentContext | None = None,
        now: datetime | None = None,
        options: RouteOptions | None = None,
    ) -> Referral:
        """Pure and deterministic for a given `now` (default: the current time in Asia/Tokyo)."""
        now = now or datetime.now(TOKYO)
        context = context or ResidentContext()
        return route(
            self.match(text, context),
            context,
            now,
            self.catalogue,  # one reference read: a reload swaps it whole
            self.areas,
            self.intents,
            options or RouteOptions(),
        )

    def route_match(self, match: Match, context: ResidentContext, now: datetime | None = None,
                    options: RouteOptions | None = None) -> Referral:
        """Route needs already known (a "more" button, the 24-hour menu) without matching text."""
        return route(match, context, now or datetime.now(TOKYO), self.catalogue, self.areas, self.intents,
                     options or RouteOptions())

    def route_choice(self, intent: str, context: ResidentContext, now: datetime | None = None) -> Referral | None:
        """A need the resident chose from the choices offered (None: not a need the bot knows)."""
        spec = self.intents.get(intent)
        if spec is None or spec.tier == "meta":
            return None
        return self.route_match(router.chosen(intent, spec.tier, context), context, now)

    def route_answer(self, value: str, context: ResidentContext, now: datetime | None = None) -> Referral | None:
        """The check-in question answered by a button: "yes", "no" or "unsure"."""
        if value not in ("yes", "no", "unsure"):
            return None
        return self.route_match(router.menu_match(context, answer=value), context, now)

    # -- catalogue ----------------------------------------------------------------------------

    def reload(self) -> list[str]:
        """Re-read the catalogue; on errors keep the last good one and return `file:line: what` lines.

        A large file is parsed and checked in a child process (bot/engine/catalogue/aside.py): the
        threads that answer residents keep the GIL.  The new catalogue and its indexes are built
        aside and swapped in by one assignment; route() reads self.catalogue once per call.
        """
        with self._lock:
            try:
                fresh = load_aside(self.catalogue_path, set(self.intents), set(self.areas.places))
            except CatalogueError as exc:
                for problem in exc.problems:
                    log.error("catalogue refused: %s", problem)
                return exc.problems
            self._mtime = _mtime(self.catalogue_path)
            if fresh.version != self.catalogue.version:
                fresh, self.catalogue = self.catalogue, fresh  # `fresh` is now the one let go
                log.info("catalogue reloaded: version %s, %d services", self.catalogue.version,
                         len(self.catalogue.services))
            if sys.getrefcount(fresh) == 2:  # this name and the call's argument: no route is reading it
                fresh.release()
            return []

    def reload_if_changed(self) -> list[str]:
        if _mtime(self.catalogue_path) != self._mtime:
            return self.reload()
        return []

    # -- areas --------------------------------------------------------------------------------

    def find_area(self, query: str) -> Area | None:
        """A place name, postal code or local government code -> Area (None if unknown)."""
        return self.areas.find(query)

    def area_near(self, lat: float, lon: float) -> Area:
        """The municipality whose office is nearest (approximate=True)."""
        return self.areas.near(lat, lon)[0]


@lru_cache(maxsize=4)
def crisis_words(engine: Engine) -> CrisisWords:
    """The crisis keywords of the engine's intents, read once (80 ms; `bot serve` does it before forking)."""
    return CrisisWords.from_intents(engine.intents)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
