"""`bot bench`: the figures of "Speed and scale", measured on this machine, in under 5 minutes.

    routing   route() p50/p99 at about 1k, 10k and 30k entries; the brute-force ratio   bot/bench/routing.py
    reload    a catalogue file of about 1k, 10k and 30k entries re-read while another thread routes:
              how long, and do replies pause?
    per event where one LINE event's CPU goes, stage by stage, in one process
    webhook   start time, RSS/PSS per worker, events/s, p50/p99, lost and duplicated; overload at 3x
              capacity and a flood, crises timed apart; the minimal LINE bot beside it  bot/bench/webhook.py

Prints the tables and writes them, with the machine and the command, to bench/results.md.
Generated catalogues live in memory or in a temporary directory: they are never shipped.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import re
import shlex
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository (bot/bench/...)
RESULTS = ROOT / "bench" / "results.md"
FULL = {"sizes": (1000, 10000, 30000), "brute": 150, "reload": (1000, 10000, 30000), "burst": 6000, "seconds": 10.0,
        "flood": 20_000, "overload": 5000}
QUICK = {"sizes": (300,), "brute": 5, "reload": (260,), "burst": 60, "seconds": 1.0, "flood": 300, "overload": 150}
CRISIS_IDS = ("suicide_risk", "emergency")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "memory_gb": round(memory_gb, 1),
            "python": platform.python_version(), "system": platform.platform(terse=True),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


# -- catalogue reload -----------------------------------------------------------------------------


def catalogue_text(size: int, source: Path, seed: int = 5) -> str:
    """services.yaml grown to about `size` entries: local entries copied to random municipalities."""
    text = source.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=- id: )", text)[1:]
    local = [e for e in entries if not re.search(r"^  area: national", e, re.M)] or entries
    with open(ROOT / "bot" / "data" / "municipalities.csv", encoding="utf-8") as f:
        codes = [row["lgcode"][:6] for row in csv.DictReader(f)]
    rng = random.Random(seed)
    out = [text.rstrip() + "\n"]
    for n in range(max(0, size - len(entries))):
        entry = re.sub(r"^- id: (\S+)", lambda m, n=n: f"- id: {m.group(1)}_bench{n}", rng.choice(local).strip(),
                       count=1)
        entry = re.sub(r"^  area: .*$", f'  area: "{rng.choice(codes)}"', entry, count=1, flags=re.M)
        out.append("\n" + entry + "\n")
    return "".join(out)


def reload_while_routing(engine: Any, texts: list[str], size: int) -> dict[str, Any]:
    """Engine.reload() of a `size`-entry file in one thread while another routes: latency before and during."""
    import copy

    with tempfile.TemporaryDirectory(prefix="tsunagu-reload-") as tmp:
        path = Path(tmp) / "services.yaml"
        path.write_text(catalogue_text(size, engine.catalogue_path), encoding="utf-8")
        size_bytes = path.stat().st_size
        subject = copy.copy(engine)  # the same matcher and areas, its own catalogue path and lock
        subject.catalogue_path = path
        subject._lock = threading.Lock()
        before = _route_times(subject, texts, seconds=1.0)
        from bot.bench.routing import routing_in_background

        with routing_in_background(subject, texts) as during:
            started = time.perf_counter()
            problems = subject.reload()
            seconds = time.perf_counter() - started
    entries = len(subject.catalogue.services)
    from bot.engine.catalogue.aside import INLINE_BYTES

    return {
        "entries": entries, "seconds": round(seconds, 2), "problems": len(problems),
        "parsed_in": "a child process" if size_bytes >= INLINE_BYTES else "the serving process",
        "seconds_per_1k": round(seconds / max(entries, 1) * 1000, 2),
        "routes_before_p50_ms": _p(before, 0.5), "routes_before_p99_ms": _p(before, 0.99),
        "routes_during": len(during), "routes_during_p50_ms": _p(during, 0.5),
        "routes_during_p99_ms": _p(during, 0.99), "routes_during_max_ms": round(max(during), 1) if during else None,
    }


def _route_times(engine: Any, texts: list[str], seconds: float) -> list[float]:
    times, end, i = [], time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        s = time.perf_counter()
        engine.route(texts[i % len(texts)])
        times.append((time.perf_counter() - s) * 1000)
        i += 1
    return times


def _p(values: list[float], q: float) -> float | None:
    from bot.bench.webhook import percentile

    return round(percentile(values, q), 2) if values else None


# -- one event, stage by stage --------------------------------------------------------------------


def per_event(engine: Any, texts: list[str], count: int = 300) -> dict[str, Any]:
    """CPU per LINE text event in one process, as `bot serve` spends it, stage by stage:

    the edge (signature, JSON, the quick crisis look that sets its place in line), the desk's work
    for a resident's text (LineChannel.respond_text: check-in, the engine, the LINE message objects),
    the reply's JSON as the SDK client makes it, and the writer thread's batched log and resident rows.
    The engine's share is the Desk's own count (tsunagu_engine_cpu_seconds_total); the message
    objects are timed again on their own from the same referral.
    """
    try:
        from bot.channels.line import LineChannel, Reply, referral_messages, webhook_items
        from bot.fakes.line import FakeLine, sign
        from bot.service import migrations
        from bot.service.desk import Desk
        from bot.service.privacy import Hasher
        from bot.service.store import Store
    except ImportError as e:
        return {"error": f"not measured: {e}"}
    with tempfile.TemporaryDirectory(prefix="tsunagu-event-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrations.upgrade(url)
        store = Store(url, deadline=0.5)
        try:
            desk = Desk(engine, store, Hasher(b"bench"))
            channel = LineChannel(desk, "bench-secret", "bench-token", "http://127.0.0.1:9")
            line = FakeLine(secret="bench-secret")
            bodies = []
            for n in range(count):
                body = json.dumps({"destination": "U", "events": [line.text(texts[n % len(texts)], f"U{n:032x}")]},
                                  ensure_ascii=False).encode()
                bodies.append((body, sign(body, "bench-secret")))
            stages: dict[str, float] = {"edge": 0.0, "respond": 0.0, "messages": 0.0, "reply JSON": 0.0,
                                        "again": 0.0}
            engine_before = _engine_seconds(desk)
            process_before = time.process_time()
            for n, (body, signature) in enumerate(bodies):
                t0 = time.thread_time()
                assert channel.signed(body, signature)
                item = webhook_items(body)[0]
                channel.priority(item)
                t1 = time.thread_time()
                messages = channel.respond_text(item["source"]["userId"], item["message"]["text"], f"line:e{n}")
                t2 = time.thread_time()
                sanitized = channel_client_body(Reply.construct(reply_token="x", messages=messages or []))
                json.dumps(sanitized)
                t3 = time.thread_time()
                referral = engine.route(item["message"]["text"])  # again, only to time the messages apart
                t4 = time.thread_time()
                referral_messages(referral)
                t5 = time.thread_time()
                stages["edge"] += t1 - t0
                stages["respond"] += t2 - t1
                stages["reply JSON"] += t3 - t2
                stages["again"] += t4 - t3
                stages["messages"] += t5 - t4
            store.flush()
            total = time.process_time() - process_before
            engine_cpu = _engine_seconds(desk) - engine_before
        except Exception as e:  # noqa: BLE001  (the channel's internals moved: say so, measure the rest)
            return {"error": f"not measured: {type(e).__name__}: {e}"}
        finally:
            store.close()
    ms = {k: v * 1000 / count for k, v in stages.items()}
    engine_ms = engine_cpu * 1000 / count
    in_thread = ms["edge"] + ms["respond"] + ms["reply JSON"] + ms["again"] + ms["messages"]
    out = {"edge (signature, JSON, quick crisis look)": ms["edge"],
           "engine (match and route)": engine_ms,
           "LINE message objects (SDK models)": ms["messages"],
           "desk: check-in (database), keys, hand-offs": max(0.0, ms["respond"] - engine_ms - ms["messages"]),
           "reply JSON (as the SDK client makes it)": ms["reply JSON"],
           "writer thread (log and residents, batched)": max(0.0, total * 1000 / count - in_thread)}
    out = {k: round(v, 2) for k, v in out.items()}
    out["total"] = round(sum(out.values()), 2)
    return out


def channel_client_body(model: Any) -> Any:
    """What the SDK's client sends for a request model: its sanitize_for_serialization."""
    from linebot.v3.messaging import ApiClient

    return ApiClient.sanitize_for_serialization(ApiClient.__new__(ApiClient), model)


def _engine_seconds(desk: Any) -> float:
    return desk.metrics.registry.get_sample_value("tsunagu_engine_cpu_seconds_total") or 0.0


# -- everything -----------------------------------------------------------------------------------


def run(quick: bool = False, workers: int = 2, database_url: str | None = None, rate: float = 1000.0,
        parts: tuple[str, ...] = ("routing", "reload", "event", "webhook"), echo: Any = print,
        reload_sizes: tuple[int, ...] = ()) -> dict[str, Any]:
    from bot.bench import routing, webhook

    plan = QUICK if quick else FULL
    given = sys.argv[2:] if sys.argv[1:2] == ["bench"] else []
    result: dict[str, Any] = {"machine": machine(), "quick": quick,
                              "command": " ".join(["bot bench", *(shlex.quote(a) for a in given)])}
    started = time.monotonic()
    cases = routing.case_texts()
    texts = [t for t, _ in routing.variants(cases)]
    crisis_texts = [t for t, expect in routing.variants(cases) if set(expect) & set(CRISIS_IDS)]
    if "routing" in parts:
        echo("… routing", file=sys.stderr)
        original = routing.case_texts
        if quick:  # a tenth of the cases: the tables, not the figures
            routing.case_texts = lambda: cases[::10]
        try:
            result["routing"] = routing.run(sizes=plan["sizes"], brute_sample=plan["brute"])
        except Exception as e:  # noqa: BLE001  (report what broke, measure the rest)
            result["routing"] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            routing.case_texts = original
    if "reload" in parts or "event" in parts:
        from bot.engine.snapshot import load_engine

        engine = load_engine()
        if "reload" in parts:
            result["reload"] = []
            for size in reload_sizes or plan["reload"]:
                echo(f"… catalogue reload, {size} entries", file=sys.stderr)
                result["reload"].append(reload_while_routing(engine, texts, size))
        if "event" in parts:
            echo("… one event, stage by stage", file=sys.stderr)
            result["event"] = per_event(engine, texts, 50 if quick else 300)
    if "webhook" in parts:
        echo(f"… webhook, {workers} workers", file=sys.stderr)
        from bot.engine.snapshot import load_engine

        first_look = load_engine().urgent
        result["webhook"] = webhook.run(texts, workers=workers, database_url=database_url, rate=rate,
                                        burst=plan["burst"], seconds=plan["seconds"], quick=quick,
                                        crisis_texts=crisis_texts, flood=plan["flood"], overload=plan["overload"],
                                        first_look=first_look)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def report(result: dict[str, Any]) -> str:
    from bot.bench import routing, webhook

    parts = []
    if "routing" in result:
        r = result["routing"]
        parts.append(f"Routing: not measured: {r['error']}" if "error" in r else routing.table(r))
    if "reload" in result:
        rows = result["reload"] if isinstance(result["reload"], list) else [result["reload"]]
        lines = ["Catalogue reload (Engine.reload() of a new file while another thread routes; route() ms)",
                 f"{'entries':>8} {'reload s':>9} {'s/1k':>6} {'routes':>7} {'p50':>6} {'p99':>7} {'max':>7}"
                 f"  {'idle p50':>8} {'idle p99':>8}  parsed in"]
        for r in rows:
            lines.append(
                f"{r['entries']:>8} {r['seconds']:>9} {r['seconds_per_1k']:>6} {r['routes_during']:>7} "
                f"{r['routes_during_p50_ms']!s:>6} {r['routes_during_p99_ms']!s:>7} {r['routes_during_max_ms']!s:>7}"
                f"  {r['routes_before_p50_ms']!s:>8} {r['routes_before_p99_ms']!s:>8}  {r.get('parsed_in', '')}")
        parts.append("\n".join(lines))
    if "event" in result:
        e = result["event"]
        if "error" in e:
            parts.append(f"One event, stage by stage: {e['error']}")
        else:
            parts.append("One event, stage by stage (CPU ms in one thread)\n" +
                         "\n".join(f"{k:<36} {v:>7.2f}" for k, v in e.items()))
    if "webhook" in result:
        parts.append(webhook.table(result["webhook"]))
    m = result["machine"]
    parts.append(f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, "
                 f"load average at start {m['load_average_at_start']}; bench took {result['seconds']} s")
    return "\n\n".join(parts)


def write_markdown(result: dict[str, Any], path: Path = RESULTS) -> None:
    m = result["machine"]
    text = (f"# Benchmark results\n\nMeasured {datetime.now().strftime('%Y-%m-%d %H:%M')} with "
            f"`{result['command']}` on {m['system']}: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
            f"Python {m['python']}; load average at start {m['load_average_at_start']}.\n"
            "To reproduce: `make bench`, or `.venv/bin/bot bench` (`--workers N`, `--database-url URL`, "
            "`--json`; `bot bench --help`); against PostgreSQL: `eval \"$(.ci/postgres start --durable)\"` "
            "then `bot bench --database-url \"$TEST_POSTGRES_URL\"`.\n\n"
            "```\n" + report(result) + "\n```\n\nRaw figures:\n\n```json\n"
            + json.dumps(result, ensure_ascii=False, indent=1) + "\n```\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def cmd_bench(args: Any) -> int:
    parts = tuple(p for p in ("routing", "reload", "event", "webhook") if p not in (args.skip or "").split(","))
    sizes = tuple(int(n) for n in (args.reload_sizes or "").split(",") if n.strip())
    result = run(quick=args.quick, workers=args.workers, database_url=args.database_url, rate=args.rate,
                 parts=parts, reload_sizes=sizes)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else report(result))
    if args.out != "-":
        write_markdown(result, Path(args.out) if args.out else (RESULTS if not args.quick else Path(os.devnull)))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure routing, reload, webhook events/s, start time and memory (< 5 min)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds (what the tests run)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="bot serve --workers for the webhook part (default: one per core)")
    p.add_argument("--database-url", help="the server's database (default: a new SQLite file)")
    p.add_argument("--rate", type=float, default=1000.0, help="the steady rate to try, events/s (default 1000)")
    p.add_argument("--skip", help="parts to leave out, comma-separated: routing,reload,event,webhook")
    p.add_argument("--reload-sizes", help="catalogue sizes for the reload part, comma-separated "
                   "(default 1000,10000,30000; --quick: 260); e.g. --skip routing,event,webhook --reload-sizes 30000")
    p.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    p.add_argument("--out", help="markdown file for the results (default bench/results.md; --quick: none; - for none)")
    p.set_defaults(func=cmd_bench)
