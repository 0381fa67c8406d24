"""The `bot` command: thin commands over the library.

    bot chat                      talk to the bot in the terminal
    bot route --jsonl             JSON lines in, referrals out
    bot test-referrals FILE...    referral cases -> per-need report
    bot catalogue check|stale     keep services.yaml true (bot/cli/catalogue.py: build, coverage)
    bot i18n check                every fixed text in every reply language (locales/)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path

from bot.engine.catalogue.hours import TOKYO


def _engine(args):
    from bot.engine import Engine

    return Engine.load(getattr(args, "catalogue", None))


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=TOKYO)


# -- chat ---------------------------------------------------------------------------------------


def cmd_chat(args, engine=None) -> int:
    """Remembers, like the channels do: the area named, the language chosen (--lang, /lang CODE) or last
    replied in, the question the bot asked (the next line may answer it), the needs it offered (a number
    chooses one)."""
    from dataclasses import replace

    from bot.engine import texts
    from bot.engine.render import render_text
    from bot.types import ResidentContext

    engine = engine or _engine(args)
    area = engine.find_area(args.area).code if args.area else None
    context = ResidentContext(area=area, lang=args.lang)
    choices: tuple[str, ...] = ()
    print("つなぐ (Tsunagu) — 困りごとを自由に書いてください。終わるときは Ctrl-D。言語：/lang vi など")
    print("Write what troubles you, in your own words. Ctrl-D to leave. Language: /lang en, /lang vi ...\n")
    while True:
        try:
            text = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not text.strip():
            continue
        if text.strip().startswith("/lang"):
            chosen = texts.lang_named(text.strip()[5:])
            context = replace(context, lang=chosen)  # type: ignore[arg-type]
            print((texts.say(chosen, "chat.lang_set") if chosen else
                   " / ".join(f"{texts.language_name(x)} ({x})" for x in texts.tables())) + "\n")
            continue
        at = _parse_time(args.at)
        picked = int(text) if text.strip().isdigit() else 0
        if 1 <= picked <= len(choices):
            referral = engine.route_choice(choices[picked - 1], replace(context, asked=None), at)
        else:
            referral = engine.route(text, context, at)
        assert referral is not None
        if referral.area and referral.area.how != "remembered":
            area = referral.area.code  # remembered for the rest of the conversation, like the channels do
        context = replace(context, area=area, last_lang=referral.lang, asked=referral.asks)
        choices = referral.choices
        print(render_text(referral) + "\n")


# -- route --jsonl ------------------------------------------------------------------------------


def referral_json(referral) -> dict:
    return {
        "lang": referral.lang,  # the language the reply is written in
        "language": referral.match.language,  # the message's own
        "language_why": referral.match.language_why,
        "with_english": "with_en" in referral.notes,
        "crisis": referral.crisis,
        "emergency": referral.emergency,
        "opening": referral.opening,
        "asks": referral.asks,
        "choices": list(referral.choices),
        "faq": referral.faq,
        "intents": [{"id": s.id, "score": s.score} for s in referral.intents],
        "area": None if referral.area is None else {
            "code": referral.area.code, "name": referral.area.name, "how": referral.area.how,
            "approximate": referral.area.approximate,
        },
        "ask_area": referral.ask_area,
        "services": [
            {
                "id": h.service_id, "name": h.name, "name_en": h.name_en, "name_local": h.name_local,
                "languages": list(h.languages), "kind": h.kind, "intent": h.intent, "phone": h.phone,
                "url": h.url, "open_now": h.open_now, "always_open": h.always_open,
                "next_open": h.next_open.isoformat() if h.next_open else None, "hours_text": h.hours_text,
                "confidence": h.confidence, "area": h.area, "distance_km": h.distance_km, "why": h.why,
            }
            for h in referral.services
        ],
    }


def explain_json(match) -> dict:
    """Why the engine read the message as it did: which layer decided, each layer's view."""
    return {
        "decided_by": match.decided_by, "crisis_why": match.crisis_why, "unsure": match.unsure,
        "check_in": match.check_in, "answer": match.answer, "topic": match.topic, "language": match.language,
        "layers": [{"name": ly.name, "ran": ly.ran, "top": [list(t) for t in ly.top], "nearest": list(ly.nearest),
                    "note": ly.note} for ly in match.layers],
    }


def cmd_route(args) -> int:
    from bot.types import REPLY_LANGS, ResidentContext

    if not args.jsonl:
        print("bot route reads JSON lines: use --jsonl", file=sys.stderr)
        return 2
    engine = _engine(args)
    out = sys.stdout
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text", ""), str):
                raise ValueError("each line must be an object with a text string")
            area = None
            if item.get("area") not in (None, ""):
                found = engine.find_area(str(item["area"]))
                area = found.code if found else None
            lat, lon = item.get("lat"), item.get("lon")
            lang = item.get("lang") or args.lang
            if lang is not None and lang not in REPLY_LANGS:
                raise ValueError(f"lang must be one of {', '.join(REPLY_LANGS)}")
            asked = item.get("asked")
            if asked not in (None, "suicide_check"):
                raise ValueError("asked must be suicide_check (the question the bot asked last)")
            ctx = ResidentContext(area=area, lat=float(lat) if lat is not None else None,
                                  lon=float(lon) if lon is not None else None, lang=lang, asked=asked)
            referral = engine.route(item.get("text", ""), ctx, _parse_time(item.get("at")))
            result = referral_json(referral)
            if args.explain:
                result["why"] = explain_json(referral.match)
            if item.get("area") not in (None, "") and area is None:
                result["area_unknown"] = str(item["area"])
                result["ask_area"] = True
        except (ValueError, TypeError) as exc:
            result = {"error": f"line {n}: {exc}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


# -- test-referrals -----------------------------------------------------------------------------


def cmd_test_referrals(args) -> int:
    from bot.engine.evaluation import CaseError, evaluate, load_cases

    engine = _engine(args)
    cases = []
    for f in args.files:
        try:
            cases += load_cases(f)
        except (OSError, CaseError) as exc:
            print(f"{f}: {exc}", file=sys.stderr)
            return 2
    report = evaluate(engine, cases, layers=args.layers)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.text())
    return 0 if report.failed == 0 else 1


# -- catalogue ----------------------------------------------------------------------------------


def cmd_catalogue_check(args) -> int:
    from bot.engine.areas import Areas
    from bot.engine.catalogue.model import CatalogueError, load_catalogue
    from bot.engine.understand.intents import load_intents

    path = Path(args.file) if args.file else None
    from bot.engine import default_catalogue_path

    path = path or default_catalogue_path()
    try:
        cat = load_catalogue(path, set(load_intents()), set(Areas().places))
    except CatalogueError as exc:
        for p in exc.problems:
            print(p)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    from bot.engine.catalogue.hourstext import warnings
    from bot.engine.catalogue.model import ROOT

    name = path.name if path.resolve().parent == ROOT else str(path)
    found = warnings(cat.services, name)
    for w in found:
        print(w)
    if found:
        print(f"{len(found)} warning(s): the structured hours say otherwise than the source's words",
              file=sys.stderr)
        return 1
    print(f"{path.name}: {len(cat.services)} services, no problems (version {cat.version})")
    return 0


def cmd_catalogue_stale(args) -> int:
    from bot.engine import default_catalogue_path
    from bot.engine.catalogue.model import load_catalogue

    cat = load_catalogue(default_catalogue_path())
    today = date.today()
    rank = {"not-standing": 0, "incomplete": 1, "low": 2, "medium": 3, "high": 4}
    rows = []
    for s in cat.services:
        age = (today - s.checked).days if s.checked else None
        if age is not None and age <= args.days and s.confidence in ("high", "medium"):
            continue
        rows.append((rank[s.confidence], -(age if age is not None else 10**6), s))
    rows.sort(key=lambda r: (r[0], r[1]))
    for _, _, s in rows:
        checked = s.checked.isoformat() if s.checked else "never"
        print(f"{s.line:>5}  {s.id:<32} {s.confidence:<13} checked {checked:<10}  source {s.source_date}")
    print(f"{len(rows)} of {len(cat.services)} entries to re-verify (older than {args.days} days or not high/medium)")
    return 0


# -- i18n ---------------------------------------------------------------------------------------


def cmd_i18n_check(args) -> int:
    from bot.engine import texts
    from bot.types import REPLY_LANGS

    directory = Path(args.directory) if args.directory else texts.LOCALES_DIR
    problems = texts.check(directory)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    keys = len(texts.load(directory)[texts.REFERENCE])
    print(f"{directory.name}/: {len(REPLY_LANGS)} languages, {keys} texts each, placeholders and labels in order")
    return 0


# -- wiring -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from bot.types import REPLY_LANGS

    parser = argparse.ArgumentParser(prog="bot", description="Tsunagu: referrals to support in Japan")
    parser.add_argument("--catalogue", help="path to services.yaml (default: CATALOGUE_PATH or the bundled one)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("chat", help="talk to the bot in the terminal, as a resident would")
    p.add_argument("--area", help="the resident's area: a name, postal code or local government code")
    p.add_argument("--at", help="pretend it is this time (ISO 8601, Asia/Tokyo)")
    p.add_argument("--lang", choices=REPLY_LANGS, help="answer in this language (default: the message's)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("route", help="route JSON lines from stdin: {text, area?, lat?, lon?, at?, lang?, asked?}")
    p.add_argument("--jsonl", action="store_true", help="read and write one JSON object per line")
    p.add_argument("--explain", action="store_true", help="add why: the deciding layer, each layer's view, nearest examples")
    p.add_argument("--lang", choices=REPLY_LANGS, help="answer every line in this language (a line's own lang wins)")
    p.set_defaults(func=cmd_route)

    p = sub.add_parser("test-referrals", help="run referral case files and print a per-need report")
    p.add_argument("files", nargs="+", help="case files in the format of shared/referrals/dev.yaml")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--layers", action="store_true",
                   help="also run each layer alone on every case (and the two peers): per-layer figures")
    p.set_defaults(func=cmd_test_referrals)

    cat = sub.add_parser("catalogue", help="check and maintain services.yaml").add_subparsers(dest="action", required=True)
    p = cat.add_parser("check", help="validate a catalogue file; print file:line problems")
    p.add_argument("file", nargs="?", help="the file (default: the bundled services.yaml)")
    p.set_defaults(func=cmd_catalogue_check)
    p = cat.add_parser("stale", help="entries to re-verify, lowest confidence and oldest first")
    p.add_argument("--days", type=int, default=180, help="re-verify entries checked longer ago than this")
    p.set_defaults(func=cmd_catalogue_stale)
    i18n = sub.add_parser("i18n", help="check the fixed texts of every reply language").add_subparsers(
        dest="action", required=True)
    p = i18n.add_parser("check", help="every key of locales/ja.yaml in every language, same placeholders")
    p.add_argument("directory", nargs="?", help="the locales folder (default: the bundled one)")
    p.set_defaults(func=cmd_i18n_check)
    _extensions(sub, cat)
    return parser


def _extensions(sub, cat) -> None:
    """Commands that live with their subsystems (server, channels, database, imports)."""
    import importlib

    for module in ("bot.cli.server", "bot.cli.local", "bot.cli.catalogue", "bot.cli.console", "bot.cli.semantic",
                   "bot.bench"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        if hasattr(mod, "add_commands"):
            mod.add_commands(sub)
        if hasattr(mod, "add_catalogue_commands"):
            mod.add_catalogue_commands(cat)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0

