"""Routing benchmark: p50/p99 of route() over catalogue sizes, against a brute-force scan.

    cases (referral files + generated variants)
      x catalogues of ~1k, 10k, 30k entries (local entries spread over all municipalities)
      -> indexed matcher vs brute force (every phrase scanned with rapidfuzz), same answers

Generated catalogues live only in memory: they are never shipped.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import resource
import statistics
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bot.engine import Engine
from bot.engine.catalogue.model import Catalogue, Service
from bot.engine.evaluation import load_cases
from bot.engine.understand.matcher import Matcher
from bot.types import ResidentContext

ROOT = Path(__file__).resolve().parents[2]  # the repository (bot/bench/...)
VARIANT_NOISE = ("", "😢", "　", "…", "！！")


def case_texts() -> list[tuple[str, list[str]]]:
    files = sorted((ROOT / "tests" / "referrals").glob("*.yaml"))
    shared = ROOT.parent / "shared" / "referrals" / "dev.yaml"
    if shared.exists():
        files.append(shared)
    out = []
    for f in files:
        out += [(c.text, c.expect) for c in load_cases(f)]
    return out


def variants(cases: list[tuple[str, list[str]]], seed: int = 7) -> list[tuple[str, list[str]]]:
    """Each case, plus copies with emoji, full-width spaces and a place name, as residents vary them."""
    rng = random.Random(seed)
    out = list(cases)
    for text, expect in cases:
        out.append((rng.choice(VARIANT_NOISE) + text + rng.choice(VARIANT_NOISE), expect))
        out.append(("浜松市に住んでいます。" + text, expect))
    return out


def grow(catalogue: Catalogue, engine: Engine, size: int, seed: int = 1) -> Catalogue:
    """A catalogue of about `size` entries: local entries cloned over all municipalities."""
    rng = random.Random(seed)
    local = [s for s in catalogue.services if not s.national] or list(catalogue.services)
    codes = [c for c in engine.areas.places if len(c) == 6]
    services: list[Service] = list(catalogue.services)
    n = 0
    while len(services) < size:
        base = rng.choice(local)
        code = rng.choice(codes)
        services.append(dataclasses.replace(base, id=f"{base.id}_bench{n}", areas=(code,)))
        n += 1
    return Catalogue(tuple(services), f"<generated {size}>", f"bench{size}")


class _Everything:
    """An 'index' that returns every phrase for any key: the brute-force scan."""

    def __init__(self, items, pairs=False):
        self.items = [(p, "exact") for p in items] if pairs else list(items)

    def get(self, key, default=()):
        return self.items


class BruteMatcher(Matcher):
    """The same matching rules with no index: every phrase is tried at every position."""

    def __init__(self, specs):
        super().__init__(specs)
        index = self.index
        index.by_first_lemma = index.by_lemma_pair = _Everything(index.phrases)
        index.by_first_bone = index.by_bone_pair = _Everything([p for p in index.phrases if len(p.skeleton) >= 2])
        kana = index.by_kana

        class _ScanKana:
            def get(self_inner, key, default=()):
                return [pair for pairs in kana.values() for pair in pairs if pair[0].surface == key or pair[0].reading == key]

            def __contains__(self_inner, key):
                return bool(self_inner.get(key))

        index.by_kana = _ScanKana()
        every = set(range(len(index.phrases)))
        index.fuzzy_grams = _AllGrams(every)
        index.gapped_needs = [frozenset()] * len(index.gapped)  # every gapped phrase scanned for


class _AllGrams(dict):
    def __init__(self, every):
        super().__init__()
        self.every = every

    def get(self, key, default=()):
        return self.every


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def time_routes(engine: Engine, texts: list[str], repeat: int = 1, cpu: list[float] | None = None) -> list[float]:
    """Milliseconds per route(), wall clock; `cpu` gets this thread's CPU time for each, which a busy
    machine does not stretch (a route that waits for a core is slow on the clock, not in the code)."""
    ctx = ResidentContext(area="221309")
    from datetime import datetime

    from bot.engine.catalogue.hours import TOKYO

    now = datetime(2026, 12, 2, 12, 0, tzinfo=TOKYO)
    times = []
    for _ in range(repeat):
        for t in texts:
            start, start_cpu = time.perf_counter(), time.thread_time()
            engine.route(t, ctx, now)
            times.append((time.perf_counter() - start) * 1000)
            if cpu is not None:
                cpu.append((time.thread_time() - start_cpu) * 1000)
    return times


def accuracy(matcher: Matcher, cases) -> float:
    good = sum(1 for text, expect in cases if (matcher.match(text).intents[0].id in expect))
    return good / len(cases)


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(sizes=(1000, 10000, 30000), brute_sample: int = 150) -> dict:
    before = rss_mb()
    from bot.engine.understand.tokens import _tokenizer

    _tokenizer()
    sudachi = rss_mb() - before
    engine = Engine.load()
    loaded = rss_mb()
    cases = variants(case_texts())
    texts = [t for t, _ in cases]
    # Cold caches would measure Sudachi's first calls, not routing: warm once, and
    # clear the token caches so each timed call cleans and tokenizes for real.
    from bot.engine.understand.tokens import clear_caches
    from bot.service.workers import freeze

    base = engine.catalogue
    rows = []
    for size in sizes:
        gc.unfreeze()  # the last size's catalogue may go
        engine.catalogue = grow(base, engine, size)
        time_routes(engine, texts[:50])
        clear_caches()
        freeze()  # as `bot serve` does once the engine is loaded: the collector leaves it alone
        cpu: list[float] = []
        times = time_routes(engine, texts, cpu=cpu)
        rows.append({"size": len(engine.catalogue.services), "p50_ms": round(percentile(times, 0.5), 3),
                     "p99_ms": round(percentile(times, 0.99), 3), "cpu_p99_ms": round(percentile(cpu, 0.99), 3),
                     "messages": len(times)})
    engine.catalogue = base
    gc.unfreeze()

    sample = cases[:: max(1, len(cases) // brute_sample)][:brute_sample]
    brute = BruteMatcher(engine.intents)
    indexed_times, brute_times = [], []
    for text, _ in sample:
        clear_caches()
        s = time.perf_counter()
        engine.matcher.match(text)
        indexed_times.append((time.perf_counter() - s) * 1000)
        clear_caches()
        s = time.perf_counter()
        brute.match(text)
        brute_times.append((time.perf_counter() - s) * 1000)
    same = sum(1 for text, _ in sample if engine.matcher.match(text).intents == brute.match(text).intents)
    result = {
        "routing": rows,
        "brute_force": {
            "messages": len(sample),
            "indexed_p50_ms": round(percentile(indexed_times, 0.5), 3),
            "brute_p50_ms": round(percentile(brute_times, 0.5), 3),
            "ratio": round(statistics.mean(brute_times) / statistics.mean(indexed_times), 1),
            "indexed_top1": round(accuracy(engine.matcher, sample), 3),
            "brute_top1": round(accuracy(brute, sample), 3),
            "identical_answers": f"{same}/{len(sample)}",
        },
        "memory_mb": {"sudachi": round(sudachi, 1), "engine_loaded": round(loaded, 1)},
    }
    result["reload_30k"] = reload_under_load(engine, base, texts)
    return result


@contextmanager
def routing_in_background(engine, texts: list[str]):
    """Route `texts` round and round in another thread; yields the list of times (ms) it fills."""
    stop = threading.Event()
    times: list[float] = []

    def routes() -> None:
        i = 0
        while not stop.is_set():
            s = time.perf_counter()
            engine.route(texts[i % len(texts)])
            times.append((time.perf_counter() - s) * 1000)
            i += 1

    thread = threading.Thread(target=routes)
    thread.start()
    try:
        yield times
    finally:
        stop.set()
        thread.join()


def reload_under_load(engine: Engine, base: Catalogue, texts: list[str]) -> dict:
    """Swap in a 30k catalogue while another thread routes: no reply waits for the swap."""
    big = grow(base, engine, 30000, seed=3)
    with routing_in_background(engine, texts) as times:
        time.sleep(0.2)
        s = time.perf_counter()
        rebuilt = Catalogue(big.services, big.path, "reloaded")  # the indexing a reload does
        engine.catalogue = rebuilt
        swap_ms = (time.perf_counter() - s) * 1000
        time.sleep(0.2)
    engine.catalogue = base
    return {"index_build_ms": round(swap_ms, 1), "routes_during": len(times),
            "max_route_ms_during": round(max(times), 2) if times else None}


def table(result: dict) -> str:
    lines = ["Routing (route() per message, readings included)",
             f"{'catalogue':>10} {'p50 ms':>8} {'p99 ms':>8} {'p99 CPU':>8} {'messages':>9}"]
    for r in result["routing"]:
        lines.append(f"{r['size']:>10} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r.get('cpu_p99_ms', float('nan')):>8.3f}"
                     f" {r['messages']:>9}")
    b = result["brute_force"]
    lines.append(f"matcher: indexed p50 {b['indexed_p50_ms']} ms, brute force p50 {b['brute_p50_ms']} ms, "
                 f"{b['ratio']}x faster; top-1 {b['indexed_top1']} vs {b['brute_top1']}; "
                 f"identical answers {b['identical_answers']}")
    m = result["memory_mb"]
    lines.append(f"memory: Sudachi dictionary {m['sudachi']} MB, engine loaded {m['engine_loaded']} MB RSS")
    r = result["reload_30k"]
    lines.append(f"reload at 30k: index built in {r['index_build_ms']} ms while routing; "
                 f"{r['routes_during']} routes during, slowest {r['max_route_ms_during']} ms")
    return "\n".join(lines)
