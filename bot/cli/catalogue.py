"""`bot catalogue build` and `bot catalogue coverage`: services.yaml against the sourced tables."""

from __future__ import annotations

import sys
from pathlib import Path


def _sourced(args):
    from bot.engine.catalogue.sourced import read_tables

    dirs = [Path(d) for d in args.sourced] if args.sourced else None
    sourced = read_tables(dirs)
    for d in sourced.missing_dirs:
        print(f"warning: {d} is not there: entries from its rows are not checked", file=sys.stderr)
    return sourced


def cmd_build(args) -> int:
    from bot.engine import default_catalogue_path
    from bot.engine.areas import Areas
    from bot.engine.catalogue.build import check, write
    from bot.engine.catalogue.hourstext import warnings
    from bot.engine.catalogue.model import CatalogueError, load_catalogue
    from bot.engine.catalogue.sourced import display
    from bot.engine.understand.intents import load_intents

    path = Path(args.catalogue) if args.catalogue else default_catalogue_path()
    sourced = _sourced(args)
    for p in sourced.problems:
        print(p)
    if sourced.problems:
        return 1
    areas = Areas()
    report = check(path, sourced, areas)
    summary = (f"{report.agreeing} entries agree with their rows, {len(report.changed)} differ, "
               f"{len(report.missing)} rows have no entry; {len(report.operator)} entries come from no row "
               "(an operator's: not checked, never changed)")
    if not args.write:
        for finding in report.findings:
            print(finding)
        print(summary)
        if report.findings:
            print("run `bot catalogue build --write` to copy the rows' facts in and add the missing entries",
                  file=sys.stderr)
        return 1 if report.findings else 0
    text, notes = write(path, report, sourced)
    try:
        cat = load_catalogue(path, set(load_intents()), set(areas.places), text=text)
    except CatalogueError as exc:
        for p in exc.problems:
            print(f"after building: {p}")
        print("nothing written", file=sys.stderr)
        return 1
    for note in notes:
        print(note)
    if report.changed or report.missing:
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # atomic: a watching server never reads half a file
    print(summary)
    print(f"written: {display(path)} ({len(cat.services)} services; {len(report.changed)} updated, "
          f"{len(report.missing)} added)" if report.changed or report.missing else "nothing to write")
    found = warnings(cat.services, path.name)
    for w in found:
        print(w)
    return 1 if found else 0


def cmd_coverage(args) -> int:
    from bot.engine import default_catalogue_path
    from bot.engine.areas import Areas
    from bot.engine.catalogue.coverage import KINDS, measure, places_table, table
    from bot.engine.catalogue.model import load_catalogue

    path = Path(args.catalogue) if args.catalogue else default_catalogue_path()
    cat = load_catalogue(path)
    cov = measure(cat, _sourced(args), Areas())
    print(f"Coverage of the 67 areas (47 prefectures, 20 designated cities) in {path.name}:\n")
    print(table(cov))
    print()
    print(places_table(cov))
    if args.missing:
        print("\nAreas with no phone for the kind (a designated city served by its prefecture's centre is not listed):")
        for kind, _, label in KINDS:
            missing = cov.missing(kind)
            print(f"\n{label} ({len(missing)}): {'、'.join(missing) if missing else '—'}")
    return 0


def add_catalogue_commands(cat) -> None:
    p = cat.add_parser("build", help="check services.yaml against the sourced tables, or bring it up to date")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report entries that disagree with their row (default)")
    mode.add_argument("--write", action="store_true", help="copy the rows' facts in and add entries for new rows")
    p.add_argument("--sourced", action="append", metavar="DIR",
                   help="a folder of sourced tables (default: ../shared/data/sourced and data/sourced)")
    p.set_defaults(func=cmd_build)
    p = cat.add_parser("coverage", help="the statutory centres of the 67 areas, with phones, and places to go")
    p.add_argument("--missing", action="store_true", help="list the areas with no phone, kind by kind")
    p.add_argument("--sourced", action="append", metavar="DIR", help="a folder of sourced tables")
    p.set_defaults(func=cmd_coverage)
