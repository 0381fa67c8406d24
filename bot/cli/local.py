"""`bot catalogue import`: operators bring their own lists."""

from __future__ import annotations

import sys
from pathlib import Path


def cmd_import(args) -> int:
    from bot.engine import default_catalogue_path
    from bot.engine.areas import Areas
    from bot.engine.catalogue.importer import merge, read_rows
    from bot.engine.understand.intents import load_intents

    areas = Areas()
    intent_ids = set(load_intents())
    plan = read_rows(Path(args.file), areas, intent_ids)
    if plan.problems:
        for p in plan.problems:
            print(p)
        print(f"{len(plan.problems)} problem(s); nothing changed", file=sys.stderr)
        return 1
    target = Path(args.catalogue) if args.catalogue else default_catalogue_path()
    problems = merge(plan, target, intent_ids, set(areas.places), write=args.write)
    if problems:
        for p in problems:
            print(p)
        print("nothing changed", file=sys.stderr)
        return 1
    print(plan.summary())
    if args.write:
        print(f"written to {target}" if plan.added or plan.changed else "nothing to write")
    else:
        print("dry run: add --write to merge into the catalogue")
    return 0


def add_catalogue_commands(cat) -> None:
    p = cat.add_parser("import", help="validate a CSV of services and merge it into services.yaml")
    p.add_argument("file", help="CSV with a header row (English or Japanese column names, see README)")
    p.add_argument("--write", action="store_true", help="merge into the catalogue (default: show what would change)")
    p.set_defaults(func=cmd_import)
