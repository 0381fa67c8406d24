"""Webhook, start-up and memory benchmark: `bot serve` as operators run it, under a burst.

    load generator (this process, raw HTTP/1.1 keep-alive, signed LINE text events, open loop)
      --POST /webhooks/line--> bot serve --workers N (its own processes)
      --reply API-->           fake LINE (bot.fakes.line, its own process): records each reply's arrival

    latency = the reply's arrival at the fake - the moment the event was due to be sent
    lost    = events never answered;  duplicated = replies past the first to one webhookEventId
              (2% of events are redelivered, as LINE does, with a new reply token: a second
              reply to any of them counts as a duplicate)

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
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.fakes.line import FakeLine, sign

SECRET, TOKEN = "bench-secret", "bench-token"
REDELIVER_EVERY = 50  # one event in 50 is delivered again, a little later
REDELIVER_AFTER = 25  # ... this many events later (so often while the first is still being answered)
DRAIN_SECONDS = 30.0  # the longest wait for replies after the last event was sent
RESIDENTS = 20_000  # senders drawn from this many: a burst comes from many people (no rate limit in the way)


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
        calls = line.recorder.calls("reply", ok=True)  # delivered: a reply LINE refused reached nobody
        return JSONResponse([[c.params.get("replyToken"), c.at] for c in calls])

    async def reset(request: Any) -> JSONResponse:
        line.reset()
        return JSONResponse({})

    return Starlette(routes=[Route("/bench/replies", replies), Route("/bench/reset", reset, methods=["POST"]),
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
               LINE_API_BASE=line_api_base or f"{fake_url}/line", TSUNAGU_HASH_KEY="bench-hash-key")
    env.pop("WEB_CONCURRENCY", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as deployed: compiled modules are kept, not compiled each start
    if cache_dir is not None:
        env["TSUNAGU_CACHE_DIR"] = str(cache_dir)
    log = workdir / f"serve-{port}.log"
    with open(log, "w") as out:
        started = time.monotonic()
        process = subprocess.Popen([*bot_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", str(workers)], env=env, cwd=workdir, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield Served(url, process, time.monotonic() - started, log)
    finally:
        stop(process)


# -- CPU and memory -----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def memory(pid: int) -> dict[str, float]:
    """RSS and PSS of a process, and of Sudachi's mapped dictionary and library within them, in MB."""
    out = {"rss": 0.0, "pss": 0.0, "sudachi_rss": 0.0, "sudachi_pss": 0.0}
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
    request: bytes
    redelivery: bool = False


@dataclass
class Phase:
    name: str
    offered_rate: float | None  # events/s; None: as fast as the connections allow
    events: int = 0
    redeliveries: int = 0
    seconds: float = 0.0
    replied: int = 0
    events_per_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    lost: int = 0
    duplicated: int = 0
    http_errors: int = 0
    cpu_ms_per_event: dict[str, float] = field(default_factory=dict)  # server, fake, load generator
    notes: list[str] = field(default_factory=list)


def build_events(texts: list[str], count: int, port: int, seed: int, prefix: str) -> list[Event]:
    """`count` signed text events from as many residents (at most RESIDENTS, so rate limits stay out of
    the way, as in a real burst); every REDELIVER_EVERY-th event is delivered again a little later,
    as LINE redelivers: the same event and webhookEventId, a new reply token."""
    rng = random.Random(seed)
    line = FakeLine(secret=SECRET, token=TOKEN)
    run = os.urandom(4).hex()  # a database kept between runs has seen the ids of the last run
    out: list[Event] = []
    later: dict[int, list[Event]] = {}
    for n in range(count):
        event_id, text, user = f"01BENCH{run}{prefix}{n:011d}", rng.choice(texts), f"U{rng.randrange(RESIDENTS):032x}"
        out.append(_event(line, text, user, event_id, f"{prefix}-{n}", False, port))
        if n % REDELIVER_EVERY == 0:
            again = _event(line, text, user, event_id, f"{prefix}-{n}-again", True, port)
            later.setdefault(min(count - 1, n + REDELIVER_AFTER), []).append(again)
        out += later.pop(n, [])
    return out


def _event(line: FakeLine, text: str, user: str, event_id: str, token: str, redelivery: bool, port: int) -> Event:
    event = line.text(text, user, event_id=event_id, redelivery=redelivery)
    event["replyToken"] = token
    body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
    head = (f"POST /webhooks/line HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Line-Signature: {sign(body, SECRET)}\r\nContent-Length: {len(body)}\r\n\r\n")
    return Event(event_id, token, head.encode() + body, redelivery)


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


def replies(fake_url: str) -> list[tuple[str, float]]:
    return [(t, at) for t, at in httpx.get(f"{fake_url}/bench/replies", timeout=30).json()]


def wait_replies(fake_url: str, expected: int, timeout: float = DRAIN_SECONDS) -> list[tuple[str, float]]:
    """Replies once `expected` arrived (and a moment for duplicates), or `timeout` s after the last
    event was sent, or when, once replies had begun, none came for 10 s."""
    deadline = time.monotonic() + timeout
    last, last_change = 0, time.monotonic()
    while True:
        got = replies(fake_url)
        if len(got) != last:
            last, last_change = len(got), time.monotonic()
        if len(got) >= expected:
            time.sleep(0.5)  # a duplicate would arrive about now
            return replies(fake_url)
        if time.monotonic() > deadline or (got and time.monotonic() - last_change > 10):
            return got
        time.sleep(0.1)


def run_phase(name: str, served: Served, fake: Fake, events: list[Event], rate: float | None,
              connections: int = 64, max_seconds: float = 30.0) -> Phase:
    httpx.post(f"{fake.url}/bench/reset", timeout=10)
    port = int(served.url.rsplit(":", 1)[1])
    pids = {"server": served.pids(), "fake": [fake.pid]}
    cpu_before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    load_before = time.process_time()
    deadline = time.monotonic() + max_seconds
    try:
        import uvloop

        due, errors = uvloop.run(send_all(port, events, rate, connections, deadline))
    except ImportError:
        due, errors = asyncio.run(send_all(port, events, rate, connections, deadline))
    load_cpu = time.process_time() - load_before  # sending only: not the polling for replies below
    sent = [e for e in events if e.token in due]
    originals = [e for e in sent if not e.redelivery]
    got = wait_replies(fake.url, len(originals))
    cpu = {k: sum(cpu_seconds(p) for p in v) - cpu_before[k] for k, v in pids.items()}
    cpu["load"] = load_cpu
    by_token = {e.token: e for e in sent}
    per_event: dict[str, int] = {}
    latencies, arrivals = [], []
    for token, at in got:
        event = by_token.get(token)
        if event is None:
            continue
        per_event[event.event_id] = per_event.get(event.event_id, 0) + 1
        if not event.redelivery:
            latencies.append((at - due[token]) * 1000)
            arrivals.append(at)
    phase = Phase(name, rate, events=len(originals), redeliveries=len(sent) - len(originals), http_errors=errors)
    phase.lost = sum(1 for e in originals if per_event.get(e.event_id, 0) == 0)
    phase.duplicated = sum(n - 1 for n in per_event.values() if n > 1)
    phase.replied = len(latencies)
    if arrivals:
        phase.seconds = round(max(arrivals) - min(due.values()), 3)
        phase.events_per_s = round(len(arrivals) / phase.seconds, 1) if phase.seconds > 0 else 0.0
        phase.p50_ms = round(percentile(latencies, 0.50), 1)
        phase.p99_ms = round(percentile(latencies, 0.99), 1)
        phase.max_ms = round(max(latencies), 1)
    if sent:
        phase.cpu_ms_per_event = {k: round(v * 1000 / len(sent), 2) for k, v in cpu.items()}
    if len(sent) < len(events):
        phase.notes.append(f"stopped sending after {max_seconds:.0f} s: {len(sent)} of {len(events)} sent")
    if phase.lost:
        phase.notes.append(f"{phase.lost} events had no reply by the end of the wait ({DRAIN_SECONDS:.0f} s at most "
                           "after the last was sent)")
    return phase


# -- the whole webhook benchmark ------------------------------------------------------------------


def run(texts: list[str], workers: int = 2, database_url: str | None = None, rate: float = 1000.0,
        burst: int = 6000, seconds: float = 10.0, quick: bool = False) -> dict[str, Any]:
    """Start time (without and with the engine snapshot) and memory per worker; then the events:

    a burst as fast as 64 connections send (sized to about `seconds` of the capacity a first
    short burst showed, at most `burst`), then a steady `rate` for `seconds`, or 80% of the
    capacity when the burst showed less than `rate`: latency is only meaningful below capacity.
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
                result.update(_load(served, fake, texts, rate, burst, seconds, quick))
    return result


def _load(served: Served, fake: Fake, texts: list[str], rate: float, burst: int, seconds: float,
          quick: bool) -> dict[str, Any]:
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
    pids = served.pids()
    if len(pids) > 1:
        memory_mb = {"supervisor": memory(pids[0]), **{f"worker {i}": memory(p) for i, p in enumerate(pids[1:], 1)}}
    else:
        memory_mb = {"worker 1": memory(pids[0])}
    return {"phases": [p.__dict__ for p in phases], "memory": memory_mb, "capacity_events_per_s": capacity}


def table(result: dict[str, Any]) -> str:
    w = result["workers"]
    lines = [f"Webhook (signed LINE text events -> bot serve --workers {w}, {result['database']} -> fake LINE reply API)",
             f"{'phase':<14} {'events':>7} {'redeliv':>7} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'max ms':>8} {'lost':>5} {'dup':>4} {'http err':>8}  CPU ms/event: server fake load"]
    for p in result["phases"]:
        lines.append(f"{p['name']:<14} {p['events']:>7} {p['redeliveries']:>7} {p['events_per_s']:>9.1f} "
                     f"{p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f} {p['max_ms']:>8.1f} {p['lost']:>5} "
                     f"{p['duplicated']:>4} {p['http_errors']:>8}  "
                     + " ".join(f"{p['cpu_ms_per_event'].get(k, 0):>6.2f}" for k in ("server", "fake", "load")))
        lines += [f"  note: {n}" for n in p["notes"]]
    lines.append("")
    lines.append("Start and memory")
    lines.append("start to /healthz 200: " + ", ".join(f"{s['seconds']:.2f} s ({s['run']})" for s in result["start"]))
    lines.append(f"{'process':<12} {'RSS MB':>8} {'PSS MB':>8} {'Sudachi RSS':>12} {'Sudachi PSS':>12}")
    for name, m in result["memory"].items():
        lines.append(f"{name:<12} {m['rss']:>8.1f} {m['pss']:>8.1f} {m['sudachi_rss']:>12.1f} {m['sudachi_pss']:>12.1f}")
    return "\n".join(lines)
