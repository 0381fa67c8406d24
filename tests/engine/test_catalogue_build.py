"""`bot catalogue build`: services.yaml checked against the sourced tables, and brought up to date.

The fixture tables are copies of real rows of data/sourced (facts read on public pages), cut down
to what each test needs; only their hours or their hyphens are changed, to see the check notice.
"""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from bot.cli import main
from bot.engine.areas import Areas
from bot.engine.catalogue.build import check, derive, entry_text, numbers_of
from bot.engine.catalogue.model import load_catalogue
from bot.engine.catalogue.sourced import read_tables
from tests.support import ROOT

HEADER = "id,name,prefecture,municipality,phone,address,hours_text,source_url,source_date,confidence,notes"


def real_row(table: str, row_id: str) -> dict:
    with open(ROOT / "data" / "sourced" / f"{table}.csv", encoding="utf-8") as f:
        return next(r for r in csv.DictReader(f) if r["id"] == row_id)


def write_table(folder, table: str, rows: list[dict]) -> None:
    folder.mkdir(exist_ok=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / f"{table}.csv").write_text(out.getvalue(), encoding="utf-8")


@pytest.fixture(scope="module")
def areas():
    return Areas()


# An operator's own entry: from no row, so the builder must leave it exactly as it is.
OPERATOR = """# an operator's list
- id: operator_cafe
  name: 架空の居場所（テスト用）
  kind: place
  intents: [places_to_go]
  area: "10"
  source_url: https://example.org/operator
  source_date: 2026-11-01
  confidence: medium
  status: active
"""


def test_a_dv_row_gives_its_entry_with_the_number_the_area_and_the_hours_as_the_words_say(tmp_path, areas):
    sourced_dir = tmp_path / "sourced"
    write_table(sourced_dir, "local_dv_center", [real_row("local_dv_center", "dv_gunma")])
    derived = derive(read_tables([sourced_dir]).by_entry["dv_gunma"], areas)
    entry = derived.entry
    assert entry["phone"] == "027-261-4466"
    assert entry["area"] == "10"
    assert entry["kind"] == "centre" and entry["intents"] == ["domestic_violence"]
    # 月曜日～土曜日 9:00～17:00（休: 祝日・年末年始）
    assert entry["hours"] == {"weekly": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                                          "open": "09:00", "close": "17:00"}],
                              "closed": ["holidays", "new_year"]}
    assert entry["source_url"].startswith("https://") and entry["confidence"] == "high"


def test_a_new_row_is_reported_then_written_and_the_operator_entry_is_left_alone(tmp_path, capsys):
    sourced_dir = tmp_path / "sourced"
    write_table(sourced_dir, "local_dv_center", [real_row("local_dv_center", "dv_gunma")])
    catalogue = tmp_path / "services.yaml"
    catalogue.write_text(OPERATOR, encoding="utf-8")
    args = ["--catalogue", str(catalogue), "catalogue", "build", "--sourced", str(sourced_dir)]

    assert main(args) == 1
    out = capsys.readouterr().out
    assert f"{sourced_dir / 'local_dv_center.csv'}:2: dv_gunma: no entry in {catalogue}" in out

    assert main([*args, "--write"]) == 0
    text = catalogue.read_text(encoding="utf-8")
    assert text.startswith(OPERATOR)  # the operator's lines, comment and all, as they were
    assert "- id: dv_gunma" in text and "phone: 027-261-4466" in text
    assert main(args) == 0  # now in step
    assert "1 entries agree with their rows" in capsys.readouterr().out
    assert {s.id for s in load_catalogue(catalogue).services} == {"operator_cafe", "dv_gunma"}


def test_a_row_that_changed_is_reported_at_the_line_of_both_and_write_copies_the_words_in(tmp_path, capsys):
    sourced_dir = tmp_path / "sourced"
    row = real_row("local_dv_center", "dv_gunma")
    write_table(sourced_dir, "local_dv_center", [row])
    catalogue = tmp_path / "services.yaml"
    catalogue.write_text(OPERATOR, encoding="utf-8")
    args = ["--catalogue", str(catalogue), "catalogue", "build", "--sourced", str(sourced_dir)]
    assert main([*args, "--write"]) == 0
    capsys.readouterr()

    changed = dict(row, hours_text="（GitHubコピー記載）月曜日～金曜日 9:00～17:00（休: 祝日・年末年始）")
    write_table(sourced_dir, "local_dv_center", [changed])
    assert main(args) == 1
    out = capsys.readouterr().out
    lines = catalogue.read_text(encoding="utf-8").split("\n")
    hours_text_line = next(i for i, ln in enumerate(lines, 1) if ln.startswith("  hours_text:"))
    assert f"services.yaml:{hours_text_line}: dv_gunma: hours_text" in out
    assert "local_dv_center.csv:2)" in out

    assert main([*args, "--write"]) == 0
    assert "hours read again from the new words" in capsys.readouterr().out
    services = {s.id: s for s in load_catalogue(catalogue).services}
    assert "土曜" not in services["dv_gunma"].hours_text
    assert not [d for d, _ in services["dv_gunma"].hours.weekly if d == 5]  # no Saturday any more
    assert services["operator_cafe"].name == "架空の居場所（テスト用）"


def test_a_number_written_with_other_hyphens_than_its_row_is_reported(tmp_path, areas):
    sourced_dir = tmp_path / "sourced"
    write_table(sourced_dir, "local_jidou_soudanjo", [real_row("local_jidou_soudanjo", "jiso_kanagawa")])
    catalogue = tmp_path / "services.yaml"
    report = check(catalogue, read_tables([sourced_dir]), areas, text="")
    text = "".join(entry_text(d.entry) for d in report.missing)
    catalogue.write_text(text.replace("0466-84-1600", "046-684-1600"), encoding="utf-8")
    report = check(catalogue, read_tables([sourced_dir]), areas)
    assert [str(f) for f in report.findings] == [
        f"{catalogue}:5: jiso_kanagawa: phone 046-684-1600 is printed 0466-84-1600 in the row "
        f"({sourced_dir / 'local_jidou_soudanjo.csv'}:2)"]


def test_a_place_with_a_mobile_number_is_shown_without_it_and_says_why(tmp_path, areas):
    sourced_dir = tmp_path / "sourced"
    with open(ROOT / "data" / "sourced" / "places.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["phone"].startswith(("090", "080", "070")))
    write_table(sourced_dir, "places", [row])
    entry = derive(read_tables([sourced_dir]).rows[0], areas).entry
    assert entry["kind"] in ("place", "centre") and entry["phone"] is None
    assert "個人の番号" in entry["notes"]


def test_tokyo_open_data_rows_carry_their_cc_by_credit(tmp_path, areas):
    sourced_dir = tmp_path / "sourced"
    with open(ROOT / "data" / "sourced" / "places.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if "CC BY" in r["notes"])
    write_table(sourced_dir, "places", [row])
    entry = derive(read_tables([sourced_dir]).rows[0], areas).entry
    assert entry["credit"].startswith("出典：") and "CC BY 4.0" in entry["credit"]


@pytest.mark.parametrize("printed, dialled", [
    ("027-322-2498（来所相談は要予約）／こどもホットライン24（全県）0120-783-884・携帯から 027-263-1100",
     ["027-322-2498", "0120-783-884", "027-263-1100"]),
    ("#8891（NTTひかり電話からは 0120-8891-77）", ["#8891", "0120-8891-77"]),
    ("728-1234（市外局番は原文に記載なし）", []),
    ("366-8181（市外局番は原文に記載なし）／児童相談所虐待対応ダイヤル 189", ["189"]),
])
def test_numbers_are_read_as_the_row_prints_them_and_never_completed(printed, dialled):
    assert [n for n, _ in numbers_of(printed)[0]] == dialled


def test_a_superseded_number_is_never_copied():
    found, left = numbers_of("0570-064-000（旧番号）")
    assert found == [] and left


def test_the_shipped_catalogue_agrees_with_every_row(capsys):
    if not (ROOT.parent / "shared" / "data" / "sourced").is_dir():
        pytest.skip("../shared/data/sourced is not beside the repository")
    assert main(["catalogue", "build"]) == 0
    assert "0 differ, 0 rows have no entry" in capsys.readouterr().out


def test_the_shipped_catalogue_keeps_the_builders_shape(tmp_path, capsys):
    """--write on the shipped file changes nothing: it is what the tables give."""
    if not (ROOT.parent / "shared" / "data" / "sourced").is_dir():
        pytest.skip("../shared/data/sourced is not beside the repository")
    copy = tmp_path / "services.yaml"
    shutil.copy(ROOT / "services.yaml", copy)
    assert main(["--catalogue", str(copy), "catalogue", "build", "--write"]) == 0
    assert "nothing to write" in capsys.readouterr().out
    assert copy.read_text(encoding="utf-8") == (ROOT / "services.yaml").read_text(encoding="utf-8")
