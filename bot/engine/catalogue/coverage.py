"""`bot catalogue coverage`: which of the 67 areas have their statutory centres, with a phone.

The 67 areas are the 47 prefectures and the 20 designated cities (政令指定都市).  An entry is of
a statutory kind when it comes from that kind's sourced table (an operator's entry, from no
row, by its id's prefix: mhwc_, hik_, os_, dv_, jiso_, ss_).  It covers an area when its `area`
is the area (or, for a designated city, one of its wards), it is active, and the area is not in its
`excludes`; an entry for another town covers only that town (a サポステ, its prefecture).

"With a phone" means a number of the centre's own (0…): #8891 and 189 reach the local centre
through a national exchange, and are counted as no phone of the area's.

A designated city is covered by its own centre; for the kinds a prefecture runs for all its
residents (ワンストップ, DV, サポステ) a prefecture centre that does not exclude the city serves
it too, and the table says so apart ("served by the prefecture").  精神保健福祉センター,
ひきこもり地域支援センター and 児童相談所 of a designated city are the city's own by law or by
the national scheme, so only its own entry counts.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bot.engine.areas import Areas
from bot.engine.catalogue.model import Catalogue, Service
from bot.engine.catalogue.sourced import PLACE_INTENTS, Sourced

KINDS: tuple[tuple[str, str, str], ...] = (  # key, table, label
    ("mhwc", "local_seishin_hoken_center", "精神保健福祉センター"),
    ("hikikomori", "local_hikikomori", "ひきこもり地域支援センター"),
    ("onestop", "local_onestop_sexual_violence", "性暴力被害者ワンストップ支援センター"),
    ("dv", "local_dv_center", "配偶者暴力相談支援センター"),
    ("jiso", "local_jidou_soudanjo", "児童相談所"),
    ("saposute", "local_saposute", "地域若者サポートステーション"),
)
PREFIX = {"mhwc": "mhwc_", "hikikomori": "hik_", "onestop": "os_", "dv": "dv_", "jiso": "jiso_", "saposute": "ss_"}
PREFECTURE_SERVES_CITY = {"onestop", "dv", "saposute"}
PLACE_LABELS = {
    "kodomo_shokudo": "子ども食堂", "dementia_cafe": "認知症カフェ", "salon": "サロン・通いの場",
    "dementia_family_group": "認知症の人と家族の会のつどい", "community_support_center": "地域包括支援センター",
    "food_bank": "フードバンク", "hikikomori_family_group": "ひきこもり家族会", "family_carer_group": "家族介護者の会",
}


@dataclass
class Cell:
    entry: list[str] = field(default_factory=list)  # ids of entries that cover the area
    phone: list[str] = field(default_factory=list)  # of those, ids with a phone
    served: list[str] = field(default_factory=list)  # a designated city: prefecture entries with a phone serving it
    low: list[str] = field(default_factory=list)  # ids with a phone whose confidence is low


@dataclass
class Coverage:
    areas: list[tuple[str, str, bool]]  # (code, name, is a designated city)
    cells: dict[str, dict[str, Cell]]  # kind -> area code -> cell
    places: Counter = field(default_factory=Counter)  # category -> entries
    place_prefs: dict[str, set[str]] = field(default_factory=dict)  # category -> prefecture codes
    places_with_schedule: Counter = field(default_factory=Counter)
    places_structured: Counter = field(default_factory=Counter)
    saposute_prefs: set[str] = field(default_factory=set)
    saposute_entries: int = 0

    def count(self, kind: str, what: str, cities: bool | None = None) -> int:
        n = 0
        for code, _, is_city in self.areas:
            if cities is not None and is_city != cities:
                continue
            cell = self.cells[kind][code]
            found = {"entry": cell.entry, "phone": cell.phone, "reached": cell.phone or cell.served}[what]
            n += bool(found)
        return n

    def missing(self, kind: str) -> list[str]:
        return [name for code, name, _ in self.areas if not (self.cells[kind][code].phone or
                                                              self.cells[kind][code].served)]


def the_67(areas: Areas) -> list[tuple[str, str, bool]]:
    prefs = sorted((p.code, p.name, False) for p in areas.places.values() if len(p.code) == 2)
    cities = sorted({p.city_code for p in areas.places.values() if p.city_code})
    out = []
    for code, name, _ in prefs:
        out.append((code, name, False))
        out += [(c, areas.places[c].name, True) for c in cities if areas.places[c].pref == code]
    return out


def kind_of(service: Service, sourced: Sourced) -> str | None:
    row = sourced.by_entry.get(service.id)
    if row is not None:
        return next((k for k, table, _ in KINDS if table == row.table.stem), None)
    return next((k for k, prefix in PREFIX.items() if service.id.startswith(prefix)), None)


def measure(catalogue: Catalogue, sourced: Sourced, areas: Areas) -> Coverage:
    NATIONAL_NUMBERS.clear()
    NATIONAL_NUMBERS.update(re.sub(r"\D", "", n) for s in catalogue.services if s.national
                            for n in (s.phone, *(a for a, _ in s.phone_alt)) if n)
    the_areas = the_67(areas)
    cells: dict[str, dict[str, Cell]] = {k: defaultdict(Cell) for k, _, _ in KINDS}
    cov = Coverage(the_areas, cells)
    city_of: dict[str, str] = {}  # a code inside a designated city (ward, city) -> the city
    for p in areas.places.values():
        if p.city_code:
            city_of[p.code] = p.city_code
            city_of[p.city_code] = p.city_code
    for s in catalogue.services:
        if s.status != "active":
            continue
        row = sourced.by_entry.get(s.id)
        if row is not None and row.table.stem == "places":
            category = row.get("category")
            cov.places[category] += 1
            cov.place_prefs.setdefault(category, set()).update(a[:2] for a in s.areas if a != "national")
            if s.hours_text:
                cov.places_with_schedule[category] += 1
            if s.hours.known:
                cov.places_structured[category] += 1
            continue
        kind = kind_of(s, sourced)
        if kind is None or s.national:
            continue
        for code in s.areas:
            pref = code[:2]
            if kind == "saposute":
                cov.saposute_prefs.add(pref)
            target = city_of.get(code) if len(code) == 6 else code
            if len(code) == 6 and target is None:
                # A town's own desk (盛岡市の DV センター, 合志市のひきこもり窓口) serves that town, not the
                # prefecture; a サポステ in a town is the prefecture's, wherever it stands.
                if kind != "saposute":
                    continue
                target = pref
            _add(cells[kind][target], s)
            if len(target) == 2 and kind in PREFECTURE_SERVES_CITY:
                for city_code, _, is_city in the_areas:
                    if is_city and city_code[:2] == target and city_code not in s.excludes and local_phone(s):
                        cells[kind][city_code].served.append(s.id)
    cov.saposute_entries = sum(len(c.entry) for c in cells["saposute"].values())
    return cov


NATIONAL_NUMBERS: set[str] = set()  # digits of the national lines' numbers, filled by measure()


def local_phone(s: Service) -> bool:
    """A number of the centre itself: #8891, 189 and a national line's free dial reach a centre through a
    national exchange, not its own line."""
    return any(n and n.startswith("0") and re.sub(r"\D", "", n) not in NATIONAL_NUMBERS
               for n in (s.phone, *(a for a, _ in s.phone_alt)))


def _add(cell: Cell, s: Service) -> None:
    if s.id in cell.entry:
        return
    cell.entry.append(s.id)
    if local_phone(s):
        cell.phone.append(s.id)
        if s.confidence == "low":
            cell.low.append(s.id)


def table(cov: Coverage) -> str:
    """The coverage as a Markdown table (the README shows it)."""
    lines = [
        "| kind | with an entry /67 | with a phone /67 | prefectures with a phone /47 | designated cities: own phone / "
        "served by the prefecture /20 | phones of low confidence |",
        "|---|---|---|---|---|---|",
    ]
    for kind, _, label in KINDS:
        entry = cov.count(kind, "entry")
        phone = cov.count(kind, "phone")
        prefs = cov.count(kind, "phone", cities=False)
        own = cov.count(kind, "phone", cities=True)
        served = sum(1 for code, _, is_city in cov.areas
                     if is_city and not cov.cells[kind][code].phone and cov.cells[kind][code].served)
        low = sum(1 for code, _, _ in cov.areas if cov.cells[kind][code].phone and
                  len(cov.cells[kind][code].low) == len(cov.cells[kind][code].phone))
        if kind == "onestop":
            label += "（都道府県が設置）"
        served_text = f"{own} / {served}" if kind in PREFECTURE_SERVES_CITY else f"{own} / —"
        lines.append(f"| {label} | {entry} | {phone} | {prefs} | {served_text} | {low} |")
    lines.append("")
    lines.append(f"地域若者サポートステーション: {len(cov.saposute_prefs)} of 47 prefectures have at least one "
                 f"({cov.saposute_entries} entries).")
    return "\n".join(lines)


def places_table(cov: Coverage) -> str:
    lines = ["| place | entries | prefectures | with a schedule from the source | schedule read into hours |",
             "|---|---|---|---|---|"]
    total = Counter()
    for category in PLACE_INTENTS:
        n = cov.places.get(category, 0)
        if not n:
            continue
        kind = PLACE_INTENTS[category][0]
        label = PLACE_LABELS.get(category, category) + ("" if kind == "place" else "（kind centre）")
        lines.append(f"| {label} | {n} | {len(cov.place_prefs.get(category, ()))} | "
                     f"{cov.places_with_schedule.get(category, 0)} | {cov.places_structured.get(category, 0)} |")
        total["n"] += n
        if kind == "place":
            total["place"] += n
    prefs = set().union(*cov.place_prefs.values()) if cov.place_prefs else set()
    lines.append(f"| all | {total['n']} ({total['place']} of kind place) | {len(prefs)} | "
                 f"{sum(cov.places_with_schedule.values())} | {sum(cov.places_structured.values())} |")
    return "\n".join(lines)
