"""The sourced tables: every fact the catalogue may hold, each row with the page it was read on.

    ../shared/data/sourced/*.csv   national lines and the first local rows (read-only, shared)
    data/sourced/*.csv             the project's own rows: local centres, places to go, foreign residents' lines

Each file is one Table: what kind of entry its rows become and for which needs.  A project row
whose id is a shared row's id with `_r2` (`_r3`...) appended brings that shared row up to date
(the shared tables cannot be edited): its entry keeps the shared id.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine.catalogue.model import ROOT

PROJECT_DIR = ROOT / "data" / "sourced"
SHARED_DIR = ROOT.parent / "shared" / "data" / "sourced"


@dataclass(frozen=True)
class Table:
    stem: str  # file name without .csv
    label: str  # what its rows are, for group comments and reports
    kind: str | None  # the entries' kind (None: decided per row)
    intents: tuple[str, ...] = ()  # the entries' needs (empty: decided per row, see PLACE_INTENTS)
    statutory: str | None = None  # key of the coverage table


TABLES: dict[str, Table] = {t.stem: t for t in (
    Table("national_emergency", "緊急通報", None),
    Table("national_services", "全国の電話・SNS・チャット相談", None),
    Table("local_seishin_hoken_center", "精神保健福祉センター", "centre", ("mental_health", "suicide_risk"), "mhwc"),
    Table("local_hikikomori", "ひきこもり地域支援センター", "centre", ("hikikomori",), "hikikomori"),
    Table("local_onestop_sexual_violence", "性暴力被害者ワンストップ支援センター", "centre", ("sexual_violence",),
          "onestop"),
    Table("local_dv_center", "配偶者暴力相談支援センター", "centre", ("domestic_violence",), "dv"),
    Table("local_jidou_soudanjo", "児童相談所", "centre", ("child_abuse", "parenting", "child_youth_trouble"), "jiso"),
    Table("local_saposute", "地域若者サポートステーション", "centre", ("job_seeking", "hikikomori"), "saposute"),
    Table("foreign_residents", "外国人住民の相談窓口（多言語）", "phone",
          ("legal_trouble", "workplace_trouble", "financial_hardship", "housing")),
    Table("places", "居場所（子ども食堂・認知症カフェ・サロン・家族会・フードバンク・地域包括支援センター）", "place"),
)}

# places.csv: category -> (kind, needs).  A place answers a need when going there is itself the help.
PLACE_INTENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kodomo_shokudo": ("place", ("food", "places_to_go")),
    "dementia_cafe": ("place", ("dementia", "places_to_go", "caregiver_burden")),
    "dementia_family_group": ("place", ("dementia", "caregiver_burden", "places_to_go")),
    "salon": ("place", ("places_to_go", "loneliness", "elderly_support")),
    "hikikomori_family_group": ("place", ("hikikomori", "places_to_go")),
    "family_carer_group": ("place", ("caregiver_burden", "places_to_go")),
    "food_bank": ("place", ("food",)),
    # 地域包括支援センター is a consultation office, not a place to spend time: a centre.
    "community_support_center": ("centre", ("elderly_support", "caregiver_burden", "dementia")),
}

_SUPERSEDES = re.compile(r"^(?P<base>.+)_r\d+$")


@dataclass
class Row:
    table: Table
    path: Path
    line: int  # the row's line in its file (the header is line 1)
    values: dict[str, str]
    shared: bool

    @property
    def id(self) -> str:
        return self.values["id"]

    def get(self, key: str) -> str:
        return (self.values.get(key) or "").strip()

    @property
    def where(self) -> str:
        return f"{display(self.path)}:{self.line}"


@dataclass
class Sourced:
    rows: list[Row] = field(default_factory=list)
    by_entry: dict[str, Row] = field(default_factory=dict)  # entry id -> the row it must agree with
    superseded: dict[str, Row] = field(default_factory=dict)  # shared id -> the project row updating it
    problems: list[str] = field(default_factory=list)
    missing_dirs: list[str] = field(default_factory=list)


def display(path: Path) -> str:
    """A path as the project names it: data/sourced/x.csv, ../shared/data/sourced/x.csv."""
    path = Path(path).resolve()
    # Only the shared folder beside the project is named from outside it: a file anywhere else
    # (a test's temporary folder beside a clone) keeps its full path.
    for base, shown in ((ROOT, ""), (ROOT.parent / "shared", "../shared/")):
        try:
            return shown + str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)


def read_tables(dirs: list[Path] | None = None) -> Sourced:
    """Every row of every known table in `dirs` (default: the shared tables, then the project's)."""
    out = Sourced()
    dirs = dirs if dirs is not None else [SHARED_DIR, PROJECT_DIR]
    for d in dirs:
        if not d.is_dir():
            out.missing_dirs.append(display(d))
            continue
        shared = d.resolve() != PROJECT_DIR.resolve() and "shared" in d.resolve().parts
        for path in sorted(d.glob("*.csv")):
            table = TABLES.get(path.stem)
            if table is None:
                out.problems.append(f"{display(path)}:1: no table of this name is known to the builder")
                continue
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f)
                for values in reader:
                    if not any((v or "").strip() for v in values.values()):
                        continue
                    out.rows.append(Row(table, path, reader.line_num, values, shared))
    ids: dict[str, Row] = {}
    for row in out.rows:
        if not row.id:
            out.problems.append(f"{row.where}: the row has no id")
            continue
        if row.id in ids:
            out.problems.append(f"{row.where}: id {row.id!r} again (first at {ids[row.id].where})")
            continue
        ids[row.id] = row
    for row in ids.values():
        m = _SUPERSEDES.match(row.id)
        base = ids.get(m.group("base")) if m else None
        if base is not None and base.shared and not row.shared:
            out.superseded[base.id] = row
    for rid, row in ids.items():
        if rid in out.superseded:
            out.by_entry[rid] = out.superseded[rid]
        elif not (row.id != rid or any(r is row for r in out.superseded.values())):
            out.by_entry[rid] = row
    return out
